"""Line and page breaks of glyph's `glyph` preset against the released renderer's layout.

    python benchmarks/bench_fidelity.py --release /tmp/glyph-release [--chars 400000]
        [--cjk-font /usr/share/fonts/truetype/wqy/wqy-microhei.ttc]

Both sides use the release's own Verdana.ttf (passed by path, never copied). The released side is
benchmarks/baseline_reportlab.released_lines (the released story built with reportlab, read back
with pdftotext); glyph's side is its flow layout. Figures: page counts, the share of page boundaries
that fall at the same line, the share of lines that are identical, per corpus document and in total.

With --cjk-font (a TrueType font with CJK glyphs, which reportlab can read: Debian's
fonts-wqy-microhei; the release's SourceHanSansHWSC-VF.ttf is not in every checkout, and the Noto CJK
fonts are CFF, which reportlab refuses), the same comparison on Chinese text, where the released code
wraps with reportlab's wordWrap="CJK": the zh_CN translations of this machine's message catalogs
(/usr/share/locale/zh_CN/LC_MESSAGES: coreutils, bash, git, dpkg; help texts with Latin options mixed
in), one document per catalog, and the same texts with the newlines taken out (long Paragraphs, split
across pages) and as one line each (reportlab's plain-text wrap).
Prints figures; never fails on them.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from baseline_reportlab import norm, released_lines  # noqa: E402
from corpus import prose_documents  # noqa: E402


def glyph_lines(text: str, font_file: str, preset: str = "glyph") -> list[list[str]]:
    from glyph_cli.typeset.config import resolve_config
    from glyph_cli.typeset.engine import Typesetter
    from glyph_cli.typeset.text import prepare

    cfg = resolve_config(preset, None, {"font_path": font_file})
    ts = _typesetter(cfg)
    prep = prepare(text, newline=cfg.newline, marker_text=cfg.marker_text, tab_width=cfg.tab_width,
                   tabs=cfg.tabs, keep_tabs=True)
    return [[norm(t) for _, t, _ in p.lines if norm(t)] for p in ts.flow(prep)]


_TS = {}


def _typesetter(cfg):
    from glyph_cli.typeset.engine import Typesetter

    key = cfg.sha256()
    if key not in _TS:
        _TS[key] = Typesetter(cfg)
    return _TS[key]


def compare(ours: list[list[str]], theirs: list[list[str]]) -> dict:
    a = [ln for p in ours for ln in p]
    b = [ln for p in theirs for ln in p]
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    same_lines = sum(blk.size for blk in sm.get_matching_blocks())
    # a page boundary: the first line of each page after the first, as its index in the line list
    def starts(pages):
        out, n = [], 0
        for p in pages[:-1]:
            n += len(p)
            out.append(n)
        return out
    # map our line indices to theirs through the matching blocks, then compare boundaries
    mapping = {}
    for blk in sm.get_matching_blocks():
        for k in range(blk.size):
            mapping[blk.a + k] = blk.b + k
    theirs_b = set(starts(theirs))
    ours_b = starts(ours)
    agree = sum(1 for s in ours_b if mapping.get(s) in theirs_b)
    return {"pages_ours": len(ours), "pages_theirs": len(theirs), "lines_ours": len(a), "lines_theirs": len(b),
            "same_lines": same_lines, "boundaries": max(len(ours_b), len(theirs_b)), "same_boundaries": agree}


CJK_CATALOGS = ("coreutils", "bash", "git", "dpkg")


def chinese_documents(limit: int) -> list[tuple[str, str]]:
    """(name, text) of Chinese prose from the machine's zh_CN message catalogs, `limit` chars each."""
    import gettext
    import re

    out = []
    for name in CJK_CATALOGS:
        path = Path("/usr/share/locale/zh_CN/LC_MESSAGES") / f"{name}.mo"
        if not path.is_file():
            continue
        with open(path, "rb") as fh:
            catalog = gettext.GNUTranslations(fh)._catalog
        texts = [v for k, v in sorted(catalog.items(), key=lambda kv: str(kv[0]))
                 if isinstance(v, str) and re.search("[\u4e00-\u9fff]", v)]
        text = "\n".join(texts)[:limit]
        flat = " ".join(text.split())
        out += [(f"{name}.mo", text), (f"{name}.mo, 2000-char lines",
                "\n".join(flat[i:i + 2000] for i in range(0, len(flat), 2000))),
                (f"{name}.mo, one line", flat)]
    return out


def report(rows: list[tuple[str, dict]], title: str) -> None:
    print(f"\n## {title}")
    print("| input | pages glyph | pages released | identical lines | same page boundaries |\n|---|---|---|---|---|")
    total: dict = {}
    for name, r in rows + [("total", None)]:
        if r is None:
            r = total
        else:
            for k, v in r.items():
                total[k] = total.get(k, 0) + v
        print(f"| {name} | {r['pages_ours']} | {r['pages_theirs']} | "
              f"{r['same_lines'] / max(1, r['lines_theirs']) * 100:.2f}% ({r['same_lines']}/{r['lines_theirs']}) | "
              f"{r['same_boundaries']}/{r['boundaries']} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--release", type=Path, required=True, help="checkout of thu-coai/Glyph (config/Verdana.ttf)")
    ap.add_argument("--chars", type=int, default=400_000, help="corpus size")
    ap.add_argument("--show", type=int, default=0, help="print up to N differing lines")
    ap.add_argument("--cjk-font", default=None, help="TrueType CJK font for the Chinese comparison")
    ap.add_argument("--cjk-chars", type=int, default=120_000, help="chars per message catalog")
    args = ap.parse_args()
    if args.cjk_font:
        rows = [(name, compare(glyph_lines(text, args.cjk_font), released_lines(text, args.cjk_font)))
                for name, text in chinese_documents(args.cjk_chars)]
        report(rows, f"Chinese (wordWrap=CJK), font {args.cjk_font}; load average {os.getloadavg()[0]:.2f}")
    font = str(args.release / "config" / "Verdana.ttf")
    if not Path(font).is_file():
        raise SystemExit(f"{font} not found")
    docs = prose_documents(args.chars)
    total = {}
    print(f"corpus: Python documentation (pydoc topics + stdlib docstrings), {len(docs)} documents, "
          f"{sum(len(d['text']) for d in docs)} chars; font {font}; load average {os.getloadavg()[0]:.2f}")
    shown = 0
    for d in docs:
        r = compare(glyph_lines(d["text"], font), released_lines(d["text"], font))
        for k, v in r.items():
            total[k] = total.get(k, 0) + v
        if args.show and shown < args.show and r["same_lines"] < min(r["lines_ours"], r["lines_theirs"]):
            a = [ln for p in glyph_lines(d["text"], font) for ln in p]
            b = [ln for p in released_lines(d["text"], font) for ln in p]
            for line in difflib.unified_diff(b, a, "released", "glyph", n=0, lineterm=""):
                if shown >= args.show:
                    break
                print("   ", line[:160])
                shown += 1
    t = total
    print(f"pages: glyph {t['pages_ours']}, released {t['pages_theirs']} "
          f"({(t['pages_ours'] - t['pages_theirs']) / max(1, t['pages_theirs']) * 100:+.2f}%)")
    print(f"lines: glyph {t['lines_ours']}, released {t['lines_theirs']}; identical lines "
          f"{t['same_lines'] / max(1, t['lines_theirs']) * 100:.2f}%")
    print(f"page boundaries at the same line: {t['same_boundaries']}/{t['boundaries']} "
          f"({t['same_boundaries'] / max(1, t['boundaries']) * 100:.2f}%)")


if __name__ == "__main__":
    main()
