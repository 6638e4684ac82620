"""The bundle's layers on their own: member names, tar headers, zstd frames and the footer, the
page codec (PNG -> stored form -> the same PNG bytes)."""

from __future__ import annotations

import io
import struct
import tarfile
import zlib

import numpy as np
import pytest
import zstandard
from PIL import Image

from bundle_kit import page_pixels, page_png, raw_header
from glyph_cli.bundle import tarball
from glyph_cli.bundle.format import DEFAULT_LIMITS, Limits, parse_member_name
from glyph_cli.bundle.frames import FOOTER_SIZE, Footer, FrameError, FrameReader
from glyph_cli.bundle.pagecodec import PageCodecError, PageEncoder, band_bounds, read_ihdr, rebuild_png
from glyph_cli.errors import BundleError
from glyph_cli.fastdeflate import FAST_DEFLATE
from glyph_cli.typeset.png import encode_png


# -- member names ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name, kind", [
    ("glyph-bundle.json", "header"), ("glyph-index.jsonl", "index"), ("d000000/doc.json", "doc"),
    ("d000012/doc.txt", "text"), ("d000012/p00003.json", "page"), ("d000012/p00003.bands", "pixels"),
    ("d1234567/p123456.png", "pixels"),
])
def test_member_names_that_a_writer_produces_parse(name, kind):
    assert parse_member_name(name).kind == kind


@pytest.mark.parametrize("name", [
    "../d000000/doc.json", "/d000000/doc.json", "d000000/../../etc/passwd", "d000000/doc.json/", "d0000001/doc.json",
    "d000000/p0001.json", "d000000/p00001.exe", "d000000\\doc.json", "./glyph-bundle.json", "d000000/doc.json\0x",
])
def test_any_other_member_name_is_refused(name):
    assert parse_member_name(name) is None


# -- tar headers -------------------------------------------------------------------------------------


def test_written_headers_are_standard_ustar():
    data = b"hello"
    raw = tarball.header("d000000/doc.txt", len(data)) + data + tarball.padding(len(data))
    raw += tarball.end_of_archive(len(raw))
    assert len(raw) % tarball.RECORD == 0
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        (info,) = tf.getmembers()
        assert (info.name, info.size, info.isreg(), info.mode) == ("d000000/doc.txt", 5, True, 0o644)
        assert tf.extractfile(info).read() == data
    assert tarball.parse_header(raw[:512]) == tarball.Member("d000000/doc.txt", 5)
    assert tarball.parse_header(b"\0" * 512) is None


@pytest.mark.parametrize("kind, what", [(b"2", "symbolic link"), (b"1", "hard link"), (b"3", "character device"),
                                        (b"4", "block device"), (b"5", "directory"), (b"6", "FIFO"),
                                        (b"x", "pax extended header"), (b"L", "GNU long name")])
def test_headers_that_are_not_regular_files_are_refused(kind, what):
    with pytest.raises(tarball.TarError, match=what):
        tarball.parse_header(raw_header(b"d000000/doc.json", 10, kind))


def test_a_flipped_bit_in_a_header_fails_its_checksum():
    block = bytearray(tarball.header("d000000/doc.json", 100))
    block[130] ^= 1  # inside the size field
    with pytest.raises(tarball.TarError, match="checksum"):
        tarball.parse_header(bytes(block))


# -- zstd frames ----------------------------------------------------------------------------------


def _frames(*payloads: bytes) -> bytes:
    cctx = zstandard.ZstdCompressor(write_checksum=True)
    return b"".join(cctx.compress(p) for p in payloads)


def test_frame_reader_gives_back_each_frame_and_skips_the_footer():
    payloads = [bytes(range(256)) * 3000, b"second frame", np.random.default_rng(0).bytes(300_000)]
    footer = Footer(5, 7, 11).encode()
    data = _frames(*payloads) + footer
    reader = FrameReader(io.BytesIO(data), DEFAULT_LIMITS)
    got = [(offset, b"".join(blocks)) for offset, blocks in reader.frames()]
    assert [g[1] for g in got] == payloads
    assert got[0][0] == 0 and got[1][0] > 0
    assert all(len(block) <= 128 << 10 for _, blocks in FrameReader(io.BytesIO(data), DEFAULT_LIMITS).frames()
               for block in blocks)
    assert reader.footer_seen == footer
    assert zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True).read() == b"".join(payloads)


