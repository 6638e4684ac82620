"""Per-page CPU cost of typesetting and drawing at the `glyph` preset: layout (line breaking and
pagination), drawing (glyphs -> A8 coverage at 4 samples per pixel, averaged back) and encoding
(coverage -> grey PNG), in CPU milliseconds per page. Prints figures; asserts nothing.

    python benchmarks/bench_draw.py [--chars 300000] [--repeats 3] [--against DIR]

--against DIR measures another glyph source tree too (e.g. `git archive main | tar -x -C DIR`), in
its own process, interleaved with this one: the before/after figure of a drawing change.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def measure(chars: int) -> dict:
    sys.path.insert(0, str(HERE))
    from corpus import prose_documents

    from glyph_cli.typeset.config import resolve_config
    from glyph_cli.typeset.engine import Typesetter
    from glyph_cli.typeset.raster import Rasteriser
    from glyph_cli.typeset.text import prepare

    cfg = resolve_config("glyph")
    ts, ras = Typesetter(cfg), Rasteriser(cfg)
    docs = prose_documents(chars)
    layout = draw = encode = 0.0
    pages = total = 0
    for d in docs:
        prep = prepare(d["text"], newline=cfg.newline, marker_text=cfg.marker_text, tab_width=cfg.tab_width,
                       tabs=cfg.tabs, keep_tabs=True)
        t0 = time.process_time()
        laid = list(ts.flow(prep))
        layout += time.process_time() - t0
        for i, page in enumerate(laid):
            t0 = time.process_time()
            _, coverage = ts.draw_flow(page, i == len(laid) - 1)
            t1 = time.process_time()
            ras.encode(coverage, [])
            t2 = time.process_time()
            draw += t1 - t0
            encode += t2 - t1
        pages += len(laid)
        total += len(d["text"])
    return {"chars": total, "pages": pages, "layout_ms": layout / pages * 1e3, "draw_ms": draw / pages * 1e3,
            "encode_ms": encode / pages * 1e3}


def run(tree: Path, chars: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", "--chars", str(chars)],
                         env=env, capture_output=True, text=True, check=True, cwd=tree)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chars", type=int, default=300_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--against", type=Path, default=None, help="another glyph source tree")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.chars)))
        return
    trees = {"this tree": HERE.parent}
    if args.against:
        trees[f"{args.against}"] = args.against
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    for _ in range(args.repeats):
        for name, tree in trees.items():
            runs[name].append(run(tree, args.chars))
    first = next(iter(runs.values()))[0]
    print(f"{first['chars']} chars of Python documentation prose, {first['pages']} pages at the glyph preset; "
          f"{args.repeats} interleaved repeats, median; load average {os.getloadavg()[0]:.2f}")
    print("| tree | layout ms/page | draw ms/page | encode ms/page | total |\n|---|---|---|---|---|")
    for name, rs in runs.items():
        med = {k: sorted(r[k] for r in rs)[len(rs) // 2] for k in ("layout_ms", "draw_ms", "encode_ms")}
        print(f"| {name} | {med['layout_ms']:.2f} | {med['draw_ms']:.2f} | {med['encode_ms']:.2f} | "
              f"{sum(med.values()):.2f} |")


if __name__ == "__main__":
    main()
