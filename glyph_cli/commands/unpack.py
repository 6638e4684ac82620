"""glyph unpack: a page bundle -> the page stream, the documents, or PNG files."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from glyph_cli import log
from glyph_cli.commands import options as opt
from glyph_cli.errors import BundleError, UsageError


def unpack(
    bundle: str = typer.Argument("-", help="Bundle file; '-' or none reads stdin (redirected from a file: `< x.glyph`)."),
    text: bool = typer.Option(False, "--text", help="Write the input documents back ({\"id\", \"text\", ...metadata} JSONL) instead of pages."),
    doc: List[str] = typer.Option(None, "--doc", help="Only this document id (repeatable)."),
    out_dir: Optional[str] = opt.out_dir("Write files into this directory: PNGs and index.jsonl as `glyph render --out-dir` does, or with --text one ID.txt per document."),
    out_old: Optional[str] = opt.deprecated("--out", "-o"),
    verify: bool = typer.Option(False, "--verify", help="Check the whole bundle first and write nothing if any of it is damaged (needs a file)."),
    salvage: bool = typer.Option(False, "--salvage", help="Skip damage: write every intact document, report the damaged ones, exit 1 if any (needs a file)."),
    threads: int = typer.Option(0, "--threads", "-T", min=0, help="Threads rebuilding pages; 0 = one per CPU (at most 8). Output order is kept."),
) -> None:
    """Unpack a bundle: the page stream `glyph render` wrote, byte for byte, on stdout.

    Every page and text is checked against its sha256 on the way out; damage stops the run with
    exit 1 and says what is damaged (`--salvage` goes on past it).

    Examples:

      glyph unpack docs.glyph | glyph ask -m ./Glyph -q "What changed?"

      glyph unpack docs.glyph --text > docs.jsonl

      glyph unpack docs.glyph --doc report-7 -d pages/
    """
    from glyph_cli.bundle.interrupt import sigterm_interrupts
    from glyph_cli.bundle.unpack import Unpacker, damage_report
    from glyph_cli.bundle.unpack import verify as verify_bundle
    from glyph_cli.inputs import refuse_non_bundle

    out = opt.renamed(out_dir, out_old, "-d/--out-dir", "-o/--out")
    if verify and salvage:
        raise UsageError("--verify writes nothing from a damaged bundle; --salvage writes what is intact: pick one")
    refuse_non_bundle(bundle)
    if doc and bundle != "-":  # a --doc the index lacks fails before anything is written
        missing = _not_in_index(bundle, doc)
        if missing:
            raise _no_such(bundle, missing)
    if verify:
        checked = verify_bundle(bundle, threads=threads)
        if checked.damages:
            print(damage_report(bundle, checked.damages), file=sys.stderr)
            raise BundleError(f"{bundle}: damaged; nothing written", "`glyph unpack --salvage` recovers every intact document")
    with sigterm_interrupts():
        result = Unpacker(bundle, text=text, doc_ids=doc, out_dir=out, salvage=salvage, threads=threads).run(sys.stdout.buffer)
    what = "document(s)" if text else f"document(s), {result.pages} page(s)"
    log.info(f"unpacked {result.docs} {what}" + (f" into {out}" if out else ""))
    if result.damages or result.reencoded:
        reencoded = f"; {result.reencoded} page(s) re-encoded" if result.reencoded else ""
        raise BundleError(f"{bundle}: {len(result.damages)} problem(s) (listed above){reencoded}; {result.docs} "
                          "intact document(s) written")
    if result.missing:
        raise _no_such(bundle, result.missing)


def _no_such(bundle: str, missing: list[str]) -> BundleError:
    shown = ", ".join(repr(m) for m in missing[:5])
    return BundleError(f"{bundle}: no document {shown}" + (" ..." if len(missing) > 5 else ""),
                       "`glyph ls` lists the ids")


def _not_in_index(bundle: str, ids: list[str]) -> list[str]:
    """The ids a bundle file's index does not hold ([] when the index cannot be read: the unpacking
    then reports the damage itself)."""
    from glyph_cli.bundle.reader import file_index

    try:
        lines = file_index(bundle)
        if lines is None:
            return []
        found = {str(line.get("id")) for line in lines if line.get("type") == "doc"}
    except (BundleError, OSError):
        return []
    return sorted(set(ids) - found)
