"""glyph export: a bundle or page stream -> Parquet, Hugging Face datasets, WebDataset or PNG shards."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from glyph_cli import log
from glyph_cli.commands import options as opt


class ExportFormat(str, Enum):
    parquet = "parquet"
    hf = "hf"
    webdataset = "webdataset"
    png = "png"


def export(
    inputs: List[str] = typer.Argument(..., help="Bundles (.glyph) or page streams, then the output DIR last; '-' reads stdin."),
    to: Optional[ExportFormat] = typer.Option(None, "--to", help="parquet (image = PNG bytes), hf (Parquet with a datasets Image column), webdataset (tar shards of .png/.json/.txt) or png (folders of PNG files)."),
    to_old: Optional[ExportFormat] = opt.deprecated("-t"),
    shard_pages: int = typer.Option(1000, "--shard-pages", min=1, help="Pages per shard."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start over in a DIR that holds an export made with other parameters."),
) -> None:
    """Export pages to the formats training stacks read, as zero-padded shards in DIR.

    One row per page: doc id, page index, character span, the page's text, size, visual tokens per
    VLM family, checksums, config hash and the PNG. Shards appear whole (temporary name, then rename);
    DIR/_manifest.json records the parameters and finished shards, DIR/_SUCCESS is written last.
    A rerun with the same input and parameters skips finished shards. A summary goes to stderr.

    Examples:

      glyph export docs.glyph --to hf data/

      glyph render docs.jsonl | glyph export - --to webdataset shards/
    """
    from glyph_cli.errors import UsageError
    from glyph_cli.export.run import export_inputs

    to = opt.renamed(to, to_old, "--to", "-t", why="-t is the task flag of bench tasks and train data")
    if to is None:
        raise UsageError("give the format with --to (parquet, hf, webdataset or png)")
    if len(inputs) < 2:
        raise UsageError("give the input (a bundle, a page stream or '-') and then the output DIR")
    *sources, directory = inputs
    result = export_inputs(sources, Path(directory), to.value, shard_rows=shard_pages, overwrite=overwrite)
    skipped = f" ({result.skipped} finished earlier, skipped)" if result.skipped else ""
    log.info(f"exported {result.rows} page(s) as {to.value} into {directory}: {result.shards} shard(s){skipped}, "
             f"{result.bytes} bytes")
