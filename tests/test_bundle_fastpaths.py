"""The shortcuts pack takes for speed give what the plain paths give: the data-URL decoder, the
inflate buffer a thread reuses, cached band bounds, tar headers from a template, stdin read through
a larger buffer."""

from __future__ import annotations

import base64
import tarfile

import orjson
import pytest

from bundle_kit import doc_records, page_png, stream_bytes
from conftest import run_glyph
from glyph_cli.bundle import records as bundle_records
from glyph_cli.bundle import tarball
from glyph_cli.bundle.format import DEFAULT_LIMITS
from glyph_cli.bundle.pagecodec import PageEncoder, band_bounds, rebuild_png
from glyph_cli.records import PNG_DATA_URL, page_png as plain_page_png

_DATA = bytes(range(256)) * 3  # 768 bytes: a multiple of 3, so its canonical base64 has no padding
_CANONICAL = base64.b64encode(_DATA).decode("ascii")
_URLS = [
    PNG_DATA_URL + _CANONICAL,
    PNG_DATA_URL + _CANONICAL + "=",  # one pad too many: the standard library takes it, pybase64 does not
    PNG_DATA_URL + _CANONICAL[:-1] + "é",  # not ASCII
    PNG_DATA_URL + _CANONICAL[:-2],  # truncated: padding missing
    PNG_DATA_URL + _CANONICAL[:100] + " " + _CANONICAL[100:],  # a space
    PNG_DATA_URL + _CANONICAL[:-4] + "YQ==",  # short final quantum, canonical
    PNG_DATA_URL + _CANONICAL[:-4] + "YR==",  # non-zero pad bits: decodes, but is not what encoding gives
    PNG_DATA_URL,  # empty
    "data:image/jpeg;base64," + _CANONICAL,
    None,
]


def _outcome(fn, record):
    try:
        return "ok", fn(record)
    except ValueError as exc:
        return "error", type(exc), str(exc)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("url", _URLS)
def test_data_urls_decode_as_the_standard_library_decodes_them(url, fast, monkeypatch):
    if not fast:
        monkeypatch.setattr(bundle_records, "_b64", None)
    elif bundle_records._b64 is None:
        pytest.skip("pybase64 is not installed")
    record = {} if url is None else {"image": url}
    assert _outcome(bundle_records._page_png, record) == _outcome(plain_page_png, record)


def test_pages_of_changing_sizes_reuse_the_inflate_buffer_without_mixing_them():
    """One encoder (one thread) stores a big page, a small one, a big one again: each stored page
    rebuilds to its own PNG, also after later pages reused the buffer it was inflated into."""
    encoder = PageEncoder(DEFAULT_LIMITS)
    sizes = [(240, 200), (80, 40), (240, 200), (120, 300), (160, 120)]
    pngs = [page_png(seed, width=w, height=h) for seed, (w, h) in enumerate(sizes)]
    stored = [encoder.encode(png, 10.0) for png in pngs]
    assert [s.store for s in stored] == ["bands"] * len(pngs)
    for png, page in zip(pngs, stored):
        assert rebuild_png(page.data, page.params, DEFAULT_LIMITS) == png


def test_cached_band_bounds_are_fresh_lists():
    first = band_bounds(100, 10.0, 2.5)
    first.append(-1)
    assert band_bounds(100, 10.0, 2.5) == [0, 2, 12, 22, 32, 42, 52, 62, 72, 82, 92, 100]


@pytest.mark.parametrize("name", ["glyph-bundle.json", "d000000/p00001.bands", "d" * 100, "x"])
@pytest.mark.parametrize("size", [0, 1, 511, 512, 330_000, tarball.MAX_SIZE])
def test_template_headers_carry_the_checksum_tar_computes(name, size):
    header = tarball.header(name, size)
    assert len(header) == tarball.BLOCK
    info = tarfile.TarInfo.frombuf(header, "ascii", "strict")  # checks the header checksum
    assert (info.name, info.size, info.mode, info.uid, info.mtime) == (name, size, 0o644, 0, 0)


def test_stdin_lines_longer_than_its_buffer_pack_and_unpack_byte_for_byte(tmp_path):
    """A doc record of 1.5 MB (past pack's 1 MiB read buffer) and pages after it, from stdin."""
    text = "A long document line, repeated. " * 48_000
    stream = stream_bytes([doc_records("long", text, [page_png(1), page_png(2)])])
    assert max(len(line) for line in stream.splitlines()) > 1 << 20
    bundle = tmp_path / "long.glyph"
    run_glyph("pack", "-o", str(bundle), input=stream, check=True)
    out = run_glyph("unpack", str(bundle), check=True).stdout
    assert out == stream
    assert orjson.loads(out.splitlines()[0])["text"] == text


def test_stdin_lines_come_as_soon_as_they_are_written(monkeypatch):
    """The larger buffer over stdin does not wait for a buffer's worth of a pipe: `render | pack`
    streams, and a producer that writes a line and waits gets it read."""
    import io
    import os
    import sys
    import threading

    from glyph_cli.streams.io import iter_lines, open_binary

    rfd, wfd = os.pipe()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(open(rfd, "rb")))
    os.write(wfd, b'{"a": 1}\n')
    assert sys.stdin.buffer.peek(1).startswith(b"{")  # as pack looks for a bundle: what it peeked comes first
    got = []
    reader = threading.Thread(target=lambda: got.append(next(iter_lines(open_binary("-")))), daemon=True)
    reader.start()
    reader.join(10)
    os.close(wfd)
    assert got == [b'{"a": 1}\n']
