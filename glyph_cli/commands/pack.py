"""glyph pack: page streams (and bundles, to merge) -> one page bundle."""

from __future__ import annotations

import sys
from enum import Enum
from typing import List, Optional

import typer

from glyph_cli import log
from glyph_cli.commands import options as opt


class PageStore(str, Enum):
    bands = "bands"
    png = "png"


class OnDuplicate(str, Enum):
    error = "error"
    skip = "skip"
    replace = "replace"


def pack(
    inputs: List[str] = typer.Argument(None, help="Page streams (JSONL; .gz/.zst by extension) or .glyph bundles to merge; '-' or none reads stdin."),
    output: Optional[str] = opt.output_file(help="Bundle file, written to a temporary name and renamed when complete. Default: stdout (never a terminal)."),
    level: int = typer.Option(3, "--level", help="zstd level, 1-22. 3 packs 72-dpi prose pages at ~9 KB each; 5 at ~7 KB for ~25% more CPU (docs/BUNDLE.md)."),
    level_old: Optional[int] = opt.deprecated("-l"),
    long: int = typer.Option(0, "--long", help="zstd long-distance window as log2 bytes (27 = 128 MiB, the most `tar --zstd` reads without flags); 0 (default) turns it off. 27 finds words repeated across pages: about 25% smaller, ~20% more pack CPU."),
    threads: int = typer.Option(0, "--threads", "-T", min=0, help="Threads encoding pages (zstd runs beside them); 0 = one per CPU but one (at least 1, at most 8). The output is the same for any value."),
    pages: PageStore = typer.Option(PageStore.bands, "--pages", help="bands: store scanlines and rebuild the exact PNG on unpack (small); png: store the PNG bytes as they are (portable, ~5x bigger)."),
    frame_size: int = typer.Option(64, "--frame-size", min=1, help="MiB of data per zstd frame (frames end at document boundaries). Damage loses at most one frame; smaller frames cost a little ratio."),
    prove: bool = typer.Option(False, "--prove", help="Deflate every page again to prove that unpack gives back its exact PNG bytes, also pages whose PNG says which deflate made it (glyph render's do, in a glDF chunk; pack takes their word). A false word can cost the exact bytes only, never pixels: unpack and `glyph verify` check every page's sha256. ~1 ms more a page."),
    on_duplicate: OnDuplicate = typer.Option(OnDuplicate.error, "--on-duplicate", help="A document id seen twice: error (exit 1), skip (keep the first) or replace (keep the last)."),
) -> None:
    """Pack page streams into a bundle: one zstd-compressed tar, lossless and checksummed.

    The bundle holds each document's record and exact text and every page (docs/BUNDLE.md);
    `glyph unpack` gives back the page stream byte for byte. Bundles given as inputs are merged.
    Memory stays flat whatever the input size. A summary goes to stderr.

    Examples:

      glyph render docs.jsonl | glyph pack -o docs.glyph

      glyph pack < pages.jsonl > docs.glyph

      glyph pack part-0.glyph part-1.glyph -o all.glyph --on-duplicate replace
    """
    import os

    # numpy's OpenBLAS would start a thread per CPU at import (CPU spent at start-up); pack does no linear algebra
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from glyph_cli.bundle.pack import Packer
    from glyph_cli.bundle.writer import BundleWriter, PackOptions
    from glyph_cli.streams.io import AtomicFile, refuse_terminal_stdout
    from glyph_cli.bundle.interrupt import sigterm_interrupts

    level = opt.renamed(level, level_old, "--level", "-l", 3, why="-l is bench tasks' --length")
    on_duplicate = on_duplicate.value
    options = PackOptions(level=level, long=long, threads=threads, pages=pages.value, frame_mib=frame_size, prove=prove).check()
    if output is None:
        refuse_terminal_stdout("a bundle")
    with sigterm_interrupts():
        if output is None:
            result = Packer(BundleWriter(sys.stdout.buffer, options), on_duplicate).run(inputs or [])
            sys.stdout.buffer.flush()
        else:
            with AtomicFile(output) as fh:
                result = Packer(BundleWriter(fh, options), on_duplicate).run(inputs or [])
    stores = ", ".join(f"{n} as {store}" for store, n in sorted(result.stores.items())) or "none"
    per_page = f", {result.bytes / result.pages / 1000:.1f} KB/page" if result.pages else ""
    verb = "replaced by a later copy" if on_duplicate == "replace" else "skipped"
    skipped = f"; {result.skipped} duplicate document(s) {verb}" if result.skipped else ""
    log.info(f"packed {result.docs} document(s), {result.pages} page(s) ({stores}) into "
             f"{output or 'stdout'}: {result.bytes} bytes{per_page}{skipped}")
