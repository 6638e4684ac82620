"""A page's PNG <-> what the bundle stores, losslessly.

A PNG's deflate output is incompressible, so a bundle of PNG bytes is as big as the PNGs. glyph's
encoder is deterministic (filter 0, one zlib stream at the config's level), so the bundle stores
the scanlines instead and deflates them again on the way out. The scanlines are re-laid in text
-line bands, each band column by column: a glyph then is a run of consecutive bytes, the same
glyph drawn again is the same run, and zstd's long-distance matcher finds repeated words across
the whole window. On real 72-dpi prose this stores a page in under a fifth of a grey PNG's bytes
(benchmarks/bench_bundle.py).

The PNG is only stored this way after deflating the scanlines again here gave back exactly its
bytes (glyph's encoder uses libdeflate; ISA-L's and zlib's levels are tried too); anything else (another encoder,
interlacing) is stored as the PNG bytes.
"""

from __future__ import annotations

import base64
import ctypes
import functools
import math
import struct
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from glyph_cli.bundle.format import Limits
from glyph_cli.fastdeflate import FAST_DEFLATE, fast_deflate, fast_zlib_compress
from glyph_cli.pngchunk import DEFLATE_CLAIM, chunk as _chunk, chunk_parts, libdeflate_id, read_deflate_claim

if TYPE_CHECKING:
    import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
# The deflate encoders a page may have been made with, by the FLEVEL bits of its zlib header:
# glyph's own encoder (FAST_DEFLATE, tried first) and libdeflate (its other choice, png_deflate);
# ISA-L and zlib cover PNGs from other tools.
_CANDIDATES_BY_FLEVEL = {
    0: ((FAST_DEFLATE, 0), ("libdeflate", 1), ("libdeflate", 0), ("isal", 0), ("zlib", 1), ("zlib", 0)),
    1: (("libdeflate", 2), ("libdeflate", 3), ("libdeflate", 4), ("libdeflate", 5), ("isal", 1), ("isal", 2),
        ("isal", 3), ("zlib", 2), ("zlib", 3), ("zlib", 4), ("zlib", 5)),
    2: (("libdeflate", 6), ("zlib", 6)),
    3: tuple(("libdeflate", level) for level in range(7, 13)) + (("zlib", 7), ("zlib", 8), ("zlib", 9)),
}
DEFLATE_LEVELS = {"zlib": range(10), "isal": range(4), "libdeflate": range(13), FAST_DEFLATE: range(1)}


def deflate(data: bytes, encoder: str, level: int) -> bytes:
    if encoder == FAST_DEFLATE:
        if fast_deflate() is None:  # not built here: a PNG that cannot be these bytes (unpack says so)
            return b""
        return fast_zlib_compress(data)
    if encoder == "libdeflate":
        import deflate as libdeflate

        return libdeflate.zlib_compress(data, level)
    if encoder == "isal":
        from isal import isal_zlib

        return isal_zlib.compress(data, level)
    return zlib.compress(data, level)


def deflate_versions() -> dict:
    from importlib.metadata import version

    return {"zlib": zlib.ZLIB_RUNTIME_VERSION, "isal": version("isal"), "libdeflate": version("deflate"),
            FAST_DEFLATE: "built" if fast_deflate() is not None else "not built"}


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
    idat_crc: int  # the CRC of the (last) IDAT chunk
    claim: tuple[str, int, int] | None  # its glDF chunk: (encoder, level, IDAT CRC), see pngchunk

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
    import deflate as libdeflate

    view = memoryview(png)  # chunks are checked in place, not copied out first
    pos = len(PNG_SIGNATURE)
    first_idat = last_idat = -1
    sizes: list[int] = []
    parts: list[bytes] = []
    crc_ok = True
    crc = 0
    claim = None
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
            crc = int.from_bytes(png[end - 4:end], "big")
            crc_ok = crc_ok and libdeflate.crc32(view[pos + 4:pos + 8 + length]) == crc  # zlib's crc32 takes 15x as long
            last_idat = end
        elif kind == DEFLATE_CLAIM and first_idat < 0:
            claim = read_deflate_claim(png[pos + 8:pos + 8 + length])
        seen_iend = kind == b"IEND"
        pos = end
    if first_idat < 0 or not seen_iend:
        raise PageCodecError("PNG has no image data or no IEND")
    return PngLayout(width, height, depth, colour, bool(interlace), png[:first_idat], png[last_idat:],
                     sizes, b"".join(parts), crc_ok, crc, claim)


