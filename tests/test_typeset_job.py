"""The render job through the real entry point: worker set-up errors and the glyph flow end to end."""

from __future__ import annotations

import json

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
