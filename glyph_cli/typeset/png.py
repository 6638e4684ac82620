"""A small, deterministic PNG encoder for rendered pages.

Pages are grey or a short palette, so we write exactly that: colour type 0 (grey) or 3 (palette) at
bit depth 1, 2, 4 or 8, filter type 0 on every row (the PNG spec's advice for palette and sub-8-bit
images, and measured fastest here for text pages), one zlib stream. The output is standard PNG that
every decoder reads, and the same pixels always give the same bytes.

Deflate is libdeflate's (the `deflate` package), which compresses each buffer from a fresh state,
so the same pixels give the same bytes whatever ran before. Measured on rendered A4 pages at level 1:
2.1 ms a page and 75 KB, against zlib's 4.5 ms and 89 KB. (ISA-L was faster still, 0.85 ms, but one
page once came out with different bytes over identical pixels, which a determinism guarantee cannot
carry.) The exact bytes depend on the encoder, so it is recorded with every page (`tool.deflate`), and
each PNG says so itself in a small private chunk bound to its image data (pngchunk.deflate_claim):
glyph pack takes that word instead of deflating the page a second time to find out.
"""

from __future__ import annotations

import functools
import struct

import numpy as np
import deflate

from glyph_cli.fastdeflate import FAST_DEFLATE, fast_deflate, fast_zlib_compress
from glyph_cli.pngchunk import chunk as _chunk, chunk_parts, deflate_claim, libdeflate_id  # the one PNG chunk writer

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@functools.lru_cache(maxsize=16)
def _plte_chunk(palette: tuple[tuple[int, int, int], ...]) -> bytes:
    """The PLTE chunk: built once per palette, not once per page."""
    return _chunk(b"PLTE", bytes(c for rgb in palette for c in rgb))


def deflate_version(encoder: str = "glyph") -> str:
    """The name of the deflate `encoder` ("glyph" or "libdeflate") really runs here: glyph's own
    where it was built, else libdeflate."""
    return FAST_DEFLATE if encoder == "glyph" and fast_deflate() is not None else libdeflate_id()


@functools.cache
def _say_not_built() -> None:
    from glyph_cli import log

    log.warn(f"{FAST_DEFLATE} (glyph's PNG deflate) is not built in this install: pages are deflated by "
             "libdeflate (the same pixels, other bytes, slower); reinstall glyph where a C compiler is found")


def pack_rows(samples: np.ndarray, bit_depth: int) -> np.ndarray:
    """Pack an (H, W) array of samples < 2**bit_depth into PNG scanline bytes, MSB first."""
    if bit_depth == 8:
        return samples
    if bit_depth == 1:
        return np.packbits(samples, axis=1)
    per_byte = 8 // bit_depth
    h, w = samples.shape
    pad = (-w) % per_byte
    if pad:
        samples = np.pad(samples, ((0, 0), (0, pad)))
    grouped = samples.reshape(h, -1, per_byte).astype(np.uint8)
    out = np.zeros(grouped.shape[:2], dtype=np.uint8)
    for i in range(per_byte):
        out |= grouped[:, :, i] << (8 - bit_depth * (i + 1))
    return out


def encode_png(samples: np.ndarray, bit_depth: int, palette: list[tuple[int, int, int]] | None = None,
               level: int = 1, encoder: str = "glyph") -> bytes:
    """Encode (H, W) uint8 samples: grey levels, or palette indices when `palette` is given.

    `encoder`: "glyph" (glyph's own deflate, where built: deflate_version) or "libdeflate" at
    `level`, 0 (stored) to 12 (smallest); 1 is fast and good for text pages."""
    if samples.ndim != 2:
        raise ValueError("samples must be a 2-D array")
    h, w = samples.shape
    packed = pack_rows(np.ascontiguousarray(samples), bit_depth)
    raw = np.empty((h, packed.shape[1] + 1), dtype=np.uint8)
    raw[:, 0] = 0  # filter type None
    raw[:, 1:] = packed
    colour_type = 3 if palette is not None else 0
    out = [PNG_SIGNATURE, _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, colour_type, 0, 0, 0))]
    if palette is not None:
        if not 1 <= len(palette) <= (1 << bit_depth):
            raise ValueError(f"a {bit_depth}-bit palette holds 1..{1 << bit_depth} colours, got {len(palette)}")
        out.append(_plte_chunk(tuple(palette)))
    name = deflate_version(encoder)
    if encoder == "glyph" and name != FAST_DEFLATE:
        _say_not_built()
    if name == FAST_DEFLATE:
        idat = chunk_parts(b"IDAT", fast_zlib_compress(raw))
        level = 0  # the claim's level byte: glyph's encoder has one setting
    else:
        idat = chunk_parts(b"IDAT", deflate.zlib_compress(raw, level))
    out.append(deflate_claim(name, level, int.from_bytes(idat[3], "big")))  # see pngchunk
    out += idat
    out.append(_chunk(b"IEND", b""))
    return b"".join(out)
