"""Two glyph progress bars on one terminal (a pty): each keeps a row of its own and every redraw
reaches the terminal whole, so neither garbles the other (`glyph render | glyph pack`)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios

from conftest import REPO

CHILD = """
import sys
from glyph_cli import log
log.settings.progress = True
name, steps = sys.argv[1], int(sys.argv[2])
bar = log.progress(total=steps, desc=name, unit="x", mininterval=0, miniters=1)
print("ready", flush=True)
sys.stdin.read(1)  # both bars are open before either moves
for _ in range(steps):
    bar.update(1)
bar.close()
log.info(name + " done")
"""

TOKEN = re.compile(r"\r|\n|\x1b\[A|\x1b\[K|\x1b\[J|[^\r\n\x1b]+")


def test_two_bars_on_one_terminal_do_not_garble_each_other():
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "100"}
    env.pop("CI", None)
    # alpha is short: its closing message comes while beta still draws (as render's before pack's)
    kids = [subprocess.Popen([sys.executable, "-c", CHILD, name, str(steps)], stdin=subprocess.PIPE, stderr=slave,
                             stdout=subprocess.PIPE, env=env) for name, steps in (("alpha", 40), ("beta", 400))]
    os.close(slave)
    out = bytearray()
    for kid in kids:  # read the pty meanwhile: a full pty would stall a child before it is ready
        while not select.select([kid.stdout], [], [], 0.05)[0]:
            if select.select([master], [], [], 0)[0]:
                out += os.read(master, 65536)
        assert kid.stdout.readline() == b"ready\n"
    for kid in kids:
        kid.stdin.write(b"g")
        kid.stdin.close()
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the pty closed: both children are gone
            break
        if not chunk:
            break
        out += chunk
    assert [kid.wait(60) for kid in kids] == [0, 0]
    os.close(master)
    text = out.decode("utf-8", "replace")

    # rows counted from the cursor's home, which only a message's newline moves for good
    row, home, message = 0, 0, False
    rows, bars = {"alpha": set(), "beta": set()}, {"alpha": 0, "beta": 0}
    for token in TOKEN.findall(text):
        if token == "\n":
            row += 1
            home += message
            message = False
        elif token == "\x1b[A":
            row -= 1
        elif token in ("\r", "\x1b[K", "\x1b[J") or not token.strip():
            continue
        else:
            m = re.fullmatch(r"(alpha|beta): +\d+%\|[^|]*\| (\d+)/(40|400) \[[^\]]*\]\s*", token)
            if m is None:  # a line that is not one whole bar: a message, or a garbled redraw
                assert token in ("alpha done", "beta done"), repr(token)
                message = True
                continue
            rows[m[1]].add(row - home)
            bars[m[1]] += 1
    # many redraws each, every one whole and on its process's own row, the two rows different
    assert bars["alpha"] > 20 and bars["beta"] > 20, bars
    assert len(rows["alpha"]) == 1 and len(rows["beta"]) == 1, rows
    assert rows["alpha"] != rows["beta"]


def test_ask_bar_knows_its_total_where_the_inputs_tell_it(tmp_path):
    from conftest import run_glyph
    from glyph_cli.commands.ask import _answers_expected
    from glyph_cli.inputs import document_count
    from glyph_cli.models.ask import Question
    from page_streams import page_stream

    stream = page_stream([("a", "alpha", 1), ("b", "beta", 2), ("c", "gamma", 1)])
    (tmp_path / "p.jsonl").write_bytes(stream)
    (tmp_path / "x.glyph").write_bytes(run_glyph("pack", input=stream, check=True).stdout)
    bundle, pages = str(tmp_path / "x.glyph"), str(tmp_path / "p.jsonl")
    assert document_count([bundle, bundle]) == 6 and document_count([pages]) is None and document_count([]) is None
    every = [Question("0", "Q?"), Question("1", "R?")]
    assert _answers_expected(every, [bundle], True) == 6  # two questions of each of three documents
    assert _answers_expected(every, [pages], True) is None  # a page stream's length is unknown until read
    assert _answers_expected([Question("q", "Q?", doc="b")], [pages], True) == 1
    assert _answers_expected(every, [bundle], False) is None  # no bar: nothing read for it


def test_an_input_bar_counts_bytes_read_against_the_files_sizes(tmp_path, monkeypatch):
    from glyph_cli import log

    if not os.path.isdir("/proc/self/fdinfo"):  # the offsets come from Linux's /proc
        import pytest

        pytest.skip("no /proc/self/fdinfo on this system")
    monkeypatch.setattr(log.settings, "progress", True)
    monkeypatch.setattr(log, "INPUT_POLL_S", 0.0)  # read the offsets at every update
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_bytes(b"a" * 4000)
    second.write_bytes(b"b" * 1000)
    bar = log.input_progress([str(first), "-", str(second)], desc="t", unit="doc")
    assert bar.total == 5000 and bar.unit == "B"
    with open(first, "rb", buffering=0) as fh:
        fh.read(1500)
        bar.update(1)
        assert bar.n == 1500
    with open(second, "rb", buffering=0) as fh:
        fh.read(250)
        bar.update(1)
        assert bar.n == 4250  # the first file, closed, is done; a quarter of the second
    bar.update(1)
    assert bar.n == 5000 and bar.postfix == "3 doc"
    bar.close()
    assert log.input_progress(["-"], desc="t", unit="doc").total is None  # stdin: counted, not measured


def test_a_bar_that_is_off_costs_no_tqdm():
    """Off (no terminal, --quiet): the bar takes every call a bar takes, and tqdm is not even imported
    (35 ms of each run) nor its monitor thread started."""
    code = ("import sys, threading\n"
            "from glyph_cli import log\n"
            "log.settings.quiet = True\n"
            "with log.progress(total=3, desc='x', unit='page', unit_scale=True) as bar:\n"
            "    bar.update(2); bar.set_postfix(pages=1, refresh=False); bar.set_postfix_str('1 doc'); bar.refresh()\n"
            "    bar.n = 2; assert bar.total == 3\n"
            "b = log.input_progress([sys.executable], desc='render', unit='doc'); b.update(1); b.close()\n"
            "assert 'tqdm' not in sys.modules, 'tqdm imported'\n"
            "assert threading.active_count() == 1\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
