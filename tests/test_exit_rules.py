"""The rules of README's "Failure rules", tried in every command that reads input or writes output.

One table per rule, one row per command, each row one run of the real entry point:
- a bad input: exit 1, one `Type: message` line naming the file:line (or the bundle), no traceback,
  no output file;
- one bad record under `--on-error skip` (`--salvage` for unpack): exit 1 and the count on stderr;
- a usage or config error: exit 2 before any output file appears (also with -j 2);
- SIGTERM or SIGINT in the middle of a write: exit 130, `Interrupted`, no temporary file left and
  nothing that looks complete. The command reads its input from a pipe that the test holds open, so
  the signal lands while the output is half written, on any machine and load.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

from bundle_kit import doc_records, page_png, stream_bytes
from conftest import glyph_env, run_glyph
from fake_openai_server import FakeServer
from glyph_cli.bench.tasks import ruler


class _Server(FakeServer):
    """Fails (400) every question that contains `fail_marker`."""

    fail_marker: str | None = None

    def next_action(self, question: str) -> str:
        if self.fail_marker and self.fail_marker in question:
            return "400"
        return super().next_action(question)


@pytest.fixture(scope="module")
def server():
    srv = _Server().start()
    yield srv
    srv.stop()


def _jsonl(rows: list[dict]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


@pytest.fixture(scope="module")
def f(tmp_path_factory, server):
    d = tmp_path_factory.mktemp("inputs")
    docs = [{"id": "a", "text": "Alpha document."}, {"id": "b", "text": "Bravo document."},
            {"id": "c", "text": "Charlie document."}]
    (d / "docs.jsonl").write_bytes(_jsonl(docs))
    (d / "bad.jsonl").write_bytes(_jsonl(docs[:1]) + b'{"id": "b", "text": \n' + _jsonl(docs[2:]))
    stream = stream_bytes([doc_records(i, f"Text of {i}.\n", [page_png(n)]) for n, i in enumerate("abc")])
    (d / "pages.jsonl").write_bytes(stream)
    lines = stream.splitlines(keepends=True)
    (d / "bad-pages.jsonl").write_bytes(b"".join(lines[:2]) + b'{"type": "doc", \n' + b"".join(lines[2:]))
    bundle = d / "b.glyph"
    run_glyph("pack", "-o", str(bundle), input=stream, check=True)
    data = bytearray(bundle.read_bytes())
    data[len(data) // 4] ^= 0xFF  # inside the first document's frame
    (d / "damaged.glyph").write_bytes(bytes(data))
    words = lambda s: len(s.split())  # noqa: E731
    tasks = [ruler.generate("niah_single_1", 300, words, index=i).to_record("words") for i in range(2)]
    (d / "tasks.jsonl").write_bytes(_jsonl(tasks))
    (d / "bad-results.jsonl").write_bytes(b'{"type": "resul", "key": "t|pages", "params_sha256": "x"}\n')
    (d / "bad-tasks.jsonl").write_bytes(_jsonl(tasks[:1]) + b'{"id": "t9"}\n')
    qs = [{"id": "q1", "doc": "a", "question": "First?", "answer": "x"},
          {"id": "q3", "doc": "c", "question": "Third?", "answer": "y"}]
    (d / "bad-questions.jsonl").write_bytes(_jsonl(qs[:1]) + b'{"id": "q2", "doc": \n' + _jsonl(qs[1:]))
    return SimpleNamespace(dir=d, url=server.base_url, task_question=tasks[1]["question"],
                           stream_lines=lines, bundle=bundle.read_bytes(), docs=docs)


def _args(template: list[str], f, out: Path) -> list[str]:
    return [a.format(d=f.dir, out=out, url=f.url) for a in template]


def _files(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def _error_line(stderr: bytes) -> str:
    err = stderr.decode()
    assert "Traceback" not in err, err
    return err.strip().splitlines()[-1] if err.strip() else ""


ASK = ["--base-url", "{url}", "--retries", "0"]

# (command, arguments, what the message must name). Bundle commands list the damage above the line.
BAD_INPUT = [
    ("render", ["render", "{d}/bad.jsonl"], "bad.jsonl:2"),
    ("pack", ["pack", "{d}/bad-pages.jsonl", "-o", "{out}/x.glyph"], "bad-pages.jsonl:3"),
    ("unpack", ["unpack", "{d}/damaged.glyph", "-d", "{out}/o"], "damaged.glyph"),
    ("unpack --doc", ["unpack", "{d}/b.glyph", "--doc", "nosuch", "-d", "{out}/o"], "b.glyph: no document"),
    ("ls", ["ls", "{d}/bad-pages.jsonl"], "bad-pages.jsonl"),
    ("verify", ["verify", "{d}/damaged.glyph"], "damaged.glyph"),
    ("ask", ["ask", "{d}/bad-pages.jsonl", "-q", "Q?", "-o", "{out}/a.jsonl", *ASK], "bad-pages.jsonl:3"),
    ("bench compression", ["bench", "compression", "{d}/bad.jsonl", "--report", "{out}/r"], "bad.jsonl:2"),
    ("bench accuracy", ["bench", "accuracy", "{d}/bad-tasks.jsonl", "-r", "{out}/r.jsonl", *ASK],
     "bad-tasks.jsonl:2"),
    ("bench accuracy results", ["bench", "accuracy", "{d}/tasks.jsonl", "-r", "{d}/bad-results.jsonl",
                                "--base-url", "http://127.0.0.1:9/v1"], "bad-results.jsonl:1"),  # before the server
    ("bench speed", ["bench", "speed", "{d}/bad.jsonl", "--rounds", "1"], "bad.jsonl:2"),
    ("export", ["export", "{d}/bad-pages.jsonl", "{out}/e", "--to", "parquet"], "bad-pages.jsonl:3"),
    ("train data", ["train", "data", "{d}/bad-pages.jsonl", "-d", "{out}/t"], "bad-pages.jsonl:3"),
    ("search run", ["search", "run", "{d}/bad.jsonl", "--budget", "1", "--study", "{out}/s.journal"],
     "bad.jsonl:2"),
]


@pytest.mark.parametrize("name,template,where", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_exit_1_and_one_line_naming_it(f, tmp_path, name, template, where):
    proc = run_glyph(*_args(template, f, tmp_path))
    line = _error_line(proc.stderr)
    assert proc.returncode == 1, proc.stderr.decode()
    assert where in line and line.split(":")[0].endswith("Error"), line
    if name not in ("unpack", "verify", "ls"):  # those list each damaged member first
        assert len(proc.stderr.decode().strip().splitlines()) == 1, proc.stderr.decode()
    assert _files(tmp_path) == [], "a failed run left output"


# (command, arguments): each input holds one bad record among good ones
SKIP = [
    ("render", ["render", "{d}/bad.jsonl", "--on-error", "skip"]),
    ("render -j 2", ["render", "{d}/bad.jsonl", "--on-error", "skip", "-j", "2"]),
    ("unpack --salvage", ["unpack", "{d}/damaged.glyph", "--salvage"]),
    ("ask", ["ask", "{d}/pages.jsonl", "--questions", "{d}/bad-questions.jsonl", "--on-error", "skip", *ASK]),
    ("bench compression", ["bench", "compression", "{d}/bad.jsonl", "--on-error", "skip", "--format", "jsonl"]),
    ("bench accuracy", ["bench", "accuracy", "{d}/tasks.jsonl", "-r", "{out}/r.jsonl", "--on-error", "skip",
                        "--as-text", *ASK]),
    ("train data", ["train", "data", "{d}/pages.jsonl", "-d", "{out}/t", "-t", "instruct", "--questions",
                    "{d}/bad-questions.jsonl", "--on-error", "skip"]),
]


@pytest.mark.parametrize("name,template", SKIP, ids=[c[0] for c in SKIP])
def test_skipping_a_record_is_exit_1_and_counted(f, server, tmp_path, name, template):
    server.fail_marker = f.task_question if name == "bench accuracy" else None  # the backend fails one
    proc = run_glyph(*_args(template, f, tmp_path))
    err = proc.stderr.decode()
    _error_line(proc.stderr)
    assert proc.returncode == 1, err
    assert "1 record(s) skipped" in err or "problem(s)" in err, err
    assert proc.stdout or _files(tmp_path), "the good records were not written"


# (command, arguments): each a usage or config error that must be found before any output exists
USAGE = [
    ("render -j 2", ["render", "{d}/docs.jsonl", "-j", "2", "-d", "{out}/o", "--font-path", "/no/such.ttf"]),
    ("render --shard-dir", ["render", "{d}/docs.jsonl", "--shard-dir", "{out}/s", "-d", "{out}/o"]),
    ("pack", ["pack", "{d}/pages.jsonl", "-o", "{out}/x.glyph", "--level", "99"]),
    ("unpack", ["unpack", "{d}/b.glyph", "-d", "{out}/o", "--verify", "--salvage"]),
    ("ls", ["ls", "{d}/b.glyph", "--format", "yaml"]),
    ("verify", ["verify", "{d}/b.glyph", "--threads", "-1"]),
    ("ask", ["ask", "{d}/pages.jsonl", "-o", "{out}/a.jsonl", *ASK]),
    ("ask --template", ["ask", "{d}/pages.jsonl", "-q", "Q?", "--template", "{d}/none.txt", "-o", "{out}/a", *ASK]),
    ("bench compression", ["bench", "compression", "{d}/docs.jsonl", "--report", "{out}/r", "--family", "x"]),
    ("bench accuracy", ["bench", "accuracy", "{d}/tasks.jsonl", "-r", "{out}/r.jsonl", "-p", "bogus", *ASK]),
    ("bench speed", ["bench", "speed", "{d}/docs.jsonl", "--rounds", "0"]),
    ("export", ["export", "{d}/pages.jsonl", "{out}/e", "--to", "tiff"]),
    ("train data", ["train", "data", "{d}/pages.jsonl", "-d", "{out}/t", "-t", "bogus"]),
    ("search run", ["search", "run", "{d}/docs.jsonl", "--study", "{out}/s.journal", "--proposer", "x"]),
]


@pytest.mark.parametrize("name,template", USAGE, ids=[c[0] for c in USAGE])
def test_usage_error_is_exit_2_before_any_output(f, tmp_path, name, template):
    proc = run_glyph(*_args(template, f, tmp_path))
    _error_line(proc.stderr)
    assert proc.returncode == 2, proc.stderr.decode()
    assert list(tmp_path.iterdir()) == [], "output appeared before the usage error"
    assert proc.stdout == b""


# -- interrupted writes -------------------------------------------------------------------------------

def _doc_lines(f) -> tuple[bytes, bytes]:
    first = {"id": "long", "text": "A line of text that fills a page or two.\n" * 400}
    return _jsonl([first]), _jsonl(f.docs)


def _stream_parts(f) -> tuple[bytes, bytes]:
    return b"".join(f.stream_lines[:2]), b"".join(f.stream_lines[2:])


def _bundle_parts(f) -> tuple[bytes, bytes]:
    return f.bundle[: len(f.bundle) // 2], f.bundle[len(f.bundle) // 2:]


# (command, arguments, (first part of stdin, the rest), where the output goes, what may stay after)
WRITERS = [
    ("render --out-dir", ["render", "-", "-d", "{out}/o"], _doc_lines, "{out}", ()),
    ("render stdout", ["render", "-"], _doc_lines, "stdout", ()),
    ("pack -o", ["pack", "-", "-o", "{out}/x.glyph"], _stream_parts, "{out}", ()),
    ("unpack --out-dir", ["unpack", "-", "-d", "{out}/o"], _bundle_parts, "{out}", ()),
    ("ask -o", ["ask", "-", "-q", "Q?", "-o", "{out}/a.jsonl", *ASK], _stream_parts, "{out}", ()),
    ("export", ["export", "-", "{out}/e", "--to", "parquet", "--shard-pages", "1"], _stream_parts, "{out}",
     ("e/_manifest.json", "e/part-00000.parquet")),  # finished shards stay for the rerun to skip
    ("train data", ["train", "data", "-", "-d", "{out}/t"], _stream_parts, "{out}", ()),
]


def _interrupt(args: list[str], stdin_parts, out: Path, watch: str, sig: int) -> subprocess.CompletedProcess:
    first, rest = stdin_parts
    stdout = open(out / "stdout.jsonl", "wb") if watch == "stdout" else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "glyph_cli", *args], stdin=subprocess.PIPE, stdout=stdout,
                            stderr=subprocess.PIPE, env=glyph_env(),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    proc.stdin.write(first)
    proc.stdin.flush()
    deadline = time.monotonic() + 60

    def writing() -> bool:
        if watch == "stdout":
            return (out / "stdout.jsonl").stat().st_size > 0
        return any(p.name != "stdout.jsonl" for p in out.iterdir())

    while not writing() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, f"it ended before the signal: {proc.stderr.read().decode()}"
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(rest, timeout=60)
    except BrokenPipeError:
        _, err = proc.communicate(timeout=60)
    if watch == "stdout":
        stdout.close()
    return subprocess.CompletedProcess(args, proc.returncode, b"", err)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("name,template,parts,watch,may_stay", WRITERS, ids=[c[0] for c in WRITERS])
def test_a_signal_mid_write_is_130_and_leaves_no_temporary_file(f, tmp_path, name, template, parts, watch,
                                                                   may_stay, sig):
    proc = _interrupt(_args(template, f, tmp_path), parts(f), tmp_path, watch, sig)
    err = proc.stderr.decode()
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "Interrupted", err
    assert "Traceback" not in err, err
    left = [p for p in _files(tmp_path) if p != "stdout.jsonl"]
    assert [p for p in left if p not in may_stay] == [], left
    assert not [p for p in tmp_path.rglob("*") if p.is_dir() and p.name.endswith((".part", ".partial"))]
    if watch == "stdout":  # what was written is not a whole page stream: its end record is missing
        lines = (tmp_path / "stdout.jsonl").read_bytes().splitlines()
        assert lines and b'"type":"end"' not in lines[-1]


# -- a signal right after start-up -----------------------------------------------------------------------

def _catches_sigterm(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    except OSError:
        pass
    return False


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the signal mask in /proc")
def test_a_signal_right_after_start_up_is_130(tmp_path):
    """From the moment glyph's SIGTERM handler is in (the first thing glyph_cli/__main__.py does, seen in
    /proc/PID/status), through the app's imports, typer's set-up and the first page: a signal at any
    of those moments is exit 130 with nothing left. (Before that moment is the interpreter's own
    start-up, which no handler covers: glyph_cli/interrupts.py.) The -j 2 runs get SIGINT as a
    terminal's Ctrl-C does, the whole process group at once, workers and forkserver included."""
    import random

    text = tmp_path / "in.txt"
    text.write_text("A line of text that goes on for a while to fill pages.\n" * 4000)
    rng = random.Random(13)
    delays = [0.0, 0.0, 0.002, 0.01, 0.03, 0.08, *(rng.uniform(0, 0.4) for _ in range(4))]
    for i, delay in enumerate(delays):
        sig = (signal.SIGTERM, signal.SIGINT)[i % 2]
        group = i >= len(delays) - 2
        if group:
            sig = signal.SIGINT
        extra = ["-j", "2"] if group else []
        proc = subprocess.Popen([sys.executable, "-m", "glyph_cli", "render", str(text), "--out-dir",
                                 str(tmp_path / f"out{i}"), *extra], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=glyph_env(), start_new_session=group,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        while not _catches_sigterm(proc.pid) and proc.poll() is None:
            time.sleep(0.0005)
        time.sleep(delay)
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, (sig.name, delay, extra, err.decode()[-2000:])
        assert "Traceback" not in err.decode()
        assert [p.name for p in tmp_path.iterdir()] == ["in.txt"], (sig.name, delay)