def test_footer_round_trips_and_must_point_at_the_end():
    footer = Footer(1000, 200, 5000)
    raw = footer.encode()
    assert len(raw) == FOOTER_SIZE
    assert Footer.decode(raw, 1000 + 200 + FOOTER_SIZE) == footer
    assert Footer.decode(raw, 1000 + 200 + FOOTER_SIZE + 1) is None
    assert Footer.decode(b"x" * FOOTER_SIZE, 10_000) is None


def test_truncated_and_damaged_frames_raise_frame_errors():
    data = _frames(np.random.default_rng(1).bytes(200_000))
    with pytest.raises(FrameError, match="truncated"):
        for _, blocks in FrameReader(io.BytesIO(data[:-1000]), DEFAULT_LIMITS).frames():
            b"".join(blocks)
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 0x10
    with pytest.raises(FrameError):
        for _, blocks in FrameReader(io.BytesIO(bytes(damaged)), DEFAULT_LIMITS).frames():
            b"".join(blocks)


def test_frame_reader_refuses_a_window_too_big_to_decode_safely():
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=30, enable_ldm=True)
    cobj = zstandard.ZstdCompressor(compression_params=params).compressobj()  # size unknown: the window stays 1 GiB
    data = cobj.compress(b"a" * (1 << 20)) + cobj.flush()
    with pytest.raises(FrameError, match="memory"):
        for _, blocks in FrameReader(io.BytesIO(data), DEFAULT_LIMITS).frames():
            b"".join(blocks)


def test_expansion_guard_stops_a_zstd_bomb_early():
    bomb = zstandard.ZstdCompressor(level=3).compress(b"\0" * (32 << 20))
    limits = Limits(ratio_floor=1 << 20, max_ratio=100)
    reader = FrameReader(io.BytesIO(bomb), limits)
    seen = 0
    with pytest.raises(BundleError, match="decompression bomb"):
        for _, blocks in reader.frames():
            for block in blocks:
                seen += len(block)
    assert seen <= (1 << 20) + (128 << 10)  # stopped within a block of the floor


# -- page codec ------------------------------------------------------------------------------------


@pytest.mark.parametrize("deflate", [FAST_DEFLATE, "libdeflate"])
@pytest.mark.parametrize("palette", [False, True])
@pytest.mark.parametrize("pitch", [None, 10.0, 13.333333333333334])
def test_glyph_pngs_are_stored_as_bands_and_rebuilt_exactly(palette, pitch, deflate):
    encoder = PageEncoder(DEFAULT_LIMITS)
    for seed in range(3):
        png = page_png(seed, palette=palette, encoder="glyph" if deflate == FAST_DEFLATE else deflate)
        stored = encoder.encode(png, pitch)
        assert stored.store == "bands"
        assert stored.params["deflate"] == deflate
        assert rebuild_png(stored.data, stored.params, DEFAULT_LIMITS) == png


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_low_bit_depths_round_trip(bits):
    pixels = (page_pixels(7) >> (8 - bits)).astype(np.uint8)
    png = encode_png(pixels, bits, None, 1)
    stored = PageEncoder(DEFAULT_LIMITS).encode(png, 10.0)
    assert stored.store == "bands"
    assert rebuild_png(stored.data, stored.params, DEFAULT_LIMITS) == png


def test_zlib_made_pngs_are_recognised_too():
    pixels = 255 - page_pixels(3)
    raw = b"".join(b"\0" + row.tobytes() for row in pixels)
    h, w = pixels.shape

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    for level in (1, 6, 9):
        png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
               + chunk(b"IDAT", zlib.compress(raw, level)) + chunk(b"IEND", b""))
        stored = PageEncoder(DEFAULT_LIMITS).encode(png, 10.0)
        assert (stored.store, stored.params["deflate"], stored.params["level"]) == ("bands", "zlib", level)
        assert rebuild_png(stored.data, stored.params, DEFAULT_LIMITS) == png


