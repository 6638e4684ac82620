"""Bundles written by earlier glyph versions stay readable, byte for byte.

tests/bundles/v1-2026-12-01.glyph was written by `glyph pack` (defaults: zstd level 3, long window
27, pages as bands) at commit b52a00b, before pack's speed work changed its zstd settings and page
encoder, from `glyph render` of three small documents (prose, and one with non-ASCII text, tabs and
runs of spaces). The sha256 values below are of that page stream and of its `--text` output.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson

from conftest import run_glyph

OLD = Path(__file__).parent / "bundles" / "v1-2026-12-01.glyph"
PAGE_STREAM_SHA256 = "906d0f6804346b06bdd76ef65b9f49d02a2868a0022cb4aa1a91143ccf46aa3c"
TEXT_SHA256 = "e31717c8cae0614b71f9a91e3dc625da7e740b036c89adf2d7c01c38ad64eb39"


def test_an_old_bundle_unpacks_to_the_page_stream_it_was_packed_from():
    out = run_glyph("unpack", str(OLD), check=True).stdout
    assert hashlib.sha256(out).hexdigest() == PAGE_STREAM_SHA256
    kinds = [orjson.loads(line)["type"] for line in out.splitlines()]
    assert kinds.count("doc") == 3 and kinds.count("page") == 4 and kinds[-1] == "end"


def test_an_old_bundle_verifies_lists_and_gives_back_its_texts():
    assert run_glyph("verify", str(OLD)).returncode == 0
    text = run_glyph("unpack", "--text", str(OLD), check=True).stdout
    assert hashlib.sha256(text).hexdigest() == TEXT_SHA256
    listed = [orjson.loads(line) for line in run_glyph("ls", str(OLD), check=True).stdout.splitlines()]
    assert [line["type"] for line in listed] == ["doc", "doc", "doc", "end"]
    assert [line["pages"] for line in listed] == [1, 2, 1, 4]


def test_an_old_bundle_merges_into_a_new_one_unchanged(tmp_path):
    merged = tmp_path / "merged.glyph"
    run_glyph("pack", str(OLD), "-o", str(merged), check=True)
    out = run_glyph("unpack", str(merged), check=True).stdout
    assert hashlib.sha256(out).hexdigest() == PAGE_STREAM_SHA256
