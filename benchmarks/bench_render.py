"""glyph render: throughput, PNG encoding choices, per-preset density, memory. Prints figures; asserts nothing.

    python benchmarks/bench_render.py --release DIR   # DIR: a thu-coai/Glyph checkout (released code + Verdana.ttf)
    python benchmarks/bench_render.py                 # throughput, encoding, presets (a few minutes)
    python benchmarks/bench_render.py --memory        # + peak RSS on 10 MB and 200 MB JSONL (long)

Throughput is CPU time of this process (plus its children for the baseline's pdftoppm), so "per core"
figures hold on a busy machine; wall-clock figures are printed beside them.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import orjson

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from corpus import prose_documents  # noqa: E402

from glyph_cli.streams.documents import Document  # noqa: E402
from glyph_cli.typeset.config import resolve_config  # noqa: E402
from glyph_cli.typeset.job import make_renderer  # noqa: E402


def cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def throughput(docs: list[dict], preset: str = "glyph", font_path: str | None = None, **settings) -> dict:
    overrides = {**({"font_path": font_path} if font_path else {}), **settings} or None
    renderer = make_renderer(resolve_config(preset, overrides=overrides), "qwen2.5")
    # text tokens are counted once up front so the figure is typesetting + encoding + records
    counts = {d["id"]: renderer.count_tokens(d["text"]) for d in docs}
    renderer.count_tokens = lambda text, _c=iter(counts.values()): next(_c)
    chars = pages = 0
    c0, w0 = cpu(), time.perf_counter()
    for d in docs:
        for rec in renderer.render(Document(d["id"], d["text"])):
            orjson.dumps(rec)
            pages += rec["type"] == "page"
        chars += len(d["text"])
    c1, w1 = cpu(), time.perf_counter()
    return {"chars": chars, "pages": pages, "cpu_s": c1 - c0, "wall_s": w1 - w0}


def released(docs: list[dict], release: Path | None) -> dict | None:
    """The released code itself (scripts/word2png_function.py of a thu-coai/Glyph checkout), its
    text_to_images with config_en.json and its own Verdana.ttf: reportlab, pdf2image/pdftoppm, PNG files."""
    import importlib.util
    import shutil

    if release is None or importlib.util.find_spec("reportlab") is None or shutil.which("pdftoppm") is None:
        print("\n(released-code baseline skipped: pass --release DIR, a thu-coai/Glyph checkout, and install "
              "reportlab, pdf2image and poppler-utils)")
        return None
    from baseline_reportlab import Released

    rel = Released(release)
    chars = pages = size = 0
    with tempfile.TemporaryDirectory() as tmp:
        c0, w0 = cpu(), time.perf_counter()
        for i, d in enumerate(docs):
            out = rel.render(d["text"], tmp, f"d{i}")
            chars += len(d["text"])
            pages += len(out)
            size += sum(os.path.getsize(f) for f in out)
        c1, w1 = cpu(), time.perf_counter()
    return {"chars": chars, "pages": pages, "cpu_s": c1 - c0, "wall_s": w1 - w0, "bytes_per_page": size / pages}


def interleaved(docs: list[dict], base_docs: list[dict], release: Path | None, repeats: int) -> None:
    font = str(release / "config" / "Verdana.ttf") if release else None
    runs = {"glyph (DejaVu Sans)": [], "glyph (DejaVu Sans), libdeflate PNGs": [], "glyph (release's Verdana.ttf)": [],
            "released code": []}
    for _ in range(repeats):
        runs["glyph (DejaVu Sans)"].append(throughput(docs))
        runs["glyph (DejaVu Sans), libdeflate PNGs"].append(throughput(docs, png_deflate="libdeflate"))
        if font:
            runs["glyph (release's Verdana.ttf)"].append(throughput(docs, font_path=font))
        b = released(base_docs, release)
        if b:
            runs["released code"].append(b)
    print(f"\n## Throughput at the glyph preset, one process, {repeats} interleaved repeats (median); "
          f"load average now {os.getloadavg()[0]:.2f}")
    print("| renderer | chars | pages | chars per CPU-second | pages per CPU-second | chars/s wall |")
    print("|---|---|---|---|---|---|")
    med = {}
    for name, rs in runs.items():
        if not rs:
            continue
        cps = sorted(r["chars"] / r["cpu_s"] for r in rs)[len(rs) // 2]
        pps = sorted(r["pages"] / r["cpu_s"] for r in rs)[len(rs) // 2]
        wall = sorted(r["chars"] / r["wall_s"] for r in rs)[len(rs) // 2]
        med[name] = cps
        print(f"| {name} | {rs[0]['chars']} | {rs[0]['pages']} | {cps:.0f} | {pps:.1f} | {wall:.0f} |")
    if "released code" in med:
        for name in ("glyph (DejaVu Sans)", "glyph (DejaVu Sans), libdeflate PNGs", "glyph (release's Verdana.ttf)"):
            if name in med:
                print(f"{name} / released code, chars per CPU-second: {med[name] / med['released code']:.1f}x")


def cli_wall(path: Path, workers: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "glyph_cli", "--quiet", "render", "-j", str(workers), str(path)],
                   stdout=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - t0


def encoding_table(docs: list[dict]) -> None:
    import deflate
    from isal import isal_zlib

    from glyph_cli.fastdeflate import fast_zlib_compress
    from glyph_cli.typeset.engine import Typesetter
    from glyph_cli.typeset.raster import Rasteriser
    from glyph_cli.typeset.text import prepare

    text = "\n".join(d["text"] for d in docs)[:300_000]
    cfg = resolve_config("glyph")
    ts = Typesetter(cfg)
    prep = prepare(text, newline=cfg.newline, marker_text=cfg.marker_text, tab_width=cfg.tab_width,
                   tabs=cfg.tabs, keep_tabs=cfg.wrap == "words")
    pages = [(cov.copy(), rects) for _, cov, rects in ts.pages(prep)]
    n = len(pages)
    print(f"\n## PNG encoding ({n} pages at the glyph preset, {cfg.page_px[0]}x{cfg.page_px[1]} px before crop)")
    print("| encoding | ms/page (CPU) | KB/page |\n|---|---|---|")
    default = (resolve_config("glyph").bit_depth, resolve_config("glyph").png_deflate)
    for bits in (8, 4, 2, 1):
        for deflater, level in (("glyph", 0), ("libdeflate", 1), ("libdeflate", 3), ("libdeflate", 6)):
            ras = Rasteriser(resolve_config("glyph", overrides={"bit_depth": bits, "png_deflate": deflater,
                                                                "png_level": level}))
            c0 = cpu()
            size = sum(len(ras.encode(c, r)) for c, r in pages)
            name = "glyph's deflate" if deflater == "glyph" else f"libdeflate level {level}"
            print(f"| {bits}-bit, {name}{' (default)' if (bits, deflater) == default else ''} "
                  f"| {(cpu() - c0) / n * 1e3:.2f} | {size / n / 1e3:.1f} |")
    ras = Rasteriser(cfg)
    for name, compress in (("glyph's deflate", fast_zlib_compress),
                           ("zlib level 1", lambda b: zlib.compress(b, 1)), ("zlib level 6", lambda b: zlib.compress(b, 6)),
                           ("isal level 1", lambda b: isal_zlib.compress(b, 1)),
                           ("libdeflate level 1", lambda b: deflate.zlib_compress(b, 1))):
        c0 = cpu()
        size = 0
        for c, _ in pages:
            idx = ras.fg_lut[c]
            raw = np.empty((idx.shape[0], idx.shape[1] + 1), np.uint8)
            raw[:, 0] = 0
            raw[:, 1:] = idx
            size += len(compress(raw.tobytes()))
        print(f"| 8-bit IDAT only, {name} | {(cpu() - c0) / n * 1e3:.2f} | {size / n / 1e3:.1f} |")


def preset_table(docs: list[dict]) -> None:
    print("\n## Presets on the corpus (full pages: each document's last page excluded from per-page figures)")
    print("| preset | pages | chars/page | glm4v tokens/page | qwen2.5 text tokens | glm4v visual tokens | compression |")
    print("|---|---|---|---|---|---|---|")
    for preset in ("glyph", "glyph-marker", "dpi96", "dpi120"):
        renderer = make_renderer(resolve_config(preset), "qwen2.5")
        pages = full_chars = full_tokens = full = text_tokens = visual = 0
        for d in docs:
            recs = list(renderer.render(Document(d["id"], d["text"])))
            text_tokens += recs[0]["text_tokens"]
            visual += recs[0]["visual_tokens"]["glm4v"]
            for p in recs[1:-1]:
                full += 1
                full_chars += p["span"][1] - p["span"][0]
                full_tokens += p["visual_tokens"]["glm4v"]
            pages += len(recs) - 1
        print(f"| {preset} | {pages} | {full_chars / max(full, 1):.0f} | {full_tokens / max(full, 1):.0f} | "
              f"{text_tokens} | {visual} | {text_tokens / visual:.2f}x |")


def peak_rss_mb(cmd: list[str], stdin_path: Path | None = None) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(cmd, stdout=null, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{cmd} failed with status {status}")
    return usage.ru_maxrss / 1024, time.perf_counter() - t0


def memory(docs: list[dict]) -> None:
    print("\n## Peak memory of `glyph render FILE > /dev/null` (max RSS)")
    print("| input | documents | max RSS | wall |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for mb in (10, 200):
            path = Path(tmp) / f"in-{mb}.jsonl"
            written = n = 0
            with open(path, "wb") as fh:
                while written < mb * 1_000_000:
                    for d in docs:
                        line = orjson.dumps({"id": f"{n}", "text": d["text"]}) + b"\n"
                        fh.write(line)
                        written += len(line)
                        n += 1
                        if written >= mb * 1_000_000:
                            break
            rss, wall = peak_rss_mb([sys.executable, "-m", "glyph_cli", "--quiet", "render", str(path)])
            print(f"| {mb} MB JSONL | {n} | {rss:.0f} MB | {wall:.0f} s |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chars", type=int, default=1_000_000)
    ap.add_argument("--baseline-chars", type=int, default=150_000)
    ap.add_argument("--release", type=Path, default=None, help="thu-coai/Glyph checkout for the released-code baseline")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--skip-tables", action="store_true", help="only throughput and end-to-end wall")
    args = ap.parse_args()
    docs = prose_documents(args.chars)
    print(f"# glyph render benchmark: {len(docs)} documents, {sum(len(d['text']) for d in docs)} chars of "
          f"Python documentation prose; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}")
    base_docs, n = [], 0
    for d in docs:
        if n >= args.baseline_chars:
            break
        base_docs.append(d)
        n += len(d["text"])
    interleaved(docs, base_docs, args.release, args.repeats)
    ours = throughput(docs)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.jsonl"
        path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
        w1 = cli_wall(path, 1)
        w2 = cli_wall(path, 2)
        total = sum(len(d["text"]) for d in docs)
        print(f"\n## End to end, `glyph render corpus.jsonl > /dev/null` (wall clock, {os.cpu_count()} CPUs)")
        print("| workers | wall s | chars/s | pages/s |\n|---|---|---|---|")
        print(f"| 1 | {w1:.1f} | {total / w1:.0f} | {ours['pages'] / w1:.1f} |")
        print(f"| 2 | {w2:.1f} | {total / w2:.0f} | {ours['pages'] / w2:.1f} |")
    if args.skip_tables:
        return
    encoding_table(docs)
    preset_table(docs)
    if args.memory:
        memory(docs)


if __name__ == "__main__":
    main()