def test_pngs_no_encoder_here_reproduces_are_kept_as_bytes():
    buf = io.BytesIO()
    Image.fromarray(page_pixels(4)).save(buf, "PNG", compress_level=9, optimize=True)
    interlaced = io.BytesIO()
    Image.fromarray(page_pixels(5)).save(interlaced, "PNG", interlace=1)
    encoder = PageEncoder(DEFAULT_LIMITS)
    for png in (buf.getvalue(), interlaced.getvalue()):
        stored = encoder.encode(png, 10.0)
        assert stored.store == "png" and stored.data == png


def test_bands_follow_text_lines():
    assert band_bounds(100, 10.0, 0.0) == [0] + list(range(10, 100, 10)) + [100]
    assert band_bounds(40, 13.333333333333334, 12.5) == [0, 12, 25, 39, 40]
    assert band_bounds(50, 0.0, 0.0) == [0, 50]


def test_bands_make_repeated_glyphs_compressible():
    """The point of the layout: the same page compresses better as bands than as rows."""
    encoder = PageEncoder(DEFAULT_LIMITS)
    pixels = np.tile(page_pixels(9, width=40, height=40), (8, 12))  # repeated "words"
    png = encode_png(255 - pixels, 8, None, 1)
    as_bands = encoder.encode(png, 10.0).data
    as_rows = encoder.encode(png, None).data
    size = zstandard.ZstdCompressor(level=3).compress
    assert len(size(as_bands)) < 0.8 * len(size(as_rows))


def test_absurd_dimensions_are_refused_before_decoding():
    def ihdr_png(w, h):
        body = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
        return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + body + struct.pack(">I", zlib.crc32(b"IHDR" + body))

    with pytest.raises(PageCodecError, match="20000 px a side"):
        read_ihdr(ihdr_png(100_000, 10), DEFAULT_LIMITS)
    with pytest.raises(PageCodecError, match="limit is 100000000"):
        read_ihdr(ihdr_png(15_000, 15_000), DEFAULT_LIMITS)
    with pytest.raises(PageCodecError):
        PageEncoder(DEFAULT_LIMITS).encode(ihdr_png(50_000, 50_000) + b"\0\0\0\0IEND\xaeB`\x82", 10.0)


def test_an_inflate_bomb_inside_a_png_is_not_inflated():
    """IDAT that inflates past what the header allows is left alone (kept as bytes)."""
    w = h = 64
    bomb = zlib.compress(b"\0" * (50 << 20), 9)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", bomb) + chunk(b"IEND", b""))
    assert PageEncoder(DEFAULT_LIMITS).encode(png, 10.0).store == "png"


# -- a PNG's word on its deflate (glDF) ------------------------------------------------------------


def _png_chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos < len(png):
        n = int.from_bytes(png[pos:pos + 4], "big")
        out.append((png[pos + 4:pos + 8], png[pos + 8:pos + 8 + n]))
        pos += 12 + n
    return out


def _png_of(chunks) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d)) for k, d in chunks)


def _no_trial(monkeypatch):
    trials = []
    real = PageEncoder._find_deflate
    monkeypatch.setattr(PageEncoder, "_find_deflate", lambda self, *a: trials.append(1) or real(self, *a))
    return trials


