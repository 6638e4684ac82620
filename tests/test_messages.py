"""Messages through the real CLI (issue 9, point 5): each says what is wrong in the user's terms."""

from __future__ import annotations

import subprocess
import sys

from conftest import glyph_env, run_glyph
from page_streams import page_stream


def test_a_file_that_is_not_a_bundle_is_not_called_damaged(tmp_path):
    stream = tmp_path / "pages.jsonl"
    stream.write_bytes(page_stream([("a", "alpha", 1)]))
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": "a", "text": "alpha"}\n')
    for command in ("ls", "verify", "unpack"):
        for path, holds in ((stream, b"holds a page stream"), (docs, b"holds documents")):
            proc = run_glyph(command, str(path))
            assert proc.returncode == 1 and b"not a glyph bundle" in proc.stderr and holds in proc.stderr
            assert b"damaged" not in proc.stderr and b"incomplete" not in proc.stderr, proc.stderr
    with open(stream, "rb") as fh:  # glyph ls < pages.jsonl
        proc = subprocess.run([sys.executable, "-m", "glyph_cli", "ls"], stdin=fh, capture_output=True,
                              env=glyph_env(), timeout=120)
    assert proc.returncode == 1 and b"<stdin>: not a glyph bundle" in proc.stderr


def test_an_empty_file_is_not_a_bundle_and_lists_nothing(tmp_path):
    empty = tmp_path / "x.glyph"
    empty.write_bytes(b"")
    for command in ("ls", "verify", "unpack"):
        proc = run_glyph(command, str(empty))
        assert proc.returncode == 1 and b"not a glyph bundle (it is empty)" in proc.stderr, proc.stderr
        assert proc.stdout == b"" and b"incomplete" not in proc.stderr


def test_an_unknown_bench_suite_says_so():
    proc = run_glyph("bench", "tasks", "rulerr")
    assert proc.returncode == 2 and b"unknown bench suite 'rulerr'" in proc.stderr and b"ruler" in proc.stderr


def test_on_duplicate_says_what_it_did(tmp_path):
    stream = page_stream([("a", "alpha", 1)])
    for policy, said in (("replace", b"replaced by a later copy"), ("skip", b"skipped")):
        proc = run_glyph("pack", "--on-duplicate", policy, "-o", str(tmp_path / f"{policy}.glyph"),
                         input=stream + stream)
        assert proc.returncode == 0 and b"1 duplicate document(s) " + said in proc.stderr, proc.stderr


def test_a_bundle_command_typed_alone_does_not_wait_on_the_keyboard():
    import os
    import pty

    master, slave = pty.openpty()
    try:
        for command in ("ls", "verify", "unpack"):
            proc = subprocess.run([sys.executable, "-m", "glyph_cli", command], stdin=slave, capture_output=True,
                                  env=glyph_env(), timeout=120)
            assert proc.returncode == 2 and b"no bundle given" in proc.stderr, proc.stderr
    finally:
        os.close(master)
        os.close(slave)
