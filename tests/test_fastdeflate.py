"""glyph's own deflate (glyph_cli/_fastdeflate.c): standard output any inflater reads, the same
bytes for the same input wherever and however it runs, and a name that changes with its output."""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import random
import zlib

import deflate as libdeflate
import numpy as np
import pytest

from bundle_kit import page_pixels, page_png
from glyph_cli import fastdeflate
from glyph_cli.bundle.format import DEFAULT_LIMITS
from glyph_cli.bundle.pagecodec import PageEncoder, rebuild_png
from glyph_cli.fastdeflate import FAST_DEFLATE, fast_zlib_compress
from glyph_cli.typeset.png import encode_png

module = fastdeflate.fast_deflate()


def _inputs():
    """Edge cases and page-like data: runs longer than a match, repeats past the window, noise."""
    rng = random.Random(12)
    yield b""
    yield b"a"
    yield b"ab" * 3
    yield b"\xff" * 1_000_000  # runs of 258 and a tail
    yield bytes(range(256)) * 300  # repeats at distance 256
    yield rng.randbytes(70_000)  # incompressible: literals only, over one block of tokens
    chunk = rng.randbytes(5_000)
    yield chunk + rng.randbytes(40_000) + chunk  # a repeat beyond the 32 KiB window must not be matched
    for _ in range(60):
        out = bytearray()
        n = rng.randrange(1, 40_000)
        while len(out) < n:
            pick = rng.random()
            if pick < 0.4:
                out += bytes([rng.randrange(256)]) * rng.randrange(1, 700)
            elif pick < 0.7 and out:
                start = rng.randrange(len(out))
                out += out[start:start + rng.randrange(1, 600)]
            else:
                out += rng.randbytes(rng.randrange(1, 60))
        yield bytes(out[:n])
    yield np.ascontiguousarray(255 - page_pixels(3)).tobytes()


def test_it_is_built_in_this_install():
    """The build marks it optional (an install without a C compiler falls back to libdeflate), so a
    failed build would pass unseen: the test install must have it."""
    assert module is not None, "glyph_cli/_fastdeflate.c was not built: reinstall with `pip install -e .` and a C compiler"


@pytest.mark.skipif(module is None, reason="glyph's deflate is not built in this install")
def test_every_inflater_reads_it_back():
    for data in _inputs():
        raw = module.compress(data)
        assert zlib.decompress(raw, -15) == data
        assert libdeflate.deflate_decompress(raw, len(data)) == data
        assert zlib.decompress(fast_zlib_compress(data)) == data  # the zlib wrapper: header and adler32


@pytest.mark.skipif(module is None, reason="glyph's deflate is not built in this install")
def test_the_same_input_gives_the_same_bytes_in_any_order_and_thread():
    inputs = list(_inputs())
    first = [module.compress(d) for d in inputs]
    order = list(range(len(inputs)))
    random.Random(3).shuffle(order)
    with cf.ThreadPoolExecutor(4) as pool:  # it runs without the GIL: calls overlap
        again = dict(zip(order, pool.map(lambda i: module.compress(inputs[i]), order)))
    assert [again[i] for i in range(len(inputs))] == first
    assert module.compress(memoryview(inputs[4])) == first[4]  # any contiguous buffer


@pytest.mark.skipif(module is None, reason="glyph's deflate is not built in this install")
def test_its_name_pins_its_output():
    """FAST_DEFLATE promises these exact bytes: bundles rebuild PNGs by it. These digests were made
    by glyph-deflate-1; a change to the encoder that changes them must come with a new name (and the
    old encoder kept for the bundles that name it)."""
    rng = random.Random(2026)
    samples = {
        "page": np.ascontiguousarray(255 - page_pixels(5)).tobytes(),
        "mixed": b"".join(bytes([rng.randrange(256)]) * rng.randrange(1, 300) + rng.randbytes(rng.randrange(1, 40))
                          for _ in range(3000)),
    }
    digests = {name: hashlib.sha256(module.compress(data)).hexdigest()[:16] for name, data in samples.items()}
    assert digests == PINNED
    assert module.FORMAT_ID == FAST_DEFLATE


PINNED = {"page": "8f4b9df722f0be32", "mixed": "3a23413e956fdcd3"}


def test_without_the_built_encoder_pages_are_made_by_libdeflate_and_said_so(monkeypatch, capsys):
    from glyph_cli.typeset import png as png_module

    monkeypatch.setattr(png_module, "fast_deflate", lambda: None)
    png_module._say_not_built.cache_clear()
    pixels = 255 - page_pixels(1)
    png = encode_png(pixels, 8, None, 1, "glyph")
    assert png == encode_png(pixels, 8, None, 1, "libdeflate")
    assert png_module.deflate_version("glyph") != FAST_DEFLATE
    encode_png(pixels, 8, None, 1, "glyph")
    err = capsys.readouterr().err
    assert err.count("not built") == 1  # said once
    png_module._say_not_built.cache_clear()


@pytest.mark.skipif(module is None, reason="glyph's deflate is not built in this install")
def test_a_bundle_page_needs_the_named_encoder_to_come_back_exact(monkeypatch):
    png = page_png(4)
    stored = PageEncoder(DEFAULT_LIMITS).encode(png, 10.0)
    assert stored.params["deflate"] == FAST_DEFLATE
    assert rebuild_png(stored.data, stored.params, DEFAULT_LIMITS) == png
    from glyph_cli.bundle import pagecodec

    monkeypatch.setattr(pagecodec, "fast_deflate", lambda: None)  # unpacked where it is not built
    assert rebuild_png(stored.data, stored.params, DEFAULT_LIMITS) != png  # not these bytes: unpack says so
    assert PageEncoder(DEFAULT_LIMITS).encode(png, 10.0).store == "png"  # and pack keeps the PNG as it is
