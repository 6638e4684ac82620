"""The headline: a 1M-token context (~4.4M characters) rendered and packed, `glyph render -j 2 | glyph pack`.

    python benchmarks/bench_headline.py                  # 3 interleaved repeats of every run below
    python benchmarks/bench_headline.py --repeats 1 --inputs docs-1
    python benchmarks/bench_headline.py --memory         # + peak RSS of render -j 1 / -j 2 on a 10 MB record
    python benchmarks/bench_headline.py --against /path/to/other/checkout   # + that code's pipe, interleaved
        (a checkout that has glyph's C deflate, glyph_cli/_fastdeflate.c, needs it built there first:
        `python -c 'from setuptools import setup; setup()' build_ext --inplace`; without it that code
        falls back to libdeflate, says so on stderr, and is measured with the other encoder)
    python benchmarks/bench_headline.py --inputs "" --startup 10 --against /path/to/other/checkout
                                                         # start-up: `glyph render` of a one-line document

Inputs (all at the `glyph` preset, real line breaks):
- docs-1: the offline Python-documentation corpus (benchmarks/corpus.py) repeated to 4.4M characters,
  as ONE document. Its source lines are short (docstrings), so real line breaks leave most of each
  line empty: ~1,600 pages, ~2,760 characters a page.
- docs-100: the same 4.4M characters as a hundred documents of 44K.
- prose-1: prose with longer paragraphs, one document, repeated to 4.4M: the paragraphs of the Rust
  documentation books that rustup installs (~3.5M characters of <p> text, one paragraph a line),
  or where those are missing the Python documentation plus the Node.js API reference
  (/usr/share/doc/nodejs/api/*.md) with each hard-wrapped paragraph joined into one line.

Per input and run, interleaved: wall seconds, CPU seconds of every process the run started (this
process is a child subreaper, so the render workers, whose forkserver outlives the render parent,
are counted too), and the load average before the run. Runs: `render -j 2 | pack`, `render -j 1 |
pack`, `render -j 2 > /dev/null`, `render -j 1 > /dev/null`, `pack < stream` (the stream rendered
once beforehand). glyph runs with its modules compiled once beforehand, as installed (see PYCACHE).
Prints figures; asserts nothing; never fails on a time.
"""

from __future__ import annotations

import argparse
import atexit
import ctypes
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]

from corpus import prose_documents  # noqa: E402

TARGET_CHARS = 4_400_000
NODE_DOCS = Path("/usr/share/doc/nodejs/api")
GLYPH = f"{shlex.quote(sys.executable)} -m glyph_cli --quiet"


# -- inputs ------------------------------------------------------------------------------------