def _inflate(idat: bytes, expected: int) -> tuple[bytes | bytearray | None, bool]:
    """(the scanlines, whether the stream ended exactly at the end of `idat`), or (None, False) when
    the stream does not give exactly `expected` bytes (never inflates more). The scanlines are in this
    thread's scratch buffer, good until its next call: the caller copies what it keeps. libdeflate (glyph's PNG
    encoder) inflates a page in about 0.16 ms, ISA-L in 0.4, zlib in 0.85.

    The `deflate` package does not say where a stream ended, so libdeflate's zlib_decompress_ex is
    called in its module through ctypes; where that cannot be had, the end is not known (False) and a
    caller that needs a whole match compares a re-deflate."""
    ex = _libdeflate_ex()
    if ex is not None:
        fn, decompressor, scratch = ex
        out = scratch(expected)
        used_in, used_out = ctypes.c_size_t(), ctypes.c_size_t()
        buf = (ctypes.c_char * expected).from_buffer(out)
        if fn(decompressor(), idat, len(idat), buf, expected, ctypes.byref(used_in), ctypes.byref(used_out)) != 0:
            return None, False
        del buf
        view = memoryview(out)[:expected] if len(out) != expected else out
        return (view, used_in.value == len(idat)) if used_out.value == expected else (None, False)
    import deflate as libdeflate

    try:
        raw = libdeflate.zlib_decompress(idat, expected)
    except libdeflate.DeflateError:
        return None, False
    return (raw, False) if len(raw) == expected else (None, False)


_SCRATCH_KEEP = 32 << 20  # a thread keeps an inflate buffer up to this size between pages


@functools.lru_cache(maxsize=1)
def _libdeflate_ex():
    """(libdeflate_zlib_decompress_ex, this thread's decompressor, this thread's scratch buffer)
    from the `deflate` package's own libdeflate, or None where its symbols are not to be had."""
    import threading

    import deflate as libdeflate

    try:
        lib = ctypes.CDLL(libdeflate._deflate.__file__)
        fn = lib.libdeflate_zlib_decompress_ex
        alloc = lib.libdeflate_alloc_decompressor
    except (AttributeError, OSError):
        return None
    size_p = ctypes.POINTER(ctypes.c_size_t)
    fn.restype, fn.argtypes = ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p,
                                             ctypes.c_size_t, size_p, size_p]
    alloc.restype, alloc.argtypes = ctypes.c_void_p, []
    free = lib.libdeflate_free_decompressor
    free.restype, free.argtypes = None, [ctypes.c_void_p]

    class Decompressor:  # one a thread (they are not to be shared), freed with the thread
        def __init__(self):
            self.ptr = alloc()
            if not self.ptr:
                raise MemoryError("libdeflate could not allocate a decompressor")

        def __del__(self):
            free(self.ptr)

    local = threading.local()

    def decompressor() -> int:
        d = getattr(local, "d", None)
        if d is None:
            d = local.d = Decompressor()
        return d.ptr

    def scratch(size: int) -> bytearray:
        """This thread's buffer of at least `size` bytes: a page's scanlines are inflated into the
        same memory every page (a fresh 300 KB buffer each was zeroed, and often faulted in, anew)."""
        buf = getattr(local, "buf", None)
        if buf is None or len(buf) < size:
            buf = bytearray(size)
            if size <= _SCRATCH_KEEP:
                local.buf = buf
        return buf

    return fn, decompressor, scratch


def _chunk_size(sizes: list[int]) -> int | None:
    """IDAT split as `chunk`-byte pieces (0: one chunk), or None for an irregular split."""
    if len(sizes) == 1:
        return 0
    size = sizes[0]
    if all(s == size for s in sizes[:-1]) and 0 < sizes[-1] <= size:
        return size
    return None


def _split(data: bytes, chunk: int) -> list:
    if chunk == 0 or len(data) <= chunk:
        return [data]
    view = memoryview(data)
    return [view[i:i + chunk] for i in range(0, len(data), chunk)]


