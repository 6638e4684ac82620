"""What reading a bundle holds in memory: a large text once (unpack), or not at all (verify, ls).

Issue 13: a text just under the expansion guard cost ~3x its size (3.1 GB for 1 GB) in every reader.
Scaled down here: an 8 MiB text, limits set so that it is just under the guard, and the bytes
Python holds at the peak measured by tracemalloc (no timing).
"""

from __future__ import annotations

import io
import os
import tracemalloc

import numpy as np
import orjson
import pytest

from glyph_cli.bundle import unpack as unpack_mod
from glyph_cli.bundle.format import Limits
from glyph_cli.bundle.listing import _scan
from glyph_cli.bundle.records import store_doc
from glyph_cli.bundle.unpack import Unpacker, verify, write_record_line
from glyph_cli.bundle.writer import BundleWriter, PackOptions
from glyph_cli.records import doc_record
from glyph_cli.streams.io import dumps

MIB = 1 << 20
TEXT_BYTES = 8 * MIB


@pytest.fixture(scope="module")
def big_bundle(tmp_path_factory):
    """(path, text, limits): one document of TEXT_BYTES ASCII letters, the limits just above it."""
    block = np.random.default_rng(3).integers(97, 123, MIB, dtype=np.uint8).tobytes().decode()
    text = "".join(block[i:] + block[:i] for i in range(TEXT_BYTES // MIB))  # 8 different MiB
    path = tmp_path_factory.mktemp("mem") / "big.glyph"
    with open(path, "wb") as fh:
        writer = BundleWriter(fh, PackOptions())
        writer.begin_document(*store_doc(doc_record("big", text, pages=0, meta={"kind": "test"})))
        writer.finish()
    ratio = TEXT_BYTES / path.stat().st_size
    limits = Limits(max_text_bytes=TEXT_BYTES, ratio_floor=MIB, max_ratio=int(ratio) + 2)  # just under both
    return path, text, limits


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_text_is_just_under_the_guard(big_bundle):
    path, text, limits = big_bundle
    tighter = Limits(max_text_bytes=TEXT_BYTES, ratio_floor=MIB, max_ratio=limits.max_ratio - 3)
    from glyph_cli.errors import BundleError

    with pytest.raises(BundleError, match="decompression bomb"):
        verify(str(path), limits=tighter)
    assert not verify(str(path), limits=limits).damages


def test_unpack_holds_a_large_text_once(big_bundle, tmp_path):
    path, text, limits = big_bundle
    out = tmp_path / "out.jsonl"
    with open(out, "wb") as fh:
        peak = _peak(lambda: Unpacker(str(path), limits=limits, threads=1).run(fh))
    assert peak < 1.35 * TEXT_BYTES, peak  # was over 3x: slices, a bytes copy, the str, its JSON, + "\n"
    first = out.read_bytes().split(b"\n", 1)[0]
    assert orjson.loads(first)["text"] == text
    with open(os.devnull, "wb") as fh:
        peak = _peak(lambda: Unpacker(str(path), text=True, limits=limits, threads=1).run(fh))
    assert peak < 1.35 * TEXT_BYTES, peak
    peak = _peak(lambda: Unpacker(str(path), text=True, out_dir=str(tmp_path / "texts"), limits=limits).run(io.BytesIO()))
    assert peak < 1.35 * TEXT_BYTES, peak
    assert (tmp_path / "texts" / "big.txt").read_text() == text


def test_verify_and_ls_hold_no_text(big_bundle):
    path, _text, limits = big_bundle
    verify(str(path), limits=limits)  # once untraced: first-time imports are not the reader's memory
    assert _peak(lambda: verify(str(path), limits=limits)) < TEXT_BYTES / 8
    with open(path, "rb") as fh:
        peak = _peak(lambda: list(_scan(fh, str(path), limits)))
    assert peak < TEXT_BYTES / 8


@pytest.mark.parametrize("text", [
    "", "plain", 'quotes " and \\ backslashes', "control \x00\x01\x1f\t\n\r\x7f chars",
    "é" * 5 + "世界" * 7 + "\U0001F600" * 9 + "\u2028\u2029 line separators", "\ufeffBOM",
])
def test_a_line_written_block_by_block_is_the_line_dumps_writes(text, monkeypatch):
    monkeypatch.setattr(unpack_mod, "_ESCAPE_BLOCK", 3)  # blocks cut inside multi-byte characters
    record = {"type": "doc", "id": "x", "meta": {"text": "in meta"}, "text": "placeholder", "chars": len(text)}
    out = io.BytesIO()
    write_record_line(out.write, record, "text", text.encode())
    assert out.getvalue() == dumps({**record, "text": text})
