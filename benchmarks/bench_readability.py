"""Tesseract character accuracy of glyph's pages against the released renderer's, same text, same
font (the release's Verdana.ttf, by path), same geometry (the `glyph` preset = config_en.json).

    python benchmarks/bench_readability.py --release /tmp/glyph-release [--chars 20000] [--dpi 72 96] [--pixels]

Per dpi: both renderers draw the same prose (benchmarks/corpus.py, Python documentation); tesseract
(--psm 6, eng, OMP_THREAD_LIMIT=1) reads every page; accuracy = 1 - edit distance / reference length
over the whole text, whitespace collapsed. Prints figures; never fails on them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from baseline_reportlab import Released  # noqa: E402
from corpus import prose_documents  # noqa: E402


def ocr(png: bytes) -> str:
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    return subprocess.run(["tesseract", "stdin", "stdout", "--psm", "6", "-l", "eng"], input=png,
                          capture_output=True, env=env, check=True).stdout.decode()


def accuracy(ref: str, hyp: str) -> float:
    from rapidfuzz.distance import Levenshtein

    ref, hyp = " ".join(ref.split()), " ".join(hyp.split())
    return 1 - Levenshtein.distance(ref, hyp) / len(ref)


def pixel_agreement(ours: list[bytes], theirs: list[bytes]) -> tuple[float, float]:
    """(share of ink pixels within 8 grey levels, share identical) over pages compared in order,
    each pair on their common area (the released pages are RGB: compared as grey)."""
    import io

    import numpy as np
    from PIL import Image

    ink = close = same = 0
    for a_png, b_png in zip(ours, theirs):
        a = np.asarray(Image.open(io.BytesIO(a_png)).convert("L"), dtype=np.int16)
        b = np.asarray(Image.open(io.BytesIO(b_png)).convert("L"), dtype=np.int16)
        h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
        a, b = a[:h, :w], b[:h, :w]
        mask = (a < 250) | (b < 250)
        d = np.abs(a - b)[mask]
        ink += d.size
        close += int((d <= 8).sum())
        same += int((d == 0).sum())
    return close / max(ink, 1), same / max(ink, 1)


def glyph_pngs(text: str, dpi: int, font: str, overrides: dict | None = None) -> list[bytes]:
    from glyph_cli.streams.documents import Document
    from glyph_cli.streams.pages import page_png
    from glyph_cli.typeset.config import resolve_config
    from glyph_cli.typeset.render import Renderer

    cfg = resolve_config("glyph", overrides={"dpi": dpi, "font_path": font, **(overrides or {})})
    r = Renderer(cfg, lambda s: 0, "none", lambda w, h: {})
    return [page_png(rec) for rec in r.render(Document("d", text)) if rec["type"] == "page"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--release", type=Path, required=True)
    ap.add_argument("--chars", type=int, default=20_000)
    ap.add_argument("--dpi", type=int, nargs="+", default=[72, 96])
    ap.add_argument("--set", action="append", default=[], help="KEY=VALUE for glyph's side (experiments)")
    ap.add_argument("--pixels", action="store_true",
                    help="also compare the pages pixel by pixel: the share of ink pixels (either side darker "
                         "than 250) within 8 grey levels of the released page, and identical")
    args = ap.parse_args()
    font = str(args.release / "config" / "Verdana.ttf")
    docs = [d for d in prose_documents(400_000) if len(d["text"]) > 3000]
    text, n = [], 0
    for d in docs:
        text.append(d["text"])
        n += len(d["text"])
        if n >= args.chars:
            break
    text = "\n".join(text)[: args.chars]
    overrides = dict(kv.split("=", 1) for kv in args.set)
    rel = Released(args.release)
    print(f"text: {len(text)} chars of Python documentation prose; font {font}; "
          f"{subprocess.run(['tesseract', '--version'], capture_output=True, text=True).stdout.splitlines()[0]}; "
          f"load average {os.getloadavg()[0]:.2f}")
    print("| dpi | renderer | pages | tesseract char accuracy |\n|---|---|---|---|")
    for dpi in args.dpi:
        ours = glyph_pngs(text, dpi, font, overrides)
        with tempfile.TemporaryDirectory() as tmp:
            theirs = [Path(p).read_bytes() for p in rel.render(text, tmp, "r", dpi=dpi)]
        if args.pixels:
            close, same = pixel_agreement(ours, theirs)
            print(f"| {dpi} | pixels: ink within 8 grey levels of the released page {close * 100:.2f}%, "
                  f"identical {same * 100:.2f}% | | |", flush=True)
        for name, pngs in (("released code", theirs), ("glyph", ours)):
            read = "\n".join(ocr(p) for p in pngs)
            print(f"| {dpi} | {name} | {len(pngs)} | {accuracy(text, read) * 100:.2f}% |", flush=True)


if __name__ == "__main__":
    main()
