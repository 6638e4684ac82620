"""The training set on disk: Parquet shards a `datasets` loader reads, a manifest, a marker.

Layout of OUT/: `part-00000.parquet`, ... (each at most `shard_size` examples), `manifest.json`
(sources, tasks, seed, the render configs used, counts, versions), and the export stage's
`_manifest.json` and `_SUCCESS`: the shards, their temporary names and the completion marker are
glyph_cli.export.shards' ShardedWriter's (one mechanism for both), with the training columns as its
row encoder; `manifest.json` is written after the last shard and before `_SUCCESS`. The set is built
in `OUT.partial/` and renamed into place, so a run that dies leaves no directory that looks whole.
Each shard carries `datasets` feature metadata: `load_dataset("parquet", data_files=...)` gives
`images` as a list of PIL images.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Iterable

import orjson

from glyph_cli import __version__
from glyph_cli.errors import GlyphError, UsageError
from glyph_cli.export.shards import SUCCESS, ExportResult, ShardedWriter, ShardFormat

MARKER = SUCCESS
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
ROW_GROUP = 16  # examples held in memory per Parquet row group (an example may carry many page images)


def features():
    from datasets import Features, Image, List, Value

    return Features({
        "id": Value("string"), "task": Value("string"), "doc": Value("string"),
        "parts": Value("string"),  # JSON: [{"kind": "image"|"text", "value": ...}]
        "images": List(Image()), "target": Value("string"),
        "config_sha256": Value("string"), "meta": Value("string"),  # JSON
    })


def _row(ex: dict) -> dict:
    return {"id": ex["id"], "task": ex["task"], "doc": ex["doc"], "parts": orjson.dumps(ex["parts"]).decode(),
            "images": [{"bytes": b, "path": None} for b in ex["images"]], "target": ex["target"],
            "config_sha256": ex.get("config_sha256"), "meta": orjson.dumps(ex.get("meta") or {}).decode()}


def train_format() -> ShardFormat:
    """The training examples as a ShardFormat: Parquet with the `datasets` features of `features()`."""
    from glyph_cli.export.formats import ParquetShard

    feats = features()
    schema = feats.arrow_schema
    return ShardFormat("train-parquet", ".parquet", lambda p: ParquetShard(
        p, schema=schema, encode=lambda ex: feats.encode_example(_row(ex)), row_group=ROW_GROUP))


def write_dataset(examples: Iterable[dict], out: str | Path, manifest: dict, *, shard_size: int = 256,
                  overwrite: bool = False, on_example=None, finish=None) -> Path:
    """Write `examples`; `finish()`, called after the last one, adds to the manifest (counts known by then)."""
    if shard_size < 1:
        raise UsageError("--shard-size must be at least 1")
    out = Path(out)
    if out.exists() and not overwrite:
        raise UsageError(f"{out}: already exists", "choose another --output or pass --overwrite")
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)

    def counted() -> Iterable[dict]:
        for ex in examples:
            yield ex
            if on_example:
                on_example(ex)

    def write_manifest(result: ExportResult) -> None:
        if not result.rows:
            raise GlyphError("no training examples were made", "check the inputs and --task")
        body = {"v": MANIFEST_VERSION, "format": "parquet", "shards": result.names, "examples": result.rows,
                **manifest, **(finish() if finish else {}), "versions": _versions()}
        (partial / MANIFEST).write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")

    try:
        # a fresh partial directory each run: nothing to resume, so no parameters to compare
        writer = ShardedWriter(partial, train_format(), {}, shard_rows=shard_size, overwrite=True, resumable=False)
        writer.write(counted(), on_complete=write_manifest)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    os.replace(partial, out)
    return out


def read_manifest(path: str | Path) -> dict:
    p = Path(path)
    if not (p / MARKER).is_file() or not (p / MANIFEST).is_file():
        raise UsageError(f"{p}: not a finished training set (no {MARKER} or {MANIFEST})",
                         "make one with glyph train data")
    return json.loads((p / MANIFEST).read_text())


def load_dataset(path: str | Path, cache_dir: str | Path | None = None):
    """The training set as a `datasets.Dataset` (memory-mapped; images decode when read)."""
    import datasets

    manifest = read_manifest(path)
    files = [str(Path(path) / s) for s in manifest["shards"]]
    return datasets.load_dataset("parquet", data_files=files, split="train",
                                 cache_dir=str(cache_dir) if cache_dir else None)


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"glyph": __version__}
    for pkg in ("datasets", "pyarrow"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out
