"""CPU cost of the words flow's layout (line breaking and pagination, `Typesetter.flow` as
`glyph render` calls it at the `glyph` preset), the fast `paginate` against the one-at-a-time
`_reference_paginate` it replaced, in the same process, interleaved; and whether the two give the
same pages (index, range, boxes, every line's slot, text and width). Prints figures; asserts nothing
about time; exits 1 if the pages differ.

    python benchmarks/bench_flow.py [FILE.jsonl ...] [--chars 1000000] [--repeats 5] [--cjk]

Each FILE is JSONL documents (`id`, `text`), each laid out whole; without one, --chars characters of
Python documentation prose (benchmarks/corpus.py) as one document; --cjk puts an ideograph at its
start, so the whole text takes the released code's CJK wrap.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def documents(args) -> list[tuple[str, str]]:
    import orjson

    if args.files:
        out = []
        for path in args.files:
            with open(path, "rb") as fh:
                out += [(f"{path}:{d.get('id')}", d["text"]) for d in map(orjson.loads, fh) if d.get("text")]
        return out
    sys.path.insert(0, str(HERE))
    from corpus import prose_documents

    text = "\n\n".join(d["text"] for d in prose_documents(args.chars))[:args.chars]
    return [("python-docs" + ("+cjk" if args.cjk else ""), ("中" if args.cjk else "") + text)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*")
    ap.add_argument("--chars", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cjk", action="store_true")
    args = ap.parse_args()

    from glyph_cli.typeset import flow
    from glyph_cli.typeset.config import resolve_config
    from glyph_cli.typeset.engine import Typesetter
    from glyph_cli.typeset.text import prepare

    cfg = resolve_config("glyph")
    ts = Typesetter(cfg)
    same_all = True
    for name, raw in documents(args):
        text = prepare(raw, newline=cfg.newline, marker_text=cfg.marker_text, tab_width=cfg.tab_width,
                       tabs=cfg.tabs, keep_tabs=True).display
        run = (text, ts.widths, ts.width_units, ts.lines_per_page, cfg.paragraph_lines)
        old = list(flow._reference_paginate(*run))  # also measures every character once
        new = list(flow.paginate(*run))
        same = len(old) == len(new) and all(a == b for a, b in zip(old, new))
        same_all &= same
        differ = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), None)
        del old, new
        cpu: dict[str, list[float]] = {"reference": [], "fast": []}
        for _ in range(args.repeats):
            for label, fn in (("reference", flow._reference_paginate), ("fast", flow.paginate)):
                gc.collect()
                t = time.process_time()
                pages = list(fn(*run))
                cpu[label].append(time.process_time() - t)
                del pages
        ref, fast = statistics.median(cpu["reference"]), statistics.median(cpu["fast"])
        print(f"{name}: {len(text)} chars, {len(list(flow.paginate(*run)))} pages, pages equal: {same}"
              + ("" if same else f" (first difference on page {differ})"))
        print(f"  layout CPU s, median of {args.repeats} interleaved: reference {ref:.3f}, fast {fast:.3f}, "
              f"{ref / fast:.1f}x  [reference {' '.join(f'{x:.3f}' for x in cpu['reference'])}; "
              f"fast {' '.join(f'{x:.3f}' for x in cpu['fast'])}]")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs")
    return 0 if same_all else 1


if __name__ == "__main__":
    sys.exit(main())