@pytest.mark.parametrize("encoder", ["glyph", "libdeflate"])
def test_glyph_pngs_say_which_deflate_made_them_and_pack_takes_their_word(monkeypatch, encoder):
    from glyph_cli.pngchunk import libdeflate_id, read_deflate_claim

    png = page_png(1, encoder=encoder)
    kinds = [k for k, _ in _png_chunks(png)]
    assert kinds == [b"IHDR", b"glDF", b"IDAT", b"IEND"]
    claim = read_deflate_claim(dict(_png_chunks(png))[b"glDF"])
    named = (FAST_DEFLATE, 0) if encoder == "glyph" else (libdeflate_id(), 1)
    assert claim == (*named, int.from_bytes(png[-16:-12], "big"))  # the IDAT chunk's CRC
    trials = _no_trial(monkeypatch)
    stored = PageEncoder(DEFAULT_LIMITS).encode(png, 10.0)
    assert stored.store == "bands" and trials == []
    assert rebuild_png(stored.data, stored.params, DEFAULT_LIMITS) == png
    PageEncoder(DEFAULT_LIMITS, prove=True).encode(png, 10.0)  # --prove: deflated again all the same
    assert trials == [1]


def test_a_claim_that_does_not_fit_its_image_data_is_not_taken(monkeypatch):
    """Image data made again by another encoder (the claim kept) or with bytes after the zlib
    stream: the claim's CRC, or where the stream ends, gives it away, and the page is tried."""
    png = page_png(2)
    chunks = _png_chunks(png)
    idat = dict(chunks)[b"IDAT"]
    raw = zlib.decompress(idat)
    trials = _no_trial(monkeypatch)
    by_zlib = _png_of([(k, zlib.compress(raw, 6) if k == b"IDAT" else d) for k, d in chunks])
    stored = PageEncoder(DEFAULT_LIMITS).encode(by_zlib, 10.0)
    assert (stored.params["deflate"], stored.params["level"]) == ("zlib", 6) and len(trials) == 1
    assert rebuild_png(stored.data, stored.params, DEFAULT_LIMITS) == by_zlib
    # bytes after the stream, the claim's CRC forged to match: the stream's end gives it away
    from glyph_cli.pngchunk import deflate_claim, libdeflate_id

    longer = idat + b"junk"
    claim = deflate_claim(libdeflate_id(), 1, zlib.crc32(b"IDAT" + longer))[8:-4]
    trailing = _png_of([(k, claim if k == b"glDF" else longer if k == b"IDAT" else d) for k, d in chunks])
    stored = PageEncoder(DEFAULT_LIMITS).encode(trailing, 10.0)
    assert stored.store == "png" and stored.data == trailing and len(trials) == 2


def test_a_forged_claim_costs_the_exact_bytes_never_the_pixels():
    """A claim bound to image data that its encoder did not make (made up on purpose) is taken, and
    unpack finds out from the page's sha256: it gives back the same pixels, flagged."""
    from glyph_cli.bundle.records import NotReproducible, restore_png, store_page
    from glyph_cli.pngchunk import deflate_claim, libdeflate_id
    from glyph_cli.records import png_data_url

    png = page_png(3)
    chunks = _png_chunks(png)
    other = zlib.compress(zlib.decompress(dict(chunks)[b"IDAT"]), 9)
    claim = deflate_claim(libdeflate_id(), 1, zlib.crc32(b"IDAT" + other))[8:-4]
    forged = _png_of([(k, claim if k == b"glDF" else other if k == b"IDAT" else d) for k, d in chunks])
    record = {"type": "page", "v": 1, "doc": "d", "index": 0, "span": [0, 1], "width": 160, "height": 120,
              "dpi": 72.0, "visual_tokens": {}, "image": png_data_url(forged)}
    stored_record, stored = store_page(dict(record), PageEncoder(DEFAULT_LIMITS), 10.0)
    assert stored.store == "bands"
    with pytest.raises(NotReproducible) as caught:
        restore_png(stored_record, bytes(stored.data), DEFAULT_LIMITS)
    same = lambda a, b: np.array_equal(np.asarray(Image.open(io.BytesIO(a))), np.asarray(Image.open(io.BytesIO(b))))  # noqa: E731
    assert same(caught.value.png, forged)
    proved_record, proved = store_page(dict(record), PageEncoder(DEFAULT_LIMITS, prove=True), 10.0)
    assert restore_png(proved_record, bytes(proved.data), DEFAULT_LIMITS) == forged  # --prove keeps it exact
