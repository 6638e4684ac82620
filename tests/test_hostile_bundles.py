"""Hostile bundles that once got past the reader's checks (issue 13, class 6): each is refused or
reported with an error that names what is wrong, never a raw traceback."""

from __future__ import annotations

import orjson
import pytest

from bundle_kit import header_member, raw_header, zstd_bundle
from conftest import run_glyph
from glyph_cli.bundle import tarball
from glyph_cli.bundle.records import store_doc


def _declaring(name: bytes, size_field: bytes) -> bytes:
    """A ustar header whose size field holds `size_field` (12 octal digits fill it, no NUL)."""
    block = bytearray(raw_header(name, 0))
    block[124:136] = size_field
    block[148:156] = b" " * 8
    block[148:156] = f"{sum(block):06o}".encode() + b"\0 "
    return bytes(block)


def _doc_member() -> bytes:
    record, _ = store_doc({"type": "doc", "v": 1, "id": "a", "text": "hello", "pages": 0})
    doc = orjson.dumps(record)
    return tarball.header("d000000/doc.json", len(doc)) + doc + tarball.padding(len(doc))


@pytest.mark.parametrize("member", [b"d000000/doc.json", b"d000000/doc.txt"])
@pytest.mark.parametrize("command", [("verify",), ("unpack", "--salvage"), ("unpack",)])
def test_a_member_declaring_8_gib_is_a_bundle_error(tmp_path, member, command):
    tar = header_member() + (_doc_member() if member.endswith(b".txt") else b"")
    tar += _declaring(member, b"100000000000") + b"x" * 5000  # 8 GiB declared, 5000 bytes behind it
    path = tmp_path / "big.glyph"
    path.write_bytes(zstd_bundle(tar))
    proc = run_glyph(*command, str(path))
    assert proc.returncode == 1, proc.stderr
    assert b"BundleError" in proc.stderr and b"FrameError" not in proc.stderr
    assert b"declares 8589934592 bytes" in proc.stderr and member in proc.stderr
