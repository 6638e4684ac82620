"""Hostile bundles and resume files beyond tests/test_bundle_hostile.py: duplicate ids in a bundle,
and results lines that parse but are not whole results (never ignored and asked again)."""

from __future__ import annotations

import io

import orjson
import pytest

from glyph_cli.bench import accuracy as acc
from glyph_cli.bundle.pack import Packer
from glyph_cli.bundle.unpack import verify
from glyph_cli.bundle.writer import BundleWriter, PackOptions
from glyph_cli.errors import InputError
from bundle_kit import doc_records, page_png, stream_bytes


def _bundle(tmp_path, docs, name="b.glyph"):
    stream = tmp_path / f"{name}.jsonl"
    stream.write_bytes(stream_bytes(docs))
    out = tmp_path / name
    with open(out, "wb") as fh:
        Packer(BundleWriter(fh, PackOptions(threads=1)), on_duplicate="skip").run([str(stream)])
    return out


def test_verify_reports_a_duplicate_document_id(tmp_path, monkeypatch):
    from glyph_cli.bundle import pack as pack_mod

    a = doc_records("same", "first\n", [page_png(1)])
    b = doc_records("same", "second\n", [page_png(2)])
    monkeypatch.setattr(pack_mod.Packer, "_admit", lambda self, *args: True)  # a writer that does not check
    path = _bundle(tmp_path, [a, b])
    result = verify(str(path), threads=1)
    assert any("duplicate document id" in d.message for d in result.damages)


@pytest.mark.parametrize("line", [
    b'{"type": "resul", "key": "t1|pages", "params_sha256": "x"}',  # parses, wrong type: was ignored
    b'{"type": "result"}',  # no key: was a KeyError
    b'[1, 2]',  # not an object: was an AttributeError
    b'{"type": "result", "key": 5, "params_sha256": "x"}',
])
def test_a_damaged_results_line_is_an_error_naming_file_and_line(tmp_path, line):
    path = tmp_path / "results.jsonl"
    good = orjson.dumps({"type": "result", "key": "t0|pages", "params_sha256": "s"})
    path.write_bytes(good + b"\n" + line + b"\n")
    with pytest.raises(InputError, match=r"results.jsonl:2: not a results line"):
        acc.ResultsFile(path)
    with pytest.raises(InputError, match=r"results.jsonl:2"):
        acc.load_results(path)


def test_bundle_commands_read_stdin(tmp_path):
    from conftest import REPO, glyph_env
    import subprocess
    import sys

    path = _bundle(tmp_path, [doc_records("a", "alpha\n", [page_png(1)])])
    for args in (["ls"], ["verify"], ["verify", "-"]):
        with open(path, "rb") as stdin:
            proc = subprocess.run([sys.executable, "-m", "glyph_cli", *args], stdin=stdin, capture_output=True,
                                  env=glyph_env(), cwd=REPO, timeout=120)
        assert proc.returncode == 0, (args, proc.stderr)
    assert b'"id":"a"' in subprocess.run([sys.executable, "-m", "glyph_cli", "ls"], stdin=open(path, "rb"),
                                         capture_output=True, env=glyph_env(), timeout=120).stdout
