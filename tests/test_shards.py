"""glyph render --shard-dir: shard bundles with markers, resumed after a kill, skipped only when
the recorded parameters match."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from conftest import REPO, glyph_env, run_glyph


def corpus(path, n=160):
    path.write_text("".join(json.dumps({"id": f"doc-{i}", "text": f"Document {i}. " * (60 + i % 50)}) + "\n"
                            for i in range(n)))
    return path


def stream_docs(data: bytes) -> dict:
    """doc id -> its records (doc and pages), from a page stream."""
    docs: dict = {}
    for line in data.splitlines():
        rec = json.loads(line)
        if rec["type"] == "doc":
            docs[rec["id"]] = [rec]
        elif rec["type"] == "page":
            docs[rec["doc"]].append(rec)
    return docs


def test_resume_after_a_kill_gives_the_bundles_of_a_clean_run(tmp_path):
    src = corpus(tmp_path / "docs.jsonl")
    args = ["render", str(src), "--dpi", "40", "--shards", "8", "--shard-dir"]
    out = tmp_path / "resumed"
    proc = subprocess.Popen([sys.executable, "-m", "glyph_cli", *args, str(out)], env=glyph_env(), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "shard-00001-of-00008.done.json").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "render ended before the kill"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    markers = sorted(p.name for p in out.glob("*.done.json"))
    assert 2 <= len(markers) < 8, markers
    bundles = sorted(p.name for p in out.glob("*.glyph"))
    assert len(bundles) == len(markers)  # a shard cut short left no bundle under its final name

    rerun = run_glyph(*args, str(out), check=True)
    for name in markers:
        k = int(name[6:11])
        assert f"shard {k}/8: finished earlier with the same parameters".encode() in rerun.stderr
    assert rerun.stderr.count(b"skipping") == len(markers)

    clean = tmp_path / "clean"
    run_glyph(*args, str(clean), check=True)
    for k in range(8):
        name = f"shard-{k:05d}-of-00008.glyph"
        assert (out / name).read_bytes() == (clean / name).read_bytes()

    whole = stream_docs(run_glyph("render", str(src), "--dpi", "40", check=True).stdout)
    merged: dict = {}
    for k in range(8):
        merged.update(stream_docs(run_glyph("unpack", str(out / f"shard-{k:05d}-of-00008.glyph"), check=True).stdout))
    assert merged == whole


def test_changed_parameters_render_again_and_one_shard_matches_stdout(tmp_path):
    src = corpus(tmp_path / "docs.jsonl", n=12)
    out = tmp_path / "shards"
    run_glyph("render", str(src), "--dpi", "40", "--shard", "2/3", "--shard-dir", str(out), check=True)
    assert sorted(p.name for p in out.iterdir()) == ["shard-00002-of-00003.done.json", "shard-00002-of-00003.glyph"]
    marker = json.loads((out / "shard-00002-of-00003.done.json").read_text())
    assert marker["params"]["shard"] == [2, 3] and marker["docs"] >= 1
    same = run_glyph("render", str(src), "--dpi", "40", "--shard", "2/3", "--shard-dir", str(out), check=True)
    assert b"skipping" in same.stderr
    other = run_glyph("render", str(src), "--dpi", "44", "--shard", "2/3", "--shard-dir", str(out), check=True)
    assert b"other parameters" in other.stderr and b"skipping" not in other.stderr
    unpacked = run_glyph("unpack", str(out / "shard-00002-of-00003.glyph"), check=True).stdout
    direct = run_glyph("render", str(src), "--dpi", "44", "--shard", "2/3", check=True).stdout
    assert stream_docs(unpacked) == stream_docs(direct)
    assert json.loads((out / "shard-00002-of-00003.done.json").read_text())["docs"] == len(stream_docs(direct))


def test_shard_dir_usage_errors(tmp_path):
    src = corpus(tmp_path / "docs.jsonl", n=2)
    assert run_glyph("render", str(src), "--shards", "2").returncode == 2
    assert run_glyph("render", str(src), "--shard-dir", str(tmp_path / "x")).returncode == 2
    piped = run_glyph("render", "--shards", "2", "--shard-dir", str(tmp_path / "y"), input=src.read_bytes())
    assert piped.returncode == 2 and b"stdin" in piped.stderr
