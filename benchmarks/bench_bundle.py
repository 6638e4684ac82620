"""Page bundles: bytes per page and pack/unpack speed on real prose, against PNG baselines.

    python benchmarks/bench_bundle.py [--corpus prose|topics|context] [--chars 1000000] [--presets glyph,dpi96]
                                      [--cpu 0] [--runs 3] [--sweep] [--ls-copies 10] [--no-baselines]
    python benchmarks/bench_bundle.py --stream PAGES.jsonl --baseline OLD_CHECKOUT [--runs 4] [--threads 0]

Renders the offline prose corpus (benchmarks/corpus.py) with `glyph render`, then, per preset:
- bytes per page of the bundle (everything in it, text and records included) against (a) the
  same page as a standalone 8-bit grey PNG (Pillow, default level 6, and optimize=True), (b) an RGB
  PNG of the page as Pillow writes it (the released Glyph renderer's pdf2image path writes RGB PNGs;
  its measured size here, ~113 KB per 72-dpi page, is quoted too), (c) the pages as rendered;
- pack and unpack pages/s on one core (the process pinned to `--cpu`, one worker thread);
- the bundle against the zstd-compressed source text;
- with `--sweep`: zstd level x long window (bytes per page, pack CPU ms per page, unpack CPU ms per
  page), and `--pages png` (PNG bytes + zstd --long) against the default (scanlines in bands).
`--corpus context` is issue 12's 1M-token context: one document of `--chars` (4,400,000 by default
for it) characters, the prose corpus followed by copies of it with the words of every line shuffled
(seeded), so that no page repeats another.
`--stream` with `--baseline`: `glyph pack -o X < PAGES.jsonl` as a user runs it (a fresh process, all
CPUs, start-up included), this checkout against another one (e.g. `git worktree add /tmp/old main`),
interleaved `--runs` times: wall, CPU seconds (user + sys of the process), bundle bytes, whether the
two bundles are the same bytes, and that `glyph unpack` of this checkout's gives the stream back byte
for byte.
All figures are measured in this process; nothing is quoted except the 113 KB reference.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

RELEASED_GLYPH_RGB_PNG = 113_000  # bytes per 72-dpi page, as measured for the issue (quoted, not measured)


def render(docs_path: Path, preset: str, out: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with open(out, "wb") as fh:
        subprocess.run([sys.executable, "-m", "glyph_cli", "--quiet", "render", "--preset", preset, str(docs_path)],
                       stdout=fh, check=True, env=env)


def png_baselines(stream: Path) -> dict:
    from PIL import Image

    grey6 = grey9 = rgb = rendered = n = 0
    for line in open(stream, "rb"):
        rec = orjson.loads(line)
        if rec["type"] != "page":
            continue
        png = base64.b64decode(rec["image"][22:])
        image = Image.open(io.BytesIO(png))
        grey = image.convert("L")
        for target, kwargs in (("grey6", {}), ("grey9", {"optimize": True})):
            buf = io.BytesIO()
            grey.save(buf, "PNG", **kwargs)
            if target == "grey6":
                grey6 += len(buf.getvalue())
            else:
                grey9 += len(buf.getvalue())
        buf = io.BytesIO()
        image.convert("RGB").save(buf, "PNG")
        rgb += len(buf.getvalue())
        rendered += len(png)
        n += 1
    return {"pages": n, "grey6": grey6 / n, "grey9": grey9 / n, "rgb": rgb / n, "rendered": rendered / n}


def pack(stream: Path, bundle: Path, **options) -> tuple[float, int, float]:
    """(wall seconds, pages, CPU seconds) of packing `stream` with one page thread."""
    from glyph_cli.bundle.pack import Packer
    from glyph_cli.bundle.writer import BundleWriter, PackOptions

    opts = PackOptions(threads=1, **options)
    cpu = time.process_time()
    start = time.perf_counter()
    with open(bundle, "wb") as fh:
        result = Packer(BundleWriter(fh, opts)).run([str(stream)])
    return time.perf_counter() - start, result.pages, time.process_time() - cpu


def unpack(bundle: Path) -> float:
    from glyph_cli.bundle.unpack import Unpacker

    start = time.perf_counter()
    with open(os.devnull, "wb") as out:
        Unpacker(str(bundle), threads=1).run(out)
    return time.perf_counter() - start


def unpack_cpu(bundle: Path) -> float:
    cpu = time.process_time()
    unpack(bundle)
    return time.process_time() - cpu


def context_document(chars: int) -> dict:
    """Issue 12's long context: the prose corpus, then copies of it with each line's words shuffled."""
    import random

    from corpus import prose_documents

    base = "\n\n".join(doc["text"] for doc in prose_documents(2_000_000))
    rng = random.Random(7)
    parts, total = [base], len(base)
    while total < chars:
        lines = []
        for line in base.split("\n"):
            words = line.split(" ")
            rng.shuffle(words)
            lines.append(" ".join(words))
        parts.append("\n".join(lines))
        total += len(parts[-1]) + 2
    return {"id": "context", "text": "\n\n".join(parts)[:chars]}


def ls_times(stream: Path, tmp: Path, copies: int) -> tuple[int, int, float, float]:
    """(pages, bytes, seconds to list via the footer, seconds to list by scanning) for a bundle of
    `copies` renamed copies of the stream."""
    from glyph_cli.bundle.listing import _scan, list_bundle
    from glyph_cli.bundle.format import DEFAULT_LIMITS

    big = tmp / "big.jsonl"
    docs = pages = 0
    with open(big, "wb") as out:
        for copy in range(copies):
            for line in open(stream, "rb"):
                rec = orjson.loads(line)
                if rec["type"] == "end":
                    docs, pages = docs + rec["docs"], pages + rec["pages"]
                    continue
                key = "id" if rec["type"] == "doc" else "doc"
                rec[key] = f"{copy}/{rec[key]}"
                out.write(orjson.dumps(rec) + b"\n")
        out.write(orjson.dumps({"type": "end", "v": 1, "docs": docs, "pages": pages}) + b"\n")
    bundle = tmp / "big.glyph"
    pack(big, bundle)
    start = time.perf_counter()
    lines = list(list_bundle(str(bundle)))
    footer = time.perf_counter() - start
    start = time.perf_counter()
    with open(bundle, "rb") as fh:
        scanned = list(_scan(fh, str(bundle), DEFAULT_LIMITS))
    scan = time.perf_counter() - start
    assert len(scanned) == len(lines)
    return lines[-1]["pages"], bundle.stat().st_size, footer, scan


def source_text_zstd(docs_path: Path) -> dict:
    import zstandard

    texts = b"".join(orjson.loads(line)["text"].encode() for line in open(docs_path, "rb"))
    jsonl = docs_path.read_bytes()
    return {"text_bytes": len(texts),
            "zstd3": len(zstandard.ZstdCompressor(level=3).compress(jsonl)),
            "zstd19": len(zstandard.ZstdCompressor(level=19).compress(jsonl))}


def pack_process(tree: Path, stream: Path, bundle: Path, threads: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of `glyph pack` from checkout `tree`, a process of its own."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    with open(stream, "rb") as stdin:
        proc = subprocess.Popen([sys.executable, "-m", "glyph_cli", "pack", "-T", str(threads), "-o", str(bundle)],
                                stdin=stdin, stderr=subprocess.DEVNULL, cwd=tree, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"glyph pack from {tree} exited {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def compare_with_baseline(stream: Path, baseline: Path, runs: int, threads: int) -> None:
    import filecmp

    trees = {"baseline": baseline.resolve(), "this": REPO}
    with tempfile.TemporaryDirectory(prefix="bench-bundle-") as tmp:
        tmp = Path(tmp)
        bundles = {name: tmp / f"{name}.glyph" for name in trees}
        print(f"glyph pack -T {threads} -o X < {stream} ({stream.stat().st_size} bytes); baseline {trees['baseline']}")
        rows = {name: [] for name in trees}
        for i in range(runs):
            for name, tree in trees.items():
                wall, cpu = pack_process(tree, stream, bundles[name], threads)
                load = os.getloadavg()[0]
                rows[name].append((wall, cpu))
                print(f"  run {i + 1} {name:8s}: {wall:5.2f} s wall, {cpu:5.2f} CPU-s, "
                      f"{bundles[name].stat().st_size} bytes (load {load:.1f})")
        for name in trees:
            walls, cpus = zip(*rows[name])
            print(f"  {name:8s}: best {min(walls):.2f} s wall, {min(cpus):.2f} CPU-s; median {sorted(walls)[len(walls) // 2]:.2f} s, "
                  f"{sorted(cpus)[len(cpus) // 2]:.2f} CPU-s")
        same = filecmp.cmp(bundles["baseline"], bundles["this"], shallow=False)
        print(f"  the two bundles are {'the same bytes' if same else 'DIFFERENT bytes'}")
        out = tmp / "unpacked.jsonl"
        with open(out, "wb") as fh:
            subprocess.run([sys.executable, "-m", "glyph_cli", "unpack", str(bundles["this"])], stdout=fh, check=True,
                           stderr=subprocess.DEVNULL,
                           cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
        print(f"  glyph unpack gives the stream back byte for byte: {filecmp.cmp(out, stream, shallow=False)}")


def best_of(runs: int, fn, *args, **kwargs):
    best = None
    for _ in range(runs):
        value = fn(*args, **kwargs)
        best = value if best is None or value[0] < best[0] else best
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chars", type=int, default=None, help="1,000,000 (prose) or 4,400,000 (context)")
    ap.add_argument("--corpus", choices=("prose", "topics", "context"), default="prose",
                    help="prose: the corpus module's documents (many, of all lengths); topics: all pydoc topics as "
                         "one document (~465K chars of dense, full pages); context: issue 12's 1M-token context")
    ap.add_argument("--no-baselines", action="store_true", help="skip the PNG baselines (slow on big corpora)")
    ap.add_argument("--presets", default="glyph,dpi96")
    ap.add_argument("--cpu", type=int, default=0, help="pin to this CPU (one core)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs; the best is reported")
    ap.add_argument("--sweep", action="store_true", help="also sweep zstd level/long and --pages png")
    ap.add_argument("--ls-copies", type=int, default=10, help="copies of the corpus in the bundle ls is timed on")
    ap.add_argument("--stream", type=Path, help="a page stream to pack (no corpus is rendered): with --baseline")
    ap.add_argument("--baseline", type=Path, help="another checkout of glyph whose pack --stream is compared")
    ap.add_argument("--threads", type=int, default=0, help="pack --threads for --stream (0: one per CPU)")
    args = ap.parse_args()
    if args.stream or args.baseline:
        if not (args.stream and args.baseline):
            ap.error("--stream and --baseline go together")
        compare_with_baseline(args.stream, args.baseline, args.runs, args.threads)
        return
    if args.chars is None:
        args.chars = 4_400_000 if args.corpus == "context" else 1_000_000
    os.sched_setaffinity(0, {args.cpu})
    from corpus import prose_documents

    with tempfile.TemporaryDirectory(prefix="bench-bundle-") as tmp:
        tmp = Path(tmp)
        docs_path = tmp / "docs.jsonl"
        with open(docs_path, "wb") as fh:
            if args.corpus == "topics":
                import pydoc_data.topics

                fh.write(orjson.dumps({"id": "topics", "text": "\n".join(pydoc_data.topics.topics.values())}) + b"\n")
            elif args.corpus == "context":
                fh.write(orjson.dumps(context_document(args.chars)) + b"\n")
            else:
                for doc in prose_documents(args.chars):
                    fh.write(orjson.dumps(doc) + b"\n")
        text = source_text_zstd(docs_path)
        what = {"topics": "pydoc topics as one document",
                "context": f"issue 12's context: one document of {args.chars} chars"}.get(
                    args.corpus, f"{args.chars} chars of Python documentation prose")
        print(f"corpus: {what}, {docs_path.stat().st_size} bytes of JSONL; "
              f"zstd -3: {text['zstd3']} bytes, zstd -19: {text['zstd19']} bytes")
        for preset in args.presets.split(","):
            stream = tmp / f"{preset}.jsonl"
            render(docs_path, preset, stream)
            bundle = tmp / f"{preset}.glyph"
            pack_s, n, pack_cpu = best_of(args.runs, pack, stream, bundle)
            size = bundle.stat().st_size
            unpack_s = min(unpack(bundle) for _ in range(args.runs))
            per_page = size / n
            print(f"\n== preset {preset}: {n} pages, page stream {stream.stat().st_size} bytes")
            print(f"  bundle {size} bytes = {per_page:.0f} B/page (all included: text, records, index)")
            if not args.no_baselines:
                base = png_baselines(stream)
                print(f"  as rendered PNG     {base['rendered']:8.0f} B/page   bundle/that = {per_page / base['rendered']:.3f}x")
                print(f"  grey 8-bit PNG (6)  {base['grey6']:8.0f} B/page   bundle/that = {per_page / base['grey6']:.3f}x  (goal <= 0.6)")
                print(f"  grey 8-bit PNG (opt){base['grey9']:8.0f} B/page   bundle/that = {per_page / base['grey9']:.3f}x")
                print(f"  RGB PNG (Pillow)    {base['rgb']:8.0f} B/page   bundle/that = {per_page / base['rgb']:.3f}x")
            print(f"  released Glyph RGB PNG (quoted 113 KB)      bundle/that = {per_page / RELEASED_GLYPH_RGB_PNG:.3f}x  (goal <= 0.2)")
            print(f"  pack   {n / pack_s:6.0f} pages/s on one core ({pack_s:.2f} s, {pack_cpu / n * 1000:.2f} CPU-ms/page; "
                  f"goal >= 200; load {os.getloadavg()[0]:.1f})")
            print(f"  unpack {n / unpack_s:6.0f} pages/s on one core ({unpack_s:.2f} s; goal >= 300)")
            print(f"  bundle / zstd -3 source JSONL = {size / text['zstd3']:.1f}x; / zstd -19 = {size / text['zstd19']:.1f}x")
            if args.ls_copies:
                pages, nbytes, footer, scan = ls_times(stream, tmp, args.ls_copies)
                print(f"  ls on a {pages}-page, {nbytes}-byte bundle: {footer * 1000:.0f} ms via the footer index, "
                      f"{scan * 1000:.0f} ms scanning every member")
            if args.sweep:
                print("  sweep (level, long, pages): B/page; pack and unpack CPU-ms/page on one core, best of "
                      f"{args.runs}, the settings interleaved")
                settings = [(level, long) for level in (1, 3, 5, 7) for long in (0, 27)]
                best: dict = {}
                for _ in range(args.runs):
                    for level, long in settings:
                        _t, _n, cpu = pack(stream, bundle, level=level, long=long)
                        un = unpack_cpu(bundle)
                        old = best.get((level, long), (0, 9e9, 9e9))
                        best[(level, long)] = (bundle.stat().st_size, min(old[1], cpu), min(old[2], un))
                for (level, long), (nbytes, cpu, un) in best.items():
                    print(f"    level {level:2d} long {long:2d} bands: {nbytes / n:8.0f} B/page  pack {cpu / n * 1000:5.2f}  "
                          f"unpack {un / n * 1000:5.2f} CPU-ms/page")
                _t, _n, cpu = pack(stream, bundle, pages="png", long=27)
                print(f"    level  3 long 27 png:   {bundle.stat().st_size / n:8.0f} B/page  pack {cpu / n * 1000:5.2f} CPU-ms/page")
                print(f"    (load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
