"""`glyph export`: a bundle or page stream -> sharded Parquet / HF / WebDataset / PNG folders."""

from __future__ import annotations

import os
from typing import Iterable

from glyph_cli.errors import UsageError
from glyph_cli.export.formats import FORMATS
from glyph_cli.export.rows import page_rows
from glyph_cli.export.shards import ExportResult, ShardedWriter
from glyph_cli.shards import input_identity


def export_documents(documents: Iterable[tuple[dict, list[dict]]], directory: str | os.PathLike, to: str, *,
                     params: dict | None = None, shard_rows: int = 1000, overwrite: bool = False,
                     resumable: bool = True) -> ExportResult:
    """(doc record, pages) per document -> shards of page rows in `directory`, in format `to`."""
    if to not in FORMATS:
        raise UsageError(f"unknown export format {to!r}", f"one of {', '.join(FORMATS)}")
    writer = ShardedWriter(directory, FORMATS[to], params or {}, shard_rows=shard_rows, overwrite=overwrite,
                           resumable=resumable)
    return writer.write(page_rows(documents))


def export_inputs(paths: list[str], directory: str | os.PathLike, to: str, *, shard_rows: int = 1000,
                  overwrite: bool = False) -> ExportResult:
    """Bundles or page streams (`-`: stdin) -> an export directory."""
    from glyph_cli.inputs import iter_inputs

    identity = input_identity(paths)
    return export_documents(iter_inputs(paths), directory, to, params={"inputs": identity}, shard_rows=shard_rows,
                            overwrite=overwrite, resumable=identity is not None)
