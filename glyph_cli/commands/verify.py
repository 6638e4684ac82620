"""glyph verify: check every checksum of a page bundle."""

from __future__ import annotations

import sys

import typer

from glyph_cli import log
from glyph_cli.errors import BundleError


def verify(
    bundle: str = typer.Argument("-", help="Bundle file; '-' or none reads stdin (redirected from a file: `< x.glyph`)."),
    threads: int = typer.Option(0, "--threads", "-T", min=0, help="Threads rebuilding pages; 0 = one per CPU (at most 8)."),
) -> None:
    """Check a bundle: every page rebuilt and matched to its sha256, every text and record to
    theirs, the index against the documents. Exit 0 when all is intact; else exit 1 and a list of
    what is damaged on stderr.

    Example:

      glyph verify docs.glyph && rm -r pages/
    """
    from glyph_cli.bundle.unpack import damage_report
    from glyph_cli.bundle.unpack import verify as verify_bundle
    from glyph_cli.inputs import refuse_non_bundle

    refuse_non_bundle(bundle)
    result = verify_bundle(bundle, threads=threads)
    if result.damages:
        print(damage_report(bundle, result.damages), file=sys.stderr)
        raise BundleError(f"{bundle}: damaged ({result.docs} intact document(s))",
                          "`glyph unpack --salvage` recovers every intact document")
    log.info(f"{bundle}: ok, {result.docs} document(s), {result.pages} page(s) intact")
