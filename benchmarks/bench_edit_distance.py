"""CPU time of the OCR edit distance: rapidfuzz (glyph's now) against the hand-written bit-parallel
Levenshtein that glyph_cli/bench/ocr.py had before, read from a git revision of this repository.

    python benchmarks/bench_edit_distance.py            # the old code from revision b52a00b
    python benchmarks/bench_edit_distance.py --rev REV

Inputs: page-sized slices (500 to 10,000 characters) of glyph's embedded sample text against a copy
with 3% random deletions, substitutions and insertions (seeded). Prints per-size CPU milliseconds
per distance for both and the ratio; checks that both give the same distance. Never fails on a time.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def old_levenshtein(rev: str):
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:glyph_cli/bench/ocr.py"], check=True,
                            capture_output=True, text=True).stdout
    tree = ast.parse(source)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "levenshtein")
    if "rapidfuzz" in ast.unparse(fn):
        raise SystemExit(f"{rev}: its levenshtein already is rapidfuzz's; name an older revision")
    namespace: dict = {}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), f"{rev}:ocr.py", "exec"), namespace)
    return namespace["levenshtein"]


def noisy(text: str, rate: float, rng: random.Random) -> str:
    out = []
    for ch in text:
        r = rng.random()
        if r < rate / 3:
            continue
        if r < 2 * rate / 3:
            out.append(rng.choice("abcdefghij "))
        elif r < rate:
            out += [ch, rng.choice("xyz")]
        else:
            out.append(ch)
    return "".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rev", default="b52a00b", help="a revision whose ocr.py has the hand-written distance")
    args = ap.parse_args()
    from rapidfuzz.distance import Levenshtein

    from glyph_cli.typeset.job import sample_path

    old = old_levenshtein(args.rev)
    text = sample_path().read_text(encoding="utf-8")
    rng = random.Random(7)
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs; CPU ms per distance")
    print("| chars | hand-written | rapidfuzz | speed-up |\n|---|---|---|---|")
    for n in (500, 2000, 5000, 10000):
        ref = (text * (n // len(text) + 1))[:n]
        hyp = noisy(ref, 0.03, rng)
        reps = max(1, 20000 // n)
        started = time.process_time()
        for _ in range(reps):
            a = old(ref, hyp)
        t_old = (time.process_time() - started) / reps
        started = time.process_time()
        for _ in range(reps * 50):
            b = Levenshtein.distance(ref, hyp)
        t_new = (time.process_time() - started) / (reps * 50)
        if a != b:
            raise SystemExit(f"the two distances differ at {n} characters: {a} vs {b}")
        print(f"| {n} | {t_old * 1e3:.2f} | {t_new * 1e3:.3f} | {t_old / t_new:.0f}x |")


if __name__ == "__main__":
    main()
