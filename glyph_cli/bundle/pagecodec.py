"""A page's PNG <-> what the bundle stores, losslessly.

A PNG's deflate output is incompressible, so a bundle of PNG bytes is as big as the PNGs. glyph's
encoder is deterministic (filter 0, one zlib stream at the config's level), so the bundle stores
the scanlines instead and deflates them again on the way out. The scanlines are re-laid in text
-line bands, each band column by column: a glyph then is a run of consecutive bytes, the same
glyph drawn again is the same run, and zstd's long-distance matcher finds repeated words across
the whole window. On real 72-dpi prose this stores a page in under a fifth of a grey PNG's bytes
(benchmarks/bench_bundle.py).

The PNG is only stored this way after deflating the scanlines again here gave back exactly its
bytes; anything else (another encoder, interlacing, an unknown zlib) is stored as the PNG bytes.
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from glyph_cli.bundle.format import Limits

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
# zlib's FLEVEL header bits -> the compression levels that write them
_LEVELS_BY_FLEVEL = {0: (1, 0), 1: (2, 3, 4, 5), 2: (6,), 3: (7, 8, 9)}


class PageCodecError(ValueError):
    """A PNG or a stored page that cannot be (re)built; the message says why."""


@dataclass
class PngLayout:
    width: int
    height: int
    bit_depth: int
    colour_type: int
    interlaced: bool
    head: bytes  # everything before the first IDAT chunk
    tail: bytes  # everything after the last
    idat_sizes: list[int]
    idat: bytes  # the zlib stream, IDAT payloads joined
    idat_crc_ok: bool  # a rebuilt PNG has correct CRCs, so only such a PNG can be rebuilt exactly

    @property
    def stride(self) -> int:
        return (self.width * _CHANNELS[self.colour_type] * self.bit_depth + 7) // 8

    @property
    def raw_size(self) -> int:
        return self.height * (self.stride + 1)


def _check_ihdr(width: int, height: int, depth: int, colour: int, limits: Limits) -> None:
    if colour not in _CHANNELS or depth not in _DEPTHS[colour]:
        raise PageCodecError(f"PNG has an invalid colour type {colour} / bit depth {depth}")
    if not (0 < width <= limits.max_side and 0 < height <= limits.max_side):
        raise PageCodecError(f"page is {width}x{height} px; the limit is {limits.max_side} px a side")
    if width * height > limits.max_pixels:
        raise PageCodecError(f"page is {width}x{height} = {width * height} px; the limit is {limits.max_pixels}")
    raw = height * ((width * _CHANNELS[colour] * depth + 7) // 8 + 1)
    if raw > limits.max_raw_bytes:
        raise PageCodecError(f"page needs {raw} bytes of scanlines; the limit is {limits.max_raw_bytes}")


def read_ihdr(png: bytes, limits: Limits) -> tuple[int, int, int, int, int]:
    """(width, height, bit depth, colour type, interlace) from the IHDR, checked against the limits.

    Read before anything is decoded, so an absurd image is refused before any memory is spent.
    """
    if len(png) < 33 or not png.startswith(PNG_SIGNATURE) or png[12:16] != b"IHDR" or png[8:12] != b"\0\0\0\r":
        raise PageCodecError("not a PNG (no signature and IHDR)")
    width, height, depth, colour, method, filt, interlace = struct.unpack(">IIBBBBB", png[16:29])
    if method != 0 or filt != 0 or interlace not in (0, 1):
        raise PageCodecError("PNG header has unknown compression, filter or interlace method")
    _check_ihdr(width, height, depth, colour, limits)
    return width, height, depth, colour, interlace


def parse_png(png: bytes, limits: Limits) -> PngLayout:
    width, height, depth, colour, interlace = read_ihdr(png, limits)
    pos = len(PNG_SIGNATURE)
    first_idat = last_idat = -1
    sizes: list[int] = []
    parts: list[bytes] = []
    crc_ok = True
    seen_iend = False
    while pos < len(png):
        if seen_iend:
            raise PageCodecError("bytes after the IEND chunk")
        if pos + 12 > len(png):
            raise PageCodecError("PNG truncated inside a chunk header")
        length = int.from_bytes(png[pos:pos + 4], "big")
        kind = png[pos + 4:pos + 8]
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > len(png):
            raise PageCodecError("PNG truncated inside a chunk")
        if kind == b"IDAT":
            if first_idat < 0:
                first_idat = pos
            elif last_idat != pos:
                raise PageCodecError("IDAT chunks are not consecutive")
            sizes.append(length)
            parts.append(png[pos + 8:pos + 8 + length])
            crc_ok = crc_ok and zlib.crc32(png[pos + 4:pos + 8 + length]) == int.from_bytes(png[end - 4:end], "big")
            last_idat = end
        seen_iend = kind == b"IEND"
        pos = end
    if first_idat < 0 or not seen_iend:
        raise PageCodecError("PNG has no image data or no IEND")
    return PngLayout(width, height, depth, colour, bool(interlace), png[:first_idat], png[last_idat:],
                     sizes, b"".join(parts), crc_ok)


def _inflate(idat: bytes, expected: int) -> bytes | None:
    """The scanlines, or None when the stream is not exactly `expected` bytes (never inflates more)."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(idat, expected + 1)
    except zlib.error:
        return None
    if len(out) != expected or not d.eof or d.unused_data or d.unconsumed_tail:
        return None
    return out


def _chunk_size(sizes: list[int]) -> int | None:
    """IDAT split as `chunk`-byte pieces (0: one chunk), or None for an irregular split."""
    if len(sizes) == 1:
        return 0
    size = sizes[0]
    if all(s == size for s in sizes[:-1]) and 0 < sizes[-1] <= size:
        return size
    return None