def band_bounds(height: int, pitch: float, phase: float) -> list[int]:
    """Row boundaries of the bands: 0, floor(phase + k * pitch) inside the page, height."""
    return list(_band_bounds(height, pitch, phase))


@functools.lru_cache(maxsize=64)  # a stream's pages share a few (height, pitch, phase): phases are quarter rows
def _band_bounds(height: int, pitch: float, phase: float) -> tuple[int, ...]:
    if pitch == 0:
        return (0, height)
    cuts = []
    k = 0
    while True:
        y = math.floor(phase + k * pitch)
        if y >= height:
            break
        if y > 0:
            cuts.append(y)
        k += 1
    return (0, *cuts, height)


def choose_phase(rows: np.ndarray, pitch: float) -> float:
    """The band offset whose cuts cross the least ink (text lines are `pitch` rows apart).

    A row's ink is how far its sum is from a row of background (the first pixel's value): one
    contiguous reduction, a third of the cost of counting pixels that differ (the same phases win on
    rendered pages: benchmarks/bench_bundle.py)."""
    import numpy as np

    height, width = rows.shape
    # a row is at most 160,000 bytes (20000 px, 8 bytes each), so its byte sum fits uint32 (faster than int64)
    ink = np.abs(rows.sum(axis=1, dtype=np.uint32).astype(np.int64) - int(rows[0, 0]) * width)
    inside, safe, above = _phase_cuts(height, pitch)
    cost = np.where(inside, ink[safe] + ink[above], 0).sum(axis=1)
    return float(int(np.argmin(cost)) / 4.0)


@functools.lru_cache(maxsize=64)
def _phase_cuts(height: int, pitch: float):
    """Candidate cuts: for each phase in quarter rows, the rows floor(phase + k * pitch), as (which
    are inside the page, the rows below the cuts (1 where not inside), the rows above them)."""
    import numpy as np

    steps = max(1, math.ceil(pitch * 4))
    phases = np.arange(steps) / 4.0
    k = np.arange(int(height / pitch) + 2)
    cuts = np.floor(phases[:, None] + k[None, :] * pitch).astype(np.int64)
    inside = (cuts > 0) & (cuts < height)
    safe = np.where(inside, cuts, 1)
    return inside, safe, safe - 1


def _groups(bounds: list[int]) -> tuple[tuple[int, tuple[int, ...], int], ...]:
    return _groups_of(tuple(bounds))


@functools.lru_cache(maxsize=256)
def _groups_of(bounds: tuple[int, ...]) -> tuple[tuple[int, tuple[int, ...], int], ...]:
    """The bands as (first row, band heights of one period, periods): consecutive bands whose
    heights repeat with a short period (1 at a whole-pixel line pitch, 3 at 13.33 px) are moved
    together, one numpy copy per row of a period rather than one per band."""
    heights = [b - a for a, b in zip(bounds, bounds[1:])]
    groups: list[tuple[int, list[int], int]] = []
    i, row = 0, 0
    while i < len(heights):
        best_q, best_count = 1, 1
        for q in range(1, 9):
            if i + q > len(heights):
                break
            count = 1
            while heights[i + count * q:i + (count + 1) * q] == heights[i:i + q]:
                count += 1
            if count * q > best_count * best_q:
                best_q, best_count = q, count
        period = tuple(heights[i:i + best_q])
        groups.append((row, period, best_count))
        row += sum(period) * best_count
        i += best_q * best_count
    return tuple(groups)


def _to_bands(rows: np.ndarray, bounds, out: np.ndarray | None = None) -> np.ndarray:
    """The rows re-laid in bands, into `out` (a flat uint8 array of rows.size; made if None)."""
    import numpy as np

    width = rows.shape[1]
    if out is None:
        out = np.empty(rows.size, dtype=np.uint8)
    pos = 0
    for y, period, count in _groups(bounds):
        rows_per = sum(period)
        src = rows[y:y + rows_per * count].reshape(count, rows_per, width)
        dst = out[pos:pos + count * rows_per * width].reshape(count, rows_per * width)
        offset = top = 0
        for h in period:
            view = dst[:, offset:offset + width * h].reshape(count, width, h)
            for r in range(h):
                view[:, :, r] = src[:, top + r, :]
            offset += width * h
            top += h
        pos += count * rows_per * width
    return out


