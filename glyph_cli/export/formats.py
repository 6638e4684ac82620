"""The export formats, each a ShardFile kind for the sharded writer.

- parquet: one row per page, the PNG bytes in a binary `image` column (pyarrow, DuckDB, polars);
- hf: Parquet whose `image` column is a Hugging Face `Image` feature (struct of bytes and path) and
  whose schema carries the `datasets` features, so `load_dataset("parquet", ...)` gives PIL images;
- webdataset: tar shards, per page `KEY.png` (the PNG bytes), `KEY.json` (the row less the image)
  and `KEY.txt` (the page's text); members in page order with fixed owners and times;
- png: a folder per shard, `DOCDIR/page-NNNNN.png` plus `index.jsonl`, as `glyph render --out` writes.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Callable

import orjson

from glyph_cli.export.shards import ShardFile, ShardFormat
from glyph_cli.tokens.visual import FAMILIES

ROW_GROUP = 64  # rows per Parquet row group: what one shard holds in memory (~2-4 MB at 72 dpi)


def _arrow_schema(hf: bool):
    import pyarrow as pa

    fields = [("doc", pa.string()), ("index", pa.int32()), ("span", pa.list_(pa.int64())), ("text", pa.string()),
              ("width", pa.int32()), ("height", pa.int32()), ("dpi", pa.float64()),
              ("visual_tokens", pa.struct([(f, pa.int64()) for f in FAMILIES])), ("sha256", pa.string()),
              ("config_sha256", pa.string())]
    if not hf:
        return pa.schema([*fields, ("image", pa.binary())], metadata={"glyph": "page rows, image = PNG bytes"})
    from datasets import Features, Image, List, Value

    features = Features({
        "doc": Value("string"), "index": Value("int32"), "span": List(Value("int64")), "text": Value("string"),
        "width": Value("int32"), "height": Value("int32"), "dpi": Value("float64"),
        "visual_tokens": {f: Value("int64") for f in FAMILIES}, "sha256": Value("string"),
        "config_sha256": Value("string"), "image": Image(),
    })
    return features.arrow_schema


class ParquetShard(ShardFile):
    """Rows into one Parquet file, `row_group` rows in memory at a time. `schema` and `encode` (row ->
    Arrow-ready dict) default to the page rows; the training set passes its own."""

    def __init__(self, path: Path, hf: bool = False, *, schema=None, encode: Callable[[dict], dict] | None = None,
                 row_group: int = ROW_GROUP):
        import pyarrow.parquet as pq

        self.schema = schema if schema is not None else _arrow_schema(hf)
        self.hf = hf
        self.encode = encode or self._page_row
        self.row_group = row_group
        self.writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")
        self.rows: list[dict] = []

    def _page_row(self, row: dict) -> dict:
        row = dict(row)
        row["visual_tokens"] = {f: row["visual_tokens"].get(f) for f in FAMILIES}
        if self.hf:
            row["image"] = {"bytes": row["image"], "path": None}
        return row

    def add(self, row: dict) -> None:
        self.rows.append(self.encode(row))
        if len(self.rows) >= self.row_group:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        self._flush()
        self.writer.close()


class TarShard(ShardFile):
    def __init__(self, path: Path):
        self.tar = tarfile.open(path, "w", format=tarfile.USTAR_FORMAT)
        self.n = 0

    def _member(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        self.tar.addfile(info, io.BytesIO(data))

    def add(self, row: dict) -> None:
        # WebDataset splits a member name at its first dot: the key is a plain counter, the ids go in the json
        key = f"{self.n:06d}"
        self.n += 1
        meta = {k: v for k, v in row.items() if k != "image"}
        self._member(f"{key}.png", row["image"])
        self._member(f"{key}.json", orjson.dumps(meta))
        self._member(f"{key}.txt", row["text"].encode("utf-8"))

    def close(self) -> None:
        self.tar.close()


class PngFolderShard(ShardFile):
    def __init__(self, path: Path):
        path.mkdir(parents=True)
        self.path = path
        self.index = open(path / "index.jsonl", "wb")
        self._folders: dict[str, str] = {}  # folder name under casefold and NFC -> the id that has it

    def add(self, row: dict) -> None:
        from glyph_cli.errors import GlyphError
        from glyph_cli.streams.outdir import doc_dirname, name_key

        folder = doc_dirname(row["doc"])
        other = self._folders.setdefault(name_key(folder), str(row["doc"]))
        if other != str(row["doc"]):  # only ids made to collide get here
            raise GlyphError(f"{self.path}: documents {other!r} and {row['doc']!r} would share the folder "
                             f"{folder!r} on a case-insensitive file system", "rename one of them")
        name = f"{folder}/page-{row['index']:05d}.png"
        (self.path / name).parent.mkdir(parents=True, exist_ok=True)
        (self.path / name).write_bytes(row["image"])
        meta = {k: v for k, v in row.items() if k != "image"}
        meta["file"] = name
        self.index.write(orjson.dumps(meta) + b"\n")

    def close(self) -> None:
        self.index.close()


FORMATS = {
    "parquet": ShardFormat("parquet", ".parquet", lambda p: ParquetShard(p, hf=False)),
    "hf": ShardFormat("hf", ".parquet", lambda p: ParquetShard(p, hf=True)),
    "webdataset": ShardFormat("webdataset", ".tar", TarShard),
    "png": ShardFormat("png", "", PngFolderShard),
}
