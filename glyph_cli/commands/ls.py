"""glyph ls: the documents in a page bundle, their pages, tokens, compression and bytes."""

from __future__ import annotations

import sys

import typer

from glyph_cli.commands import options as opt


def ls(
    bundle: str = typer.Argument("-", help="Bundle file; '-' or none reads stdin (scanned, slower)."),
    output_format: opt.OutputFormat = typer.Option(opt.OutputFormat.auto, "--format", help="table, jsonl, or auto: a table on a terminal, JSONL when piped."),
    family: str = typer.Option("glm4v", "--family", help="Visual-token family the table shows (glm4v, qwen2vl, qwen3vl, ...)."),
) -> None:
    """List a bundle's documents: pages, characters, text and visual tokens, compression ratio
    (text tokens / visual tokens), PNG bytes, and the bundle's size. Reads only the index at the
    end of the file, so it is fast on any size.

    JSONL output: one `doc` line per document (docs/BUNDLE.md, the index), then an `end` line
    with the totals and `bundle_bytes`.

    Examples:

      glyph ls docs.glyph

      glyph ls < docs.glyph

      glyph ls docs.glyph | jq -r 'select(.type == "doc") | .id'
    """
    from glyph_cli.bundle.listing import format_table, list_bundle
    from glyph_cli.inputs import refuse_non_bundle
    from glyph_cli.streams.io import dumps

    refuse_non_bundle(bundle)
    table = opt.output_format(output_format) == "table"
    lines = list_bundle(bundle)
    out = sys.stdout
    if table:
        for row in format_table(lines, family):
            out.write(row + "\n")
    else:
        for line in lines:
            if line.get("type") != "bundle":
                out.buffer.write(dumps(line))
    out.flush()