def _from_bands(data: memoryview, height: int, stride: int, bounds: list[int]) -> np.ndarray:
    import numpy as np

    rows = np.empty((height, stride), dtype=np.uint8)
    flat = np.frombuffer(data, dtype=np.uint8)
    pos = 0
    for y, period, count in _groups(bounds):
        rows_per = sum(period)
        dst = rows[y:y + rows_per * count].reshape(count, rows_per, stride)
        src = flat[pos:pos + count * rows_per * stride].reshape(count, rows_per * stride)
        offset = top = 0
        for h in period:
            view = src[:, offset:offset + stride * h].reshape(count, stride, h)
            for r in range(h):
                dst[:, top + r, :] = view[:, :, r]
            offset += stride * h
            top += h
        pos += count * rows_per * stride
    return rows


@dataclass
class StoredPage:
    store: str  # "bands" or "png"
    data: bytes | memoryview  # the member's bytes
    params: dict  # what rebuilding needs (empty for "png")


class PageEncoder:
    """PNG bytes -> StoredPage.

    Which deflate encoder and level made a PNG is found by trial, and remembered per kind of zlib
    stream (its header and IDAT split): a stream of pages from one renderer costs one trial deflate
    a page, and pages from an encoder that cannot be matched cost none after the first.
    """

    def __init__(self, limits: Limits, prove: bool = False):
        self.limits = limits
        self.prove = prove  # deflate every page again, claim or not
        self._known: dict[tuple, tuple[str, int] | None] = {}

    def encode(self, png: bytes, pitch: float | None) -> StoredPage:
        """Store `png`. `pitch`: text line spacing in pixels when known (None: rows kept in order)."""
        layout = parse_png(png, self.limits)  # raises PageCodecError on a malformed PNG or one over the limits
        chunk = _chunk_size(layout.idat_sizes)
        if layout.interlaced or chunk is None or not layout.idat_crc_ok or len(layout.idat) < 2:
            return StoredPage("png", png, {})
        raw, whole = _inflate(layout.idat, layout.raw_size)
        if raw is None:
            return StoredPage("png", png, {})
        found = self._claimed(layout) if whole and not self.prove else None
        if found is None:
            found = self._find_deflate(raw, layout.idat, chunk)
        if found is None:
            return StoredPage("png", png, {})
        encoder, level = found
        import numpy as np

        h, stride = layout.height, layout.stride
        scan = np.frombuffer(raw, dtype=np.uint8).reshape(h, stride + 1)
        rows = scan[:, 1:]
        use_pitch = float(pitch) if pitch and 1.0 <= pitch <= h else 0.0
        phase = choose_phase(rows, use_pitch) if use_pitch else 0.0
        member = np.empty(len(raw), dtype=np.uint8)  # filter bytes, then the bands: one buffer, no joins
        member[:h] = scan[:, 0]
        _to_bands(rows, _band_bounds(h, use_pitch, phase), member[h:])
        data = memoryview(member)
        params = {"head": base64.b64encode(layout.head).decode("ascii"),
                  "tail": base64.b64encode(layout.tail).decode("ascii"),
                  "deflate": encoder, "level": level, "chunk": chunk, "pitch": use_pitch, "phase": phase,
                  "adler32": int.from_bytes(layout.idat[-4:], "big")}
        return StoredPage("bands", data, params)

    @staticmethod
    def _claimed(layout: PngLayout) -> tuple[str, int] | None:
        """The encoder a PNG's glDF chunk names, when it is one this packer has (glyph's own
        deflate, or its libdeflate build) and the claim is bound to the one IDAT chunk (whose CRC
        checked out, and whose stream, adler32 checked, ends exactly where the chunk does):
        deflating the scanlines again would only repeat what the claim says. A forged claim costs
        no pixels: unpack checks the rebuilt PNG's sha256."""
        claim = layout.claim
        if claim is None or len(layout.idat_sizes) != 1 or not layout.idat_crc_ok:
            return None
        encoder, level, crc = claim
        if crc != layout.idat_crc:
            return None
        if encoder == FAST_DEFLATE and level == 0 and fast_deflate() is not None:
            return FAST_DEFLATE, 0
        if encoder == libdeflate_id() and level in DEFLATE_LEVELS["libdeflate"]:
            return "libdeflate", level
        return None

    def _find_deflate(self, raw: bytes, idat: bytes, chunk: int) -> tuple[str, int] | None:
        kind = (idat[:2], chunk)
        candidates = list(_CANDIDATES_BY_FLEVEL[idat[1] >> 6])
        if kind in self._known:
            last = self._known[kind]
            if last is None:
                return None
            candidates.remove(last)
            candidates.insert(0, last)
        for encoder, level in candidates:
            if deflate(raw, encoder, level) == idat:
                self._known[kind] = (encoder, level)
                return encoder, level
        self._known.setdefault(kind, None)
        return None