def _split(data: bytes, chunk: int) -> list[bytes]:
    if chunk == 0:
        return [data]
    return [data[i:i + chunk] for i in range(0, len(data), chunk)] or [b""]


def band_bounds(height: int, pitch: float, phase: float) -> list[int]:
    """Row boundaries of the bands: 0, floor(phase + k * pitch) inside the page, height."""
    if pitch == 0:
        return [0, height]
    cuts = []
    k = 0
    while True:
        y = math.floor(phase + k * pitch)
        if y >= height:
            break
        if y > 0:
            cuts.append(y)
        k += 1
    return [0, *cuts, height]


def choose_phase(rows: np.ndarray, pitch: float) -> float:
    """The band offset whose cuts cross the least ink (text lines are `pitch` rows apart)."""
    height = rows.shape[0]
    ink = np.count_nonzero(rows != rows[0, 0], axis=1)
    steps = max(1, math.ceil(pitch * 4))
    phases = np.arange(steps) / 4.0
    k = np.arange(int(height / pitch) + 2)
    cuts = np.floor(phases[:, None] + k[None, :] * pitch).astype(np.int64)
    inside = (cuts > 0) & (cuts < height)
    safe = np.where(inside, cuts, 1)
    cost = np.where(inside, ink[safe] + ink[safe - 1], 0).sum(axis=1)
    return float(phases[int(np.argmin(cost))])


def _to_bands(rows: np.ndarray, bounds: list[int]) -> bytes:
    return b"".join(np.ascontiguousarray(rows[a:b].T).tobytes() for a, b in zip(bounds, bounds[1:]))


def _from_bands(data: memoryview, height: int, stride: int, bounds: list[int]) -> np.ndarray:
    rows = np.empty((height, stride), dtype=np.uint8)
    pos = 0
    flat = np.frombuffer(data, dtype=np.uint8)
    for a, b in zip(bounds, bounds[1:]):
        n = (b - a) * stride
        rows[a:b] = flat[pos:pos + n].reshape(stride, b - a).T
        pos += n
    return rows


@dataclass
class StoredPage:
    store: str  # "bands" or "png"
    data: bytes  # the member's bytes
    params: dict  # what rebuilding needs (empty for "png")


class PageEncoder:
    """PNG bytes -> StoredPage. Remembers which zlib level matched last, so a stream of pages
    from one renderer costs one trial deflate per page."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self._last_level: int | None = None

    def encode(self, png: bytes, pitch: float | None) -> StoredPage:
        """Store `png`. `pitch`: text line spacing in pixels when known (None: rows kept in order)."""
        layout = parse_png(png, self.limits)  # raises PageCodecError on a malformed PNG or one over the limits
        chunk = _chunk_size(layout.idat_sizes)
        if layout.interlaced or chunk is None or not layout.idat_crc_ok or len(layout.idat) < 2:
            return StoredPage("png", png, {})
        raw = _inflate(layout.idat, layout.raw_size)
        if raw is None:
            return StoredPage("png", png, {})
        level = self._find_level(raw, layout.idat)
        if level is None:
            return StoredPage("png", png, {})
        h, stride = layout.height, layout.stride
        scan = np.frombuffer(raw, dtype=np.uint8).reshape(h, stride + 1)
        rows = scan[:, 1:]
        use_pitch = float(pitch) if pitch and 1.0 <= pitch <= h else 0.0
        phase = choose_phase(rows, use_pitch) if use_pitch else 0.0
        data = scan[:, 0].tobytes() + _to_bands(rows, band_bounds(h, use_pitch, phase))
        params = {"head": base64.b64encode(layout.head).decode("ascii"),
                  "tail": base64.b64encode(layout.tail).decode("ascii"),
                  "level": level, "chunk": chunk, "pitch": use_pitch, "phase": phase}
        return StoredPage("bands", data, params)

    def _find_level(self, raw: bytes, idat: bytes) -> int | None:
        flevel = idat[1] >> 6
        candidates = list(_LEVELS_BY_FLEVEL[flevel])
        if self._last_level in candidates:
            candidates.remove(self._last_level)
            candidates.insert(0, self._last_level)
        for level in candidates:
            if zlib.compress(raw, level) == idat:
                self._last_level = level
                return level
        return None


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def rebuild_png(data: bytes, params: dict, limits: Limits) -> bytes:
    """The exact PNG a "bands" member was made from (the caller checks its sha256)."""
    try:
        head = base64.b64decode(params["head"], validate=True)
        tail = base64.b64decode(params["tail"], validate=True)
        level, chunk = int(params["level"]), int(params["chunk"])
        pitch, phase = float(params["pitch"]), float(params["phase"])
    except (KeyError, TypeError, ValueError) as exc:
        raise PageCodecError(f"stored page parameters are damaged ({exc})") from None
    width, height, depth, colour, _interlace = read_ihdr(head, limits)
    if not (0 <= level <= 9 and 0 <= chunk <= 0x7FFFFFFF and (pitch == 0 or 1 <= pitch <= height)
            and 0 <= phase <= max(pitch, 0)):
        raise PageCodecError("stored page parameters are out of range")
    stride = (width * _CHANNELS[colour] * depth + 7) // 8
    if len(data) != height * (stride + 1):
        raise PageCodecError(f"stored page is {len(data)} bytes, expected {height * (stride + 1)}")
    view = memoryview(data)
    scan = np.empty((height, stride + 1), dtype=np.uint8)
    scan[:, 0] = np.frombuffer(view[:height], dtype=np.uint8)
    scan[:, 1:] = _from_bands(view[height:], height, stride, band_bounds(height, pitch, phase))
    idat = zlib.compress(scan.tobytes(), level)
    return head + b"".join(_chunk(b"IDAT", part) for part in _split(idat, chunk)) + tail
