"""The search measured: OCR (tesseract) as the reader, starting from the `glyph` preset, real prose.

    python benchmarks/bench_search.py --minutes 20 --out /tmp/bench-search

Validation set: the opening CHARS characters of several licence texts in /usr/share/common-licenses
(real prose, not glyph's embedded sample). The preset is measured first, in the same process; the
search then runs with `--min-accuracy` = the preset's character accuracy, so its best is the most
compressed config that reads at least as well (score = accuracy + compression). Prints the preset
and best rows, their ratio, the number of evaluations and the render/read time split, and the load
average before and after. Never fails on a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LICENCES = ("GPL-3", "Apache-2.0", "MPL-2.0", "Artistic")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--chars", type=int, default=6000, help="characters taken from each licence")
    ap.add_argument("--out", default="/tmp/bench-search")
    ap.add_argument("--population", type=int, default=12)
    ap.add_argument("--proposer", default="nsga")
    ap.add_argument("--dpi-max", type=int, default=144, help="narrow dpi to 45..this (tesseract time grows with dpi^2)")
    args = ap.parse_args()

    from glyph_cli.search import report
    from glyph_cli.search.objectives import OcrObjectiveFactory
    from glyph_cli.search.space import SearchSpace
    from glyph_cli.search.study import SearchSettings, best, candidates, run_search
    from glyph_cli.typeset.config import resolve_config

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    inputs = []
    for name in LICENCES:
        text = Path("/usr/share/common-licenses", name).read_text(encoding="utf-8")[:args.chars]
        path = out / f"{name}.txt"
        path.write_text(text, encoding="utf-8")
        inputs.append(str(path))
    space_file = out / "space.json"
    space_file.write_text(json.dumps({"dpi": {"low": 45, "high": args.dpi_max}}))
    base = resolve_config("glyph")
    factory = OcrObjectiveFactory(tuple(inputs), "tesseract")
    objective = factory()
    load0 = os.getloadavg()
    started = time.perf_counter()
    preset = objective.evaluate(base)
    print(f"preset glyph: accuracy {preset.accuracy:.4f}, compression {preset.compression:.3f}x, "
          f"{preset.pages} pages, render {preset.render_s:.2f} s, read {preset.read_s:.2f} s", flush=True)
    journal = out / "search.journal"
    if journal.exists():
        journal.unlink()
    settings = SearchSettings(storage=str(journal), space=SearchSpace.build(base, space_file),
                              objective=objective.describe(), proposer=args.proposer, population=args.population,
                              seed=0, budget_trials=None, budget_minutes=args.minutes, accuracy_weight=1.0,
                              compression_weight=1.0, min_accuracy=preset.accuracy)
    study = run_search(settings, lambda: objective)
    wall = time.perf_counter() - started
    rows = candidates(study)
    report.write_report(rows, out / "report")
    top = best(rows)
    s = report.summary(rows)
    print(f"search: {s['candidates']} candidates, {s['evaluations']} evaluations, {s['cache_hits']} cache hits "
          f"in {wall / 60:.1f} min; rendering {s['render_s']} s, reading (tesseract) {s['read_s']} s "
          f"({100 * s['render_s'] / max(1e-9, s['render_s'] + s['read_s']):.1f}% rendering)")
    if top is None:
        print("no candidate read at least as well as the preset")
    else:
        print(f"best: trial {top['trial']} (generation {top['generation']}), accuracy {top['accuracy']:.4f}, "
              f"compression {top['compression']:.3f}x = {top['compression'] / preset.compression:.3f}x the preset")
        print("best params: " + json.dumps(top["params"]))
    print(f"load average before {load0[0]:.2f}, after {os.getloadavg()[0]:.2f}; inputs: {', '.join(LICENCES)} "
          f"({args.chars} chars each); report in {out / 'report'}")


if __name__ == "__main__":
    main()