def _stored_scanlines(data, params: dict, limits: Limits):
    """(head, scanlines as an (height, stride + 1) uint8 array, tail, adler32) of a "bands" member."""
    try:
        head = base64.b64decode(params["head"], validate=True)
        tail = base64.b64decode(params["tail"], validate=True)
        encoder, level, chunk = params["deflate"], int(params["level"]), int(params["chunk"])
        pitch, phase, adler = float(params["pitch"]), float(params["phase"]), int(params["adler32"])
    except (KeyError, TypeError, ValueError) as exc:
        raise PageCodecError(f"stored page parameters are damaged ({exc})") from None
    width, height, depth, colour, _interlace = read_ihdr(head, limits)
    if not (encoder in DEFLATE_LEVELS and level in DEFLATE_LEVELS[encoder] and 0 <= chunk <= 0x7FFFFFFF
            and (pitch == 0 or 1 <= pitch <= height) and 0 <= phase <= max(pitch, 0)):
        raise PageCodecError("stored page parameters are out of range")
    stride = (width * _CHANNELS[colour] * depth + 7) // 8
    if len(data) != height * (stride + 1):
        raise PageCodecError(f"stored page is {len(data)} bytes, expected {height * (stride + 1)}")
    import numpy as np

    view = memoryview(data)
    scan = np.empty((height, stride + 1), dtype=np.uint8)
    scan[:, 0] = np.frombuffer(view[:height], dtype=np.uint8)
    scan[:, 1:] = _from_bands(view[height:], height, stride, band_bounds(height, pitch, phase))
    return head, scan, tail, adler


def _check_pixels(scan, adler: int) -> None:
    if zlib.adler32(scan) != adler:
        raise PageCodecError("stored pixels are damaged (adler32 mismatch)")


def rebuild_scanlines(data: bytes, params: dict, limits: Limits) -> tuple[bytes, bytes, bytes]:
    """(head, scanlines, tail) of a "bands" member, the scanlines checked against their adler32.

    A mismatch here means the stored pixels are damaged; a later sha256 mismatch of the rebuilt
    PNG with intact pixels means only that deflate gave other bytes this time.
    """
    head, scan, tail, adler = _stored_scanlines(data, params, limits)
    _check_pixels(scan, adler)
    return head, scan.tobytes(), tail


def rebuild_png(data: bytes, params: dict, limits: Limits, check_pixels: bool = True) -> bytes:
    """The PNG a "bands" member was made from (the caller checks its sha256).

    `check_pixels=False` skips the scanlines' adler32: for a caller that checks the PNG's sha256
    anyway (it covers the pixels) and checks the adler32 only to explain a mismatch."""
    head, scan, tail, adler = _stored_scanlines(data, params, limits)
    if check_pixels:
        _check_pixels(scan, adler)
    idat = deflate(scan, params["deflate"], int(params["level"]))
    parts = [head]
    for part in _split(idat, int(params["chunk"])):
        parts += chunk_parts(b"IDAT", part)
    parts.append(tail)
    return b"".join(parts)


def reencode_png(data: bytes, params: dict, limits: Limits) -> bytes:
    """A PNG with the same pixels, deflated by zlib (deterministic): for when the exact bytes cannot
    be made again."""
    head, raw, tail = rebuild_scanlines(data, params, limits)
    return head + _chunk(b"IDAT", zlib.compress(raw, 6)) + tail
