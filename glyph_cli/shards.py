"""Resumable shard bundles: `glyph render --shard-dir DIR --shards N` (or `--shard K/N`).

Shard K of N holds the documents whose id hashes to K (typeset.job.in_shard, the same split as
`render --shard K/N` to stdout). Each is written as `DIR/shard-KKKKK-of-NNNNN.glyph` (temporary
name, renamed when whole) and then its marker `shard-KKKKK-of-NNNNN.done.json`, last, recording the
parameters (config hash, inputs, tokenizer, fields, pack options), the counts and the bundle's
size and sha256. A rerun skips a shard only when its marker's parameters equal this run's and the
bundle is the one recorded, and says so on stderr; otherwise the shard is rendered again.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from glyph_cli import __version__, log
from glyph_cli.errors import UsageError
from glyph_cli.streams.io import STDIO, AtomicFile, ensure_dir, write_bytes_atomic


def input_identity(paths: list[str]) -> list[dict] | None:
    """What a rerun compares to know the input is the same: path, size and mtime per file; None
    for stdin, which cannot be compared."""
    if not paths or STDIO in paths:
        return None
    identity = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError as exc:
            raise UsageError(f"{path}: {exc.strerror}") from None
        identity.append({"path": str(Path(path).resolve()), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns})
    return identity


def shard_stem(k: int, n: int) -> str:
    return f"shard-{k:05d}-of-{n:05d}"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class ShardRun:
    done: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: int = 0  # records skipped under --on-error skip
    docs: int = 0
    pages: int = 0


def _finished(directory: Path, stem: str, params: dict) -> dict | None:
    """The marker of a shard finished with these parameters, if its bundle is intact."""
    marker = directory / f"{stem}.done.json"
    bundle = directory / f"{stem}.glyph"
    if not marker.exists() or not bundle.exists():
        return None
    try:
        recorded = orjson.loads(marker.read_bytes())
    except orjson.JSONDecodeError:
        return None
    if recorded.get("params") != params or recorded.get("failed"):
        log.info(f"{marker}: recorded with other parameters; rendering shard again")
        return None
    if bundle.stat().st_size != recorded.get("bytes") or _sha256_file(bundle) != recorded.get("sha256"):
        log.info(f"{bundle}: not the bundle its marker records; rendering shard again")
        return None
    return recorded


def render_shards(job, directory: str | os.PathLike, n: int, shards: list[int] | None = None, *,
                  pack_options=None) -> ShardRun:
    """Render shards `shards` (default all) of `n` with RenderJob `job`'s config and inputs into
    bundles in `directory`, skipping those already finished with the same parameters."""
    from dataclasses import replace

    from glyph_cli.bundle.pack import Packer
    from glyph_cli.bundle.writer import BundleWriter, PackOptions

    if n < 1:
        raise UsageError(f"--shards must be at least 1, got {n}")
    shards = list(range(n)) if shards is None else shards
    identity = input_identity(job.inputs)
    if identity is None and len(shards) > 1:
        raise UsageError("rendering several shards reads the input once per shard; stdin can be read only once",
                         "save the input to a file, or render one shard with --shard K/N")
    if identity is None:
        log.info("input is stdin: a rerun cannot tell it is the same, so no shard is skipped")
    options = (pack_options or PackOptions()).check()
    directory = ensure_dir(directory)
    result = ShardRun()
    for k in shards:
        stem = shard_stem(k, n)
        params = {"shard": [k, n], "config_sha256": job.cfg.sha256(), "inputs": identity, "format": job.input_format,
                  "text_field": job.text_field, "id_field": job.id_field, "tokenizer": job.tokenizer,
                  "pack": options.recorded(), "glyph": __version__}
        recorded = identity is not None and _finished(directory, stem, params)
        if recorded:
            log.info(f"shard {k}/{n}: finished earlier with the same parameters ({recorded['docs']} docs, "
                     f"{recorded['pages']} pages in {stem}.glyph); skipping")
            result.skipped.append(k)
            continue
        (directory / f"{stem}.done.json").unlink(missing_ok=True)
        policy = log.ErrorPolicy(job.on_error)
        shard_job = replace(job, shard=(k, n))
        with AtomicFile(directory / f"{stem}.glyph") as fh:
            packer = Packer(BundleWriter(fh, options))
            packer.add_stream(0, ((rec, "render", i) for i, rec in enumerate(shard_job.records(policy), 1)))
            packed = packer.finish()
        bundle = directory / f"{stem}.glyph"
        marker = {"params": params, "docs": packed.docs, "pages": packed.pages, "failed": policy.failed,
                  "bytes": bundle.stat().st_size, "sha256": _sha256_file(bundle)}
        write_bytes_atomic(directory / f"{stem}.done.json", orjson.dumps(marker, option=orjson.OPT_INDENT_2) + b"\n")
        log.info(f"shard {k}/{n}: {packed.docs} docs, {packed.pages} pages -> {bundle}")
        result.done.append(k)
        result.failed += policy.failed
        result.docs += packed.docs
        result.pages += packed.pages
    return result
