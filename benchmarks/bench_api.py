"""Throughput of the Python API against the CLI, and of Ray Data against `glyph render -j`.

    PYTHONPATH=. python benchmarks/bench_api.py [--chars 300000] [--repeats 3] [--no-ray]

1. pages/s of `glyph_cli.Renderer().render(docs)` in this process (Renderer built inside the timed
   region) vs `glyph render corpus.jsonl > /dev/null` as a subprocess (wall time, start-up included,
   and the CLI's own "rendered ... in Xs" figure, start-up excluded);
2. pages/s of Ray Data with 2 actors (local instance, one per core) writing a bundle vs
   `glyph render -j 2 | glyph pack`, and Ray's start-up cost (ray.init + first rows).
Figures are medians over --repeats runs, interleaved. Prints the load average; never fails on a time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def cli_render(path: Path, *extra: str) -> tuple[float, float | None]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "glyph_cli", "render", str(path), *extra], env=env(),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    wall = time.perf_counter() - start
    m = re.search(rb"in ([0-9.]+)s", proc.stderr)
    return wall, float(m.group(1)) if m else None


def api_render(docs: list[dict]) -> tuple[float, int]:
    import glyph_cli

    start = time.perf_counter()
    n = sum(1 for _ in glyph_cli.Renderer().render(docs))
    return time.perf_counter() - start, n


RAY_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import ray
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
t_init = time.perf_counter() - t0
from glyph_cli.distributed.ray_data import read_jsonl, render_dataset, write_bundle
ds = render_dataset(read_jsonl([sys.argv[1]]), actors=2, batch_size=4, cpus=0.75)
size = write_bundle(ds, sys.argv[2])
total = time.perf_counter() - t0
ray.shutdown()
print(json.dumps({"init_s": t_init, "total_s": total, "bytes": size}))
"""


def ray_render(path: Path, out: Path) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", RAY_CHILD, str(path), str(out)], env=env(), capture_output=True,
                          check=True)
    wall = time.perf_counter() - start
    result = json.loads(proc.stdout.splitlines()[-1])
    result["wall_s"] = wall
    return result


def cli_pipeline(path: Path, out: Path) -> float:
    start = time.perf_counter()
    cmd = (f"{sys.executable} -m glyph_cli render {path} -j 2 2>/dev/null | "
           f"{sys.executable} -m glyph_cli pack -o {out} 2>/dev/null")
    subprocess.run(cmd, shell=True, env=env(), check=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chars", type=int, default=300_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args()
    from corpus import prose_documents

    docs = prose_documents(args.chars)
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    path = tmp / "corpus.jsonl"
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
    chars = sum(len(d["text"]) for d in docs)
    print(f"corpus: {len(docs)} documents, {chars} chars (Python docs prose), preset glyph; "
          f"{os.cpu_count()} CPUs; load average at start {os.getloadavg()}")

    api_s, cli_wall, cli_own, pages = [], [], [], 0
    api_render(docs[:2])  # warm the font cache and imports once for both sides
    for _ in range(args.repeats):
        wall, own = cli_render(path)
        cli_wall.append(wall)
        if own is not None:
            cli_own.append(own)
        seconds, pages = api_render(docs)
        api_s.append(seconds)
    a, c = statistics.median(api_s), statistics.median(cli_wall)
    print(f"pages: {pages}")
    print(f"API in-process : {pages / a:7.1f} pages/s ({a:.2f}s, Renderer set-up included)")
    print(f"CLI subprocess : {pages / c:7.1f} pages/s ({c:.2f}s wall, start-up included)")
    if cli_own:
        o = statistics.median(cli_own)
        print(f"CLI own timing : {pages / o:7.1f} pages/s ({o:.2f}s, start-up excluded)")
        print(f"API / CLI (start-up excluded) = {o / a:.2f}x")
    print(f"API / CLI (wall) = {c / a:.2f}x")
    if not args.no_ray:
        rays, pipes = [], []
        for i in range(args.repeats):
            pipes.append(cli_pipeline(path, tmp / f"cli-{i}.glyph"))
            rays.append(ray_render(path, tmp / f"ray-{i}.glyph"))
        p = statistics.median(pipes)
        r = statistics.median(x["wall_s"] for x in rays)
        init = statistics.median(x["init_s"] for x in rays)
        same = (tmp / "cli-0.glyph").read_bytes() == (tmp / "ray-0.glyph").read_bytes()
        print(f"glyph render -j 2 | glyph pack : {pages / p:7.1f} pages/s ({p:.2f}s wall)")
        print(f"Ray Data, 2 actors -> bundle   : {pages / r:7.1f} pages/s ({r:.2f}s wall, ray.init {init:.2f}s)")
        print(f"Ray / CLI throughput = {p / r:.2f}x; Ray start-up cost ~ {r - p:+.2f}s over the CLI pipeline "
              f"(ray.init alone {init:.2f}s); bundles byte-identical: {same}")
    print(f"load average at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