def _repeat_to(text: str, n: int) -> str:
    return ((text + "\n\n") * (n // (len(text) + 2) + 1))[:n]


_KEEP = re.compile(r"```|[-*+|#>=~]|\d+[.)]\s|<|\.\. ")  # lines that start code, lists, tables, headings


def reflow(text: str) -> str:
    """Each paragraph of plain lines at one indent joined into one line (at that indent); other
    blocks (code, lists, tables, headings, anything indented unevenly) kept as they are."""
    out = []
    for block in re.split(r"\n[ \t]*\n", text):
        lines = [line for line in block.split("\n") if line.strip()]
        indents = {len(line) - len(line.lstrip()) for line in lines}
        if len(lines) > 1 and len(indents) == 1 and not any(_KEEP.match(line.lstrip()) for line in lines):
            out.append(" " * indents.pop() + " ".join(line.strip() for line in lines))
        else:
            out.append(block)
    return "\n\n".join(out)


RUST_DOCS = Path.home() / ".rustup/toolchains"
RUST_BOOKS = ("book", "reference", "nomicon", "cargo", "edition-guide", "embedded-book", "rustc", "rust-by-example")


def _html_paragraphs(html: str) -> list[str]:
    """The text of each <p> element, whitespace collapsed."""
    from html.parser import HTMLParser

    class Paragraphs(HTMLParser):
        def __init__(self):
            super().__init__()
            self.depth, self.current, self.found = 0, [], []

        def handle_starttag(self, tag, attrs):
            self.depth += tag == "p"

        def handle_endtag(self, tag):
            if tag == "p" and self.depth:
                self.depth -= 1
                text = " ".join("".join(self.current).split())
                if text:
                    self.found.append(text)
                self.current = []

        def handle_data(self, data):
            if self.depth:
                self.current.append(data)

    parser = Paragraphs()
    parser.feed(html)
    return parser.found


def long_paragraph_prose() -> tuple[str, str]:
    """Prose with long paragraphs, one paragraph a line: the Rust documentation books that rustup
    installs (their <p> text), else the Python and Node.js documentation with paragraphs joined."""
    roots = sorted(RUST_DOCS.glob("*/share/doc/rust/html")) if RUST_DOCS.is_dir() else []
    if roots:
        paragraphs = []
        for book in RUST_BOOKS:
            for page in sorted((roots[0] / book).rglob("*.html")):
                if page.name not in ("print.html", "toc.html", "404.html"):
                    paragraphs += _html_paragraphs(page.read_text(encoding="utf-8", errors="replace"))
        if paragraphs:
            return "\n".join(paragraphs), (f"paragraphs (<p> text, one a line) of the Rust documentation books in "
                                            f"{roots[0]} ({', '.join(RUST_BOOKS)})")
    parts = [reflow(d["text"]) for d in prose_documents(10**9)]
    names = ["Python documentation (benchmarks/corpus.py)"]
    node = sorted(NODE_DOCS.glob("*.md")) if NODE_DOCS.is_dir() else []
    if node:
        parts += [reflow(p.read_text(encoding="utf-8", errors="replace")) for p in node]
        names.append(f"Node.js API reference ({len(node)} files in {NODE_DOCS})")
    return "\n\n".join(parts), " + ".join(names) + ", paragraphs joined"


def write_inputs(tmp: Path, wanted: list[str]) -> dict[str, tuple[Path, str]]:
    docs_text = "\n\n".join(d["text"] for d in prose_documents(10**9))
    big = _repeat_to(docs_text, TARGET_CHARS)
    out = {}
    if "docs-1" in wanted:
        path = tmp / "docs-1.jsonl"
        path.write_bytes(orjson.dumps({"id": "docs", "text": big}) + b"\n")
        out["docs-1"] = path, "Python documentation, one document"
    if "docs-100" in wanted:
        path = tmp / "docs-100.jsonl"
        step = TARGET_CHARS // 100
        path.write_bytes(b"".join(orjson.dumps({"id": f"docs-{i:03d}", "text": big[i * step:(i + 1) * step]}) + b"\n"
                                  for i in range(100)))
        out["docs-100"] = path, "Python documentation, 100 documents"
    if "prose-1" in wanted:
        text, name = long_paragraph_prose()
        path = tmp / "prose-1.jsonl"
        path.write_bytes(orjson.dumps({"id": "prose", "text": _repeat_to(text, TARGET_CHARS)}) + b"\n")
        out["prose-1"] = path, name + ", one document"
    return out


# -- measuring ---------------------------------------------------------------------------------

def become_subreaper() -> bool:
    """Orphaned descendants (the render workers' forkserver) are re-parented to this process, so
    their CPU time reaches RUSAGE_CHILDREN once reaped."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _reap_orphans() -> list[float]:
    """Wait for every remaining descendant; their max RSS, MB."""
    peaks = []
    while True:
        try:
            _, _, ru = os.wait4(-1, 0)
        except ChildProcessError:
            return peaks
        peaks.append(ru.ru_maxrss / 1024)


# glyph's modules as an installed glyph has them: compiled once (an environment with
# PYTHONDONTWRITEBYTECODE set would otherwise compile them in every run, ~0.1 CPU-s a process),
# into a cache of this run's own (PYTHONPYCACHEPREFIX), so the checkout gets no __pycache__
PYCACHE = Path(tempfile.mkdtemp(prefix="glyph-bench-pycache-"))
atexit.register(shutil.rmtree, PYCACHE, True)


def run(cmd: str, tree: Path = REPO) -> dict:
    """`cmd` under bash with glyph imported from the checkout `tree`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cache = PYCACHE if tree == REPO else PYCACHE / str(tree).strip("/").replace("/", "_")
    env.update(PYTHONPATH=str(tree), PYTHONPYCACHEPREFIX=str(cache))
    load = os.getloadavg()[0]
    c0, t0 = _children_cpu(), time.perf_counter()
    # not run in a checkout: `python -m` puts the working directory first on sys.path, before PYTHONPATH
    proc = subprocess.Popen(["/bin/bash", "-o", "pipefail", "-c", cmd], env=env, cwd=tempfile.gettempdir())
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    orphans = _reap_orphans()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd!r} exited {proc.returncode}")
    return {"wall": wall, "cpu": _children_cpu() - c0, "load": load, "rss": ru.ru_maxrss / 1024,
            "orphan_rss": max(orphans, default=None)}


def stream_facts(stream: Path) -> tuple[int, int, int]:
    """(characters, qwen2.5 text tokens, pages) from the doc records of a page stream."""
    chars = tokens = pages = 0
    with open(stream, "rb") as fh:
        for line in fh:
            if line.startswith(b'{"type":"doc"'):
                rec = orjson.loads(line)
                chars, tokens, pages = chars + rec["chars"], tokens + rec["text_tokens"], pages + rec["pages"]
    return chars, tokens, pages


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def headline(inputs: dict[str, tuple[Path, str]], tmp: Path, repeats: int, against: Path | None = None) -> None:
    for key, (path, name) in inputs.items():
        stream = tmp / f"{key}.pages.jsonl"
        run(f"{GLYPH} render -j 2 {path} > {stream}")
        chars, tokens, pages = stream_facts(stream)
        print(f"\n## {key}: {name}\n{chars:,} characters, {tokens:,} qwen2.5 text tokens, {pages:,} pages "
              f"({chars / max(pages, 1):,.0f} characters a page), glyph preset (real line breaks)", flush=True)
        runs = {
            "render -j 2 | pack": f"{GLYPH} render -j 2 {path} | {GLYPH} pack -o {tmp}/out.glyph",
            "render -j 1 | pack": f"{GLYPH} render -j 1 {path} | {GLYPH} pack -o {tmp}/out.glyph",
            "render -j 2 > /dev/null": f"{GLYPH} render -j 2 {path} > /dev/null",
            "render -j 1 > /dev/null": f"{GLYPH} render -j 1 {path} > /dev/null",
            "pack < stream": f"{GLYPH} pack -o {tmp}/out.glyph < {stream}",
        }
        trees = dict.fromkeys(runs, REPO)
        if against:  # the yardstick: the same pipe with another checkout's glyph, in the same minutes
            label = f"render -j 2 | pack, {against}"
            runs[label], trees[label] = runs["render -j 2 | pack"], against
        got: dict[str, list[dict]] = {k: [] for k in runs}
        for _ in range(repeats):
            for label, cmd in runs.items():
                got[label].append(run(cmd, trees[label]))
        print("| run | wall s (median; each run) | CPU s, all processes (median) | load average before runs |")
        print("|---|---|---|---|")
        for label, rs in got.items():
            walls = " / ".join(f"{r['wall']:.2f}" for r in rs)
            loads = " / ".join(f"{r['load']:.1f}" for r in rs)
            print(f"| {label} | {_median([r['wall'] for r in rs]):.2f} ({walls}) | "
                  f"{_median([r['cpu'] for r in rs]):.2f} | {loads} |", flush=True)
        j2, j1 = (_median([r["wall"] for r in got[f"render -j {j} | pack"]]) for j in (2, 1))
        print(f"render -j 2 | pack against -j 1: {j1 / j2:.2f}x faster (wall, medians); target <= 3 s")


def memory(tmp: Path) -> None:
    """Peak RSS of `glyph render -j N` on one 10 MB record (10M characters of the prose corpus)."""
    docs_text = "\n\n".join(d["text"] for d in prose_documents(10**9))
    path = tmp / "ten-mb.jsonl"
    path.write_bytes(orjson.dumps({"id": "ten-mb", "text": _repeat_to(docs_text, 10_000_000)}) + b"\n")
    print("\n## Peak memory, one 10 MB record (10M characters, Python documentation), "
          "`glyph render -j N FILE > /dev/null`")
    print("| workers | render max RSS (the larger of it and its reaped children, e.g. the token counter) "
          "| largest worker process max RSS | wall s | CPU s | load before |")
    print("|---|---|---|---|---|---|")
    for j in (1, 2):
        r = run(f"exec {GLYPH} render -j {j} {path} > /dev/null")
        # the glyph preset's -j N paints in threads: worker processes (and this column) are Pango's flow's
        worker = f"{r['orphan_rss']:.0f} MB" if r["orphan_rss"] is not None else "none"
        print(f"| {j} | {r['rss']:.0f} MB | {worker} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['load']:.1f} |",
              flush=True)


def startup(runs: int, against: Path | None) -> None:
    """Wall and CPU seconds of `glyph render` of a one-line document (imports, tokenizer, fonts),
    this checkout interleaved with another one (e.g. the code before a change)."""
    trees = {"this checkout": REPO} | ({f"{against}": against} if against else {})
    got: dict[str, list[tuple[float, float]]] = {k: [] for k in trees}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        doc = Path(tmp) / "one-line.txt"
        doc.write_text("One line of text.\n")
        for i in range(runs + 1):  # the first round compiles each tree's modules, and is not counted
            for label, tree in trees.items():
                env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
                env.update(PYTHONPATH=str(tree), PYTHONPYCACHEPREFIX=str(PYCACHE / label.replace("/", "_")))
                loads.append(os.getloadavg()[0])
                c0, t0 = _children_cpu(), time.perf_counter()
                subprocess.run([sys.executable, "-m", "glyph_cli", "--quiet", "render", str(doc)],
                               stdout=subprocess.DEVNULL, env=env, check=True, cwd=tmp)
                if i:
                    got[label].append((time.perf_counter() - t0, _children_cpu() - c0))
    print(f"\n## Start-up: `glyph render` of a one-line document, {runs} interleaved runs, "
          f"load average {min(loads):.1f}-{max(loads):.1f}")
    print("| code | wall s, median (min) | CPU s, median |\n|---|---|---|")
    for label, rs in got.items():
        print(f"| {label} | {_median([w for w, _ in rs]):.3f} ({min(w for w, _ in rs):.3f}) | "
              f"{_median([c for _, c in rs]):.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--inputs", default="docs-1,docs-100,prose-1", help="comma-separated: docs-1, docs-100, prose-1")
    ap.add_argument("--memory", action="store_true", help="also peak RSS on a 10 MB record")
    ap.add_argument("--chars", type=int, default=4_400_000, help="characters per input (4.4M: ~1M tokens)")
    ap.add_argument("--startup", type=int, default=0, metavar="RUNS", help="also time start-up, RUNS runs")
    ap.add_argument("--against", type=Path, default=None,
                    help="another glyph checkout (e.g. a git worktree of older code): its render -j 2 | pack "
                         "interleaved with this one's, and its start-up with --startup")
    args = ap.parse_args()
    global TARGET_CHARS
    TARGET_CHARS = args.chars
    reaper = become_subreaper()
    print(f"# glyph headline benchmark: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
          f"CPU of orphaned worker processes {'counted' if reaper else 'NOT counted (no subreaper)'}")
    with tempfile.TemporaryDirectory() as tmp:
        inputs = write_inputs(Path(tmp), [s.strip() for s in args.inputs.split(",") if s.strip()])
        for tree in (REPO, args.against) if args.against else (REPO,):  # compiles the modules once (PYCACHE)
            run(f"{GLYPH} render --sample | {GLYPH} pack > /dev/null", tree)
        headline(inputs, Path(tmp), args.repeats, args.against)
        if args.memory:
            memory(Path(tmp))
    if args.startup:
        startup(args.startup, args.against)


if __name__ == "__main__":
    main()
