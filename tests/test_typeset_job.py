"""The render job through the real entry point: worker set-up errors and the glyph flow end to end."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from conftest import run_glyph


def test_font_error_with_workers_is_one_line_and_exit_2_as_without():
    for jobs in ("1", "2"):
        proc = run_glyph("render", "-j", jobs, "--font", "No Such Font", "--input-format", "text", input=b"hello\n")
        err = proc.stderr.decode().strip().splitlines()
        assert proc.returncode == 2, proc.stderr.decode()
        assert len(err) == 1 and "No Such Font" in err[0] and "Traceback" not in proc.stderr.decode()


def test_inf_in_a_config_file_is_a_config_error(tmp_path):
    (tmp_path / "c.json").write_text('{"font-size": Infinity}')
    proc = run_glyph("render", "--config", str(tmp_path / "c.json"), "--print-config")
    assert proc.returncode == 2 and "finite" in proc.stderr.decode()


def test_glyph_preset_stream_with_two_workers_equals_one():
    docs = "".join(json.dumps({"id": f"d{i}", "text": ("Prose  with runs\tand tabs.\n" * (50 * i + 1))}) + "\n"
                   for i in range(4)).encode()
    one = run_glyph("render", "-j", "1", "--input-format", "jsonl", input=docs, check=True).stdout
    two = run_glyph("render", "-j", "2", "--input-format", "jsonl", input=docs, check=True).stdout
    assert one == two and one.count(b'"type":"page"') >= 4


def test_bad_record_with_workers_behaves_as_without():
    good = [json.dumps({"id": f"d{i}", "text": "Some prose here.\n" * (120 * i + 5)}) for i in range(3)]
    docs = ("\n".join([good[0], "{not json", good[1], good[2]]) + "\n").encode()
    for policy in ("skip", "fail"):
        outs = [run_glyph("render", "-j", j, "--input-format", "jsonl", "--on-error", policy, input=docs)
                for j in ("1", "2")]
        assert outs[0].returncode == outs[1].returncode == 1  # a skipped record is never exit 0
        assert outs[0].stdout == outs[1].stdout and outs[0].stdout.count(b'"type":"doc"') == (3 if policy == "skip" else 1)


def _session_processes(sid: int) -> list[int]:
    import os

    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = open(f"/proc/{name}/stat").read()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[3]) == sid and fields[0] != "Z":  # field 6 of stat: the session id
                out.append(int(name))
    return out


def test_sigterm_and_sigkill_with_workers_leave_no_process(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import glyph_env

    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"d{i}", "text": "Words of prose. " * 20000}) + "\n" for i in range(40)))
    for sig, code in ((signal.SIGTERM, 130), (signal.SIGKILL, -9)):
        p = subprocess.Popen([sys.executable, "-m", "glyph_cli", "render", "-j", "2", str(src)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=glyph_env(),
                             start_new_session=True)
        time.sleep(2.0)
        p.send_signal(sig)
        err = p.communicate(timeout=60)[1].decode()
        assert p.returncode == code, err
        deadline = time.time() + 10
        while _session_processes(p.pid) and time.time() < deadline:
            time.sleep(0.2)
        left = _session_processes(p.pid)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        assert not left, f"{sig!r}: processes left behind: {left}"
        if sig == signal.SIGTERM:
            assert "Traceback" not in err and err.strip().splitlines()[-1] == "Interrupted"


# -- the worker pipeline, in process, with small limits so that small documents cross them -------

def _stream(tmp_path, monkeypatch, docs, workers, preset="glyph", style=None, **limits) -> tuple[list[bytes], int, int]:
    """(records as JSON lines, skipped records, worker pools started) of a render job."""
    from glyph_cli import log
    from glyph_cli.streams.io import dumps
    from glyph_cli.typeset import job
    from glyph_cli.typeset.config import resolve_config

    for name, value in limits.items():
        monkeypatch.setattr(job, name, value)
    monkeypatch.setattr(job, "usable_workers", lambda n: n)  # two workers even on a one-CPU machine
    started = []
    start = job._Pipeline._start
    monkeypatch.setattr(job._Pipeline, "_start", lambda self: (started.append(1), start(self)))
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    cfg = resolve_config(preset, None, {"page_size": "300,160", **(style or {})})  # a few lines a page: many pages
    policy = log.ErrorPolicy("skip")
    out = [dumps(r) for r in job.RenderJob(cfg=cfg, inputs=[str(path)], workers=workers).records(policy)]
    return out, policy.failed, len(started)


def _docs(n_lines: int) -> list[dict]:
    para = "A line of prose,  with a run of spaces\tand a tab, long enough to wrap on a narrow page. "
    return [{"id": "empty", "text": ""}, {"id": "one", "text": "Just one line."},
            {"id": "long", "text": "".join(f"{i}: {para * (i % 3 + 1)}\n" for i in range(n_lines))},
            {"id": "nl", "text": "\n" * 40 + "after the blank lines\n"},
            {"id": "tail", "text": "".join(f"{para}{i}\n" for i in range(30))},
            # lines Pango shapes (right-to-left, combining marks) are drawn by the parent, the rest on threads
            {"id": "mixed", "text": "".join(f"{i} שלום עולם e\u0301 مرحبا {para}\n" for i in range(12))}]


def test_pipeline_output_equals_one_process_in_both_flows(tmp_path, monkeypatch):
    # an indent and justified lines: a page range drawn from the wrong paragraph state would show
    for preset, style in (("glyph", None), ("glyph-marker", {"first_line_indent": 12, "alignment": "justify"}),
                          ("glyph-marker", {"newline": "break", "first_line_indent": -8})):
        one, _, _ = _stream(tmp_path, monkeypatch, _docs(120), 1, preset, style)
        # batches of 2 pages, 3 in flight: the long document is drawn while it is still laid out;
        # in Pango's flow (glyph-marker) documents over 2,000 chars go by page ranges, the others whole
        two, failed, pools = _stream(tmp_path, monkeypatch, _docs(120), 2, preset, style, POOL_AFTER_CHARS=0,
                                     FLOW_BATCH=2, DRAW_AHEAD=3, ENCODE_AHEAD=1, WHOLE_CHARS=2000)
        assert pools == 1 and failed == 0
        assert sum(b'"type":"page"' in r for r in one) > 20
        assert two == one, (preset, style)


def test_pipeline_draws_in_the_parent_below_the_threshold(tmp_path, monkeypatch):
    one, _, _ = _stream(tmp_path, monkeypatch, _docs(20), 1, "glyph-marker")
    two, _, pools = _stream(tmp_path, monkeypatch, _docs(20), 2, "glyph-marker")  # far below POOL_AFTER_CHARS
    assert pools == 0 and two == one
    # the words flow encodes on threads, which cost nothing to start: from the first page
    one, _, _ = _stream(tmp_path, monkeypatch, _docs(20), 1)
    two, _, pools = _stream(tmp_path, monkeypatch, _docs(20), 2)
    assert pools == 1 and two == one


def test_pipeline_skips_a_document_that_fails_as_one_process_does(tmp_path, monkeypatch):
    from glyph_cli.typeset.render import Renderer

    prepare = Renderer.prepare

    def failing(self, doc):
        if doc.id == "nl":
            raise ValueError("broken")
        return prepare(self, doc)

    monkeypatch.setattr(Renderer, "prepare", failing)
    one, failed_one, _ = _stream(tmp_path, monkeypatch, _docs(60), 1)
    two, failed_two, pools = _stream(tmp_path, monkeypatch, _docs(60), 2, POOL_AFTER_CHARS=0, FLOW_BATCH=2,
                                     DRAW_AHEAD=3)
    assert failed_one == failed_two == 1 and pools == 1
    assert two == one and not any(b'"id":"nl"' in r for r in two)


def test_workers_in_a_pipe_to_head_end_quietly_and_leave_no_process(tmp_path):
    import subprocess
    import sys
    import time

    from conftest import glyph_env

    src = tmp_path / "in.jsonl"  # long enough for the workers to start (POOL_AFTER_CHARS)
    src.write_text(json.dumps({"id": "d", "text": "Words of prose, on and on. " * 18000}) + "\n")
    p = subprocess.Popen(f"{sys.executable} -m glyph_cli render -j 2 {src} | head -c 10; exit ${{PIPESTATUS[0]}}",
                         shell=True, executable="/bin/bash", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=glyph_env(), start_new_session=True)
    out, err = p.communicate(timeout=120)
    assert len(out) == 10 and p.returncode == 141, err.decode()  # ended by SIGPIPE, as without workers
    assert err == b"", err.decode()  # no traceback, no leaked-semaphore warning
    deadline = time.time() + 10
    while _session_processes(p.pid) and time.time() < deadline:
        time.sleep(0.2)
    assert not _session_processes(p.pid)


def test_render_and_pack_widen_the_pipe_between_them(tmp_path):
    """A 64 KiB pipe holds about one page record: render and pack would take turns. Both ask for 1 MiB
    (where the system allows it); anything that is not a pipe is left alone."""
    import fcntl

    from glyph_cli.streams.io import PIPE_BYTES, widen_pipe

    F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)
    r, w = os.pipe()
    with os.fdopen(r, "rb") as reader, os.fdopen(w, "wb") as writer:
        before = fcntl.fcntl(writer.fileno(), F_GETPIPE_SZ)
        widen_pipe(writer)
        after = fcntl.fcntl(reader.fileno(), F_GETPIPE_SZ)
        limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        assert after == (PIPE_BYTES if limit >= PIPE_BYTES else before)
    with open(tmp_path / "file", "wb") as plain:
        widen_pipe(plain)  # a file: nothing happens, nothing raised
    widen_pipe(io.BytesIO())  # no descriptor at all
