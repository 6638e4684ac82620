"""The training set on disk: Parquet shards a `datasets` loader reads, a manifest, a marker.

Layout of OUT/: `data-00000.parquet`, ... (each at most `shard_size` examples, written
atomically), `manifest.json` (sources, tasks, seed, the render configs used, counts, versions)
and `_COMPLETE`, written last. The set is built in `OUT.partial/` and renamed into place, so a
run that dies leaves no directory that looks whole. Each shard carries `datasets` feature
metadata: `load_dataset("parquet", data_files=...)` gives `images` as a list of PIL images.

Only `ParquetWriter` exists for now; it is the one place that knows the file format, so another
writer (the export stage's) can take its place.
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

MARKER = "_COMPLETE"
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


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


class ParquetWriter:
    def __init__(self, out: str | Path, shard_size: int = 256, overwrite: bool = False):
        if shard_size < 1:
            raise UsageError("--shard-size must be at least 1")
        self.out = Path(out)
        if self.out.exists() and not overwrite:
            raise UsageError(f"{self.out}: already exists", "choose another --output or pass --overwrite")
        self.partial = self.out.with_name(self.out.name + ".partial")
        shutil.rmtree(self.partial, ignore_errors=True)
        self.partial.mkdir(parents=True)
        self.shard_size = shard_size
        self.shards: list[str] = []
        self.examples = 0
        self._buffer: list[dict] = []
        self._features = features()
        self._schema = self._features.arrow_schema

    def write(self, ex: dict) -> None:
        self._buffer.append(_row(ex))
        self.examples += 1
        if len(self._buffer) == self.shard_size:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._buffer:
            return
        name = f"data-{len(self.shards):05d}.parquet"
        table = pa.Table.from_pylist([self._features.encode_example(r) for r in self._buffer], schema=self._schema)
        tmp = self.partial / f".{name}.tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, self.partial / name)
        self.shards.append(name)
        self._buffer.clear()

    def close(self, manifest: dict) -> Path:
        self._flush()
        if not self.examples:
            shutil.rmtree(self.partial, ignore_errors=True)
            raise GlyphError("no training examples were made", "check the inputs and --task")
        body = {"v": MANIFEST_VERSION, "format": "parquet", "shards": self.shards, "examples": self.examples,
                **manifest, "versions": _versions()}
        (self.partial / MANIFEST).write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
        (self.partial / MARKER).write_text("")
        if self.out.exists():
            shutil.rmtree(self.out)
        os.replace(self.partial, self.out)
        return self.out

    def abort(self) -> None:
        shutil.rmtree(self.partial, ignore_errors=True)


def write_dataset(examples: Iterable[dict], out: str | Path, manifest: dict, *, shard_size: int = 256,
                  overwrite: bool = False, on_example=None, finish=None) -> Path:
    """Write `examples`; `finish()`, called after the last one, adds to the manifest (counts known by then)."""
    writer = ParquetWriter(out, shard_size, overwrite)
    try:
        for ex in examples:
            writer.write(ex)
            if on_example:
                on_example(ex)
    except BaseException:
        writer.abort()
        raise
    return writer.close({**manifest, **(finish() if finish else {})})


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
