"""glyph render: documents (JSONL or plain text) -> typeset pages (a JSONL page stream)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from glyph_cli.commands import options as opt
from glyph_cli.errors import UsageError

_CFG = "Render config (each overrides --preset and --config)"


def _preset_default(key: str) -> str | bool:
    """The glyph preset's value of a style flag, shown as its default in --help."""
    from dataclasses import fields

    from glyph_cli.typeset.config import resolve_config

    cfg = resolve_config("glyph", None, {})
    value = getattr(cfg, key, None) if key in {f.name for f in fields(cfg)} else None
    if value is None:
        return False
    if isinstance(value, (tuple, list)):
        value = ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    elif isinstance(value, float):
        value = f"{value:g}"
    return f"glyph preset: {value}"


def _shard(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        k, n = (int(x) for x in value.split("/"))
    except ValueError:
        raise UsageError(f"--shard {value!r}: expected K/N, e.g. 0/4") from None
    if not (n >= 1 and 0 <= k < n):
        raise UsageError(f"--shard {value!r}: need 0 <= K < N")
    return k, n


def render(
    inputs: List[str] = typer.Argument(None, help="JSONL or text files; '-' or none reads stdin. .gz/.zst open by extension."),
    preset: str = typer.Option("glyph", "--preset", "-p", help="glyph (the released config_en.json, laid out as the released code does), glyph-marker (newlines as a red inline marker), dpi72, dpi96 or dpi120 (glyph at that dpi)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="JSON config file; the official Glyph repo's keys load unchanged."),
    sample: bool = typer.Option(False, "--sample", help="Render the embedded sample text instead of inputs."),
    out_dir: Optional[Path] = opt.out_dir("Write PNG files and index.jsonl into this directory instead of the stream on stdout."),
    out_old: Optional[Path] = opt.deprecated("--out", "-o"),
    print_config: bool = typer.Option(False, "--print-config", help="Print the resolved config as JSON and exit."),
    text_field: str = typer.Option("text", help="JSONL field holding the text."),
    id_field: str = typer.Option("id", help="JSONL field holding the document id."),
    input_format: opt.InputFormat = opt.INPUT_FORMAT,
    format_old: Optional[opt.InputFormat] = opt.deprecated("--format"),
    encoding: str = typer.Option("utf-8", "--encoding", help="Text encoding of the inputs (e.g. latin-1, cp1252)."),
    errors: str = typer.Option("strict", "--errors", help="strict: a byte that does not decode is an error; replace: it becomes U+FFFD."),
    max_line_mb: int = typer.Option(256, "--max-line-mb", min=1, help="Longest JSONL line read, MiB (bounds memory)."),
    max_text_mb: int = typer.Option(256, "--max-text-mb", min=1, help="Largest plain-text input file, MiB (bounds memory)."),
    max_decompressed_mb: int = typer.Option(65536, "--max-decompressed-mb", min=1, help="Most one .gz/.zst input may expand to, MiB."),
    on_error: opt.OnError = opt.ON_ERROR,
    tokenizer: str = typer.Option("qwen2.5", help="Text tokenizer for counts: qwen2.5 (offline) or a local Hugging Face tokenizer directory."),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Cores to use. At the glyph presets this process lays pages out and N-1 threads paint and encode them (it helps when they fall behind); in Pango's flow (glyph-marker, wrap=pango) N processes draw them. Output is the same for any value."),
    shard: Optional[str] = typer.Option(None, help="K/N: render only documents whose id hashes to shard K of N (0 <= K < N)."),
    shard_dir: Optional[Path] = typer.Option(None, "--shard-dir", help="Write shard bundles (shard-KKKKK-of-NNNNN.glyph, each then a .done.json marker) into this directory; a rerun skips shards finished with the same parameters. With --shard K/N or --shards N."),
    shards: Optional[int] = typer.Option(None, "--shards", min=1, help="With --shard-dir: render all N shards, one after another."),
    page_size: Optional[str] = typer.Option(None, rich_help_panel=_CFG, show_default=_preset_default("page_size"), help="A4, Letter, Legal, A5, B5, A3, B4, Tabloid or W,H in pt."),
    dpi: Optional[float] = typer.Option(None, rich_help_panel=_CFG, show_default=_preset_default("dpi"), help="Raster resolution (72 = Glyph's best trade-off)."),
    margin_x: Optional[float] = typer.Option(None, rich_help_panel=_CFG, show_default=_preset_default("margin_x"), help="Left/right margin, pt."),
    margin_y: Optional[float] = typer.Option(None, rich_help_panel=_CFG, show_default=_preset_default("margin_y"), help="Top/bottom margin, pt."),
    font: Optional[str] = typer.Option(None, rich_help_panel=_CFG, show_default=_preset_default("font"), help="Font family (fontconfig name)."),
    font_path: Optional[Path] = typer.Option(None, rich_help_panel=_CFG, help="Font file to use instead of a family."),
    font_cjk: Optional[str] = typer.Option(None, rich_help_panel=_CFG, show_default=_preset_default("font_cjk"), help="Fallback family for CJK."),
    font_size: Optional[float] = typer.Option(None, rich_help_panel=_CFG, show_default=_preset_default("font_size"), help="pt."),
    line_height: Optional[float] = typer.Option(None, rich_help_panel=_CFG, show_default=_preset_default("line_height"), help="pt, at least the font size."),
    align: Optional[str] = typer.Option(None, "--align", rich_help_panel=_CFG, show_default=_preset_default("align"), help="left, right, center or justify."),
    first_line_indent: Optional[float] = typer.Option(None, rich_help_panel=_CFG, show_default=_preset_default("first_line_indent"), help="pt; negative gives a hanging indent."),
    letter_spacing: Optional[float] = typer.Option(None, rich_help_panel=_CFG, show_default=_preset_default("letter_spacing"), help="Extra space between letters, pt."),
    hscale: Optional[float] = typer.Option(None, "--hscale", rich_help_panel=_CFG, show_default=_preset_default("hscale"), help="Horizontal scale of the text, 0.25-2."),
    theme: Optional[str] = typer.Option(None, rich_help_panel=_CFG, show_default=_preset_default("theme"), help="document, dark, code or web."),
    newline: Optional[str] = typer.Option(None, rich_help_panel=_CFG, show_default=_preset_default("newline"), help="break (real line breaks) or marker (an inline visible marker; selects Pango's flow)."),
    crop: Optional[bool] = typer.Option(None, "--crop/--no-crop", rich_help_panel=_CFG, show_default=_preset_default("crop"), help="Crop width to the ink and the last page to its last line."),
    bit_depth: Optional[int] = typer.Option(None, rich_help_panel=_CFG, show_default=_preset_default("bit_depth"), help="PNG bit depth: 8, 4, 2 or 1."),
    set_: List[str] = typer.Option(None, "--set", rich_help_panel=_CFG, help="KEY=VALUE for any config key (repeatable), e.g. --set tab_width=8."),
) -> int:
    """Typeset documents into page images.

    Writes a page stream on stdout: per document a `doc` record (id, metadata, text, resolved config,
    fonts with sha256, text tokens, pages) then one `page` record per page (its exact character span,
    pixel size, visual tokens, PNG as a data URL). A summary goes to stderr.

    Examples:

      glyph render docs.jsonl > pages.jsonl

      glyph render --preset dpi96 --align justify report.txt -d pages/

      zcat logs.jsonl.gz | glyph render --shard 0/4 -j 2 | glyph pack -o logs-0.glyph

      glyph render corpus.jsonl --shards 8 --shard-dir shards/   (rerun to resume)
    """
    import os

    # numpy's OpenBLAS would start a thread per CPU at import (~0.1 CPU-s at start-up); render does
    # no linear algebra
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from glyph_cli.typeset.config import resolve_config

    out = opt.renamed(out_dir, out_old, "-d/--out-dir", "-o/--out")
    input_format = opt.renamed(input_format, format_old, "--input-format", "--format", opt.InputFormat.auto)
    overrides = {
        "page_size": page_size, "dpi": dpi, "margin_x": margin_x, "margin_y": margin_y, "font": font,
        "font_path": str(font_path) if font_path else None, "font_cjk": font_cjk, "font_size": font_size,
        "line_height": line_height, "alignment": align, "first_line_indent": first_line_indent,
        "letter_spacing": letter_spacing, "horizontal_scale": hscale, "theme": theme, "newline": newline,
        "bit_depth": bit_depth,
    }
    if crop is not None:
        overrides["auto_crop_width"] = overrides["auto_crop_last_page"] = crop
    for item in set_ or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--set {item!r}: expected KEY=VALUE")
        overrides[key.strip()] = value
    cfg = resolve_config(preset, config, overrides)
    if print_config:
        import orjson

        sys.stdout.buffer.write(orjson.dumps(cfg.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")
        return
    from glyph_cli.streams import io as stream_io
    from glyph_cli.typeset.job import RenderJob, sample_path

    if (shards is not None or shard_dir is not None) and (shard_dir is None or (shards is None) == (shard is None)):
        raise UsageError("shard bundles need --shard-dir DIR and one of --shard K/N or --shards N")
    if shard_dir is not None and out is not None:
        raise UsageError("--shard-dir writes bundles; --out-dir writes PNG files: give one")
    stream_io.LIMITS.max_line_bytes = max_line_mb << 20
    stream_io.LIMITS.max_text_bytes = max_text_mb << 20
    stream_io.LIMITS.max_decompressed_bytes = max_decompressed_mb << 20

    if sample and inputs:
        raise UsageError("--sample renders the embedded sample; give no input files with it")
    job = RenderJob(
        cfg=cfg, inputs=[str(sample_path())] if sample else (inputs or ["-"]), input_format=input_format.value,
        text_field=text_field, id_field=id_field, on_error=on_error.value, tokenizer=tokenizer,
        workers=workers, shard=None if shard_dir else _shard(shard), out_dir=out, encoding=encoding,
        errors=errors,
    )
    if shard_dir is not None:
        from glyph_cli.shards import render_shards

        picked = _shard(shard)
        run = render_shards(job, shard_dir, shards or picked[1], None if picked is None else [picked[0]])
        return 1 if run.failed else 0
    job.run()
    return 0
