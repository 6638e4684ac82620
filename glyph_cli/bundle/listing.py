"""`glyph ls`: what a bundle holds, from its index.

A bundle file ends with a footer that points at the frame holding the index, so listing reads
that one frame however big the bundle is. Without the footer (stdin, or a bundle cut short) the
bundle is scanned instead: every member header is read, the pages are skipped undecoded.
"""

from __future__ import annotations

from typing import IO, Iterator

from glyph_cli import log
from glyph_cli.bundle.format import DEFAULT_LIMITS, Limits
from glyph_cli.bundle.reader import BundleReader, DocEntry, PageEntry, read_index
from glyph_cli.bundle.unpack import open_bundle
from glyph_cli.errors import BundleError
from glyph_cli.records import index_doc_line
from glyph_cli.streams.io import STDIO, display_name


def _scan(fh: IO[bytes], source: str, limits: Limits) -> Iterator[dict]:
    """Index lines rebuilt from the members themselves (documents only, and the total).

    The scan goes past damage (a bundle cut short has no index): every intact document is listed
    with the totals, then a BundleError says what was missing and how to recover it.
    """
    reader = BundleReader(fh, source=source, limits=limits, pixels=False, salvage=True, texts=False)
    events = reader.events()
    totals = {"docs": 0, "pages": 0, "chars": 0, "text_tokens": 0, "visual_tokens": {}, "text_bytes": 0,
              "png_bytes": 0, "stored_bytes": 0}
    line = None
    announced = False
    for event in events:
        if not announced and reader.header is not None:
            announced = True
            yield {"type": "bundle", **reader.header}
        if isinstance(event, DocEntry):
            if line is not None:
                yield line
            line = index_doc_line(event.n, event.stored, text_bytes=event.text_bytes, png_bytes=0, stored_bytes=0)
            _add(totals, line)
        elif isinstance(event, PageEntry) and line is not None:
            line["png_bytes"] += event.record["image"]["bytes"]
            line["stored_bytes"] += event.stored_bytes
            totals["png_bytes"] += event.record["image"]["bytes"]
            totals["stored_bytes"] += event.stored_bytes
    if not announced and reader.header is not None:
        yield {"type": "bundle", **reader.header}
    if line is not None:
        yield line
    yield {"type": "end", **totals}
    if reader.damages:
        for damage in reader.damages[:-1]:
            log.warn(f"{source}: damaged: {damage.message}")
        raise BundleError(f"{source}: {reader.damages[-1].message}; listed the {reader.docs_read} intact "
                          "document(s) found by scanning",
                          "`glyph unpack --salvage | glyph pack` rebuilds it from every intact document")


def _add(totals: dict, line: dict) -> None:
    totals["docs"] += 1
    totals["pages"] += line.get("pages", 0) or 0
    totals["chars"] += line.get("chars", 0) or 0
    totals["text_tokens"] += line.get("text_tokens", 0) or 0
    totals["text_bytes"] += line["text_bytes"]
    for family, count in (line.get("visual_tokens") or {}).items():
        totals["visual_tokens"][family] = totals["visual_tokens"].get(family, 0) + count


def list_bundle(path: str, limits: Limits = DEFAULT_LIMITS) -> Iterator[dict]:
    """The bundle's `bundle` line, its `doc` lines and its `end` line (docs/BUNDLE.md, the index).

    The `end` line gains `bundle_bytes` (the file's size; absent for stdin).
    """
    source = display_name(path)
    with open_bundle(path) as fh:
        size = fh.seek(0, 2) if path != STDIO else None
        lines = read_index(fh, source, limits) if path != STDIO else None
        if lines is None:
            if path != STDIO:
                log.warn(f"{source}: no index footer (an incomplete bundle?); scanning the whole bundle")
                fh.seek(0)
            lines = _scan(fh, source, limits)
        saw_end = False
        for line in lines:
            kind = line.get("type")
            if kind in ("bundle", "doc"):
                yield line
            elif kind == "end":
                saw_end = True
                if size is not None:
                    line["bundle_bytes"] = size
                yield line
        if not saw_end:
            raise BundleError(f"{source}: the index has no end line (damaged)", "run `glyph verify`")


def visual(line: dict, family: str) -> int | None:
    tokens = line.get("visual_tokens") or {}
    return tokens.get(family)


def format_table(lines: Iterator[dict], family: str) -> Iterator[str]:
    """A table for people: one row per document, a total row, a line on the bundle's size."""
    header = f"{'ID':<32} {'PAGES':>6} {'CHARS':>10} {'TEXT_TOK':>9} {'VIS_TOK':>8} {'RATIO':>6} {'PNG_KB':>9}"
    options: dict = {}
    yield header

    def row(label: str, line: dict) -> str:
        text, vis = line.get("text_tokens"), visual(line, family)
        ratio = f"{text / vis:.2f}x" if text is not None and vis else "-"
        return (f"{label:<32.32} {line.get('pages', 0):>6} {line.get('chars', 0):>10} "
                f"{text if text is not None else '-':>9} {vis if vis is not None else '-':>8} {ratio:>6} "
                f"{line.get('png_bytes', 0) / 1000:>9.1f}")

    for line in lines:
        kind = line.get("type")
        if kind == "bundle":
            options = line.get("options", {})
        elif kind == "doc":
            yield row(str(line.get("id")), line)
        elif kind == "end":
            yield row(f"TOTAL ({line.get('docs', 0)} documents)", line) + "  (ratio pooled)"
            size, pages, png = line.get("bundle_bytes"), line.get("pages", 0), line.get("png_bytes", 0)
            if size is not None:
                per_page = f"{size / pages / 1000:.1f} KB/page, " if pages else ""
                of_png = f"{size / png:.2f}x the PNGs; " if png else ""
                yield (f"bundle: {size} bytes; {per_page}{of_png}visual tokens: {family}; zstd level "
                       f"{options.get('level')}, long {options.get('long')}, pages stored as {options.get('pages')}")
