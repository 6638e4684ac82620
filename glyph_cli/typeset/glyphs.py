"""Drawing positioned glyphs straight through cairo, as the released renderer places them.

reportlab and poppler do no shaping: each character is its font's cmap glyph, placed at the sum of
the advance widths before it (no kerning, no ligatures). For text that needs nothing more (no
combining marks, no right-to-left or complex script, every character in a font) glyph draws a
page the same way: glyph ids looked up once per character, x positions from the same per-character
widths the line breaker used (cumulative sums), and one pixman call per font per page compositing
glyph sprites (SpritePage, below). Pango stays for everything else (engine.py decides per line).

pycairo can neither wrap the cairo_scaled_font_t behind a Pango font nor take a glyph array without
a Python object per glyph, so this module talks to libcairo (and libpangocairo, for the scaled
font, and libpixman) through ctypes: cairo draws each sprite once into a small buffer of its own.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math

import numpy as np

_FORMAT_A8 = 2
_OPERATOR_ADD = 12
# cairo_glyph_t: unsigned long index; double x, y
GLYPH_DTYPE = np.dtype([("index", np.uint64), ("x", np.float64), ("y", np.float64)])


class _Matrix(ctypes.Structure):
    _fields_ = [(name, ctypes.c_double) for name in ("xx", "yx", "xy", "yy", "x0", "y0")]


class _TextExtents(ctypes.Structure):
    _fields_ = [(name, ctypes.c_double) for name in
                ("x_bearing", "y_bearing", "width", "height", "x_advance", "y_advance")]


@functools.lru_cache(maxsize=1)
def _libs():
    cairo = ctypes.CDLL(ctypes.util.find_library("cairo") or "libcairo.so.2")
    pc = ctypes.CDLL(ctypes.util.find_library("pangocairo-1.0") or "libpangocairo-1.0.so.0")
    vp, i = ctypes.c_void_p, ctypes.c_int
    for name, res, args in [
        ("cairo_image_surface_create_for_data", vp, [vp, i, i, i, i]),
        ("cairo_surface_status", i, [vp]),
        ("cairo_surface_destroy", None, [vp]),
        ("cairo_surface_flush", None, [vp]),
        ("cairo_create", vp, [vp]),
        ("cairo_status", i, [vp]),
        ("cairo_destroy", None, [vp]),
        ("cairo_set_matrix", None, [vp, ctypes.POINTER(_Matrix)]),
        ("cairo_set_scaled_font", None, [vp, vp]),
        ("cairo_set_operator", None, [vp, i]),
        ("cairo_show_glyphs", None, [vp, vp, i]),
        ("cairo_scaled_font_glyph_extents", None, [vp, vp, i, ctypes.POINTER(_TextExtents)]),
    ]:
        fn = getattr(cairo, name)
        fn.restype, fn.argtypes = res, args
    pc.pango_cairo_font_get_scaled_font.restype = vp
    pc.pango_cairo_font_get_scaled_font.argtypes = [vp]
    capsule = ctypes.pythonapi.PyCapsule_GetPointer
    capsule.restype, capsule.argtypes = vp, [ctypes.py_object, ctypes.c_char_p]
    return cairo, pc, capsule


def scaled_font(pango_font) -> int:
    """The cairo_scaled_font_t* Pango draws `pango_font` with (owned by the font: keep it alive)."""
    _, pc, capsule = _libs()
    ptr = pc.pango_cairo_font_get_scaled_font(capsule(pango_font.__gpointer__, None))
    if not ptr:
        raise RuntimeError(f"no cairo scaled font for {pango_font.describe().to_string()}")
    return ptr


class GlyphCanvas:
    """A cairo context drawing glyph arrays onto an existing A8 pixel buffer (a sprite's scratch)."""

    def __init__(self, pixels: np.ndarray, width: int, matrix: tuple[float, ...]):
        cairo, _, _ = _libs()
        self._cairo = cairo
        self._pixels = pixels  # the memory must outlive the surface
        height, stride = pixels.shape
        surface = cairo.cairo_image_surface_create_for_data(pixels.ctypes.data, _FORMAT_A8, width, height, stride)
        if cairo.cairo_surface_status(surface):
            cairo.cairo_surface_destroy(surface)
            raise RuntimeError("cairo could not wrap the page buffer")
        self._surface = surface
        self._cr = cairo.cairo_create(surface)
        if cairo.cairo_status(self._cr):
            raise RuntimeError("cairo could not create a drawing context")
        cairo.cairo_set_matrix(self._cr, ctypes.byref(_Matrix(*matrix)))
        # Glyphs are drawn first on a cleared page, where adding coverage gives the same bytes as
        # cairo's OVER (which sums overlapping glyphs into a page-sized mask, then composites it);
        # ADD composites each glyph directly: measured 2-3x faster at 4 samples per pixel.
        cairo.cairo_set_operator(self._cr, _OPERATOR_ADD)

    def show(self, font: int, glyphs: np.ndarray) -> None:
        """Add `glyphs` (GLYPH_DTYPE, user-space positions) in scaled font `font` to the coverage."""
        if len(glyphs):
            glyphs = np.ascontiguousarray(glyphs)
            self._cairo.cairo_set_scaled_font(self._cr, font)
            self._cairo.cairo_show_glyphs(self._cr, glyphs.ctypes.data, len(glyphs))

    def flush(self) -> None:
        self._cairo.cairo_surface_flush(self._surface)

    def __del__(self):
        cairo = getattr(self, "_cairo", None)
        if cairo is not None:
            cairo.cairo_destroy(self._cr)
            cairo.cairo_surface_destroy(self._surface)


def glyph_extents(font: int, glyph: int) -> tuple[float, float, float, float]:
    """(x_bearing, y_bearing, width, height) of one glyph's ink, in user units."""
    cairo, _, _ = _libs()
    g = np.zeros(1, GLYPH_DTYPE)
    g["index"] = glyph
    ext = _TextExtents()
    cairo.cairo_scaled_font_glyph_extents(font, g.ctypes.data, 1, ctypes.byref(ext))
    return ext.x_bearing, ext.y_bearing, ext.width, ext.height


# -- glyphs at sub-pixel positions, composited at one sample per pixel ----------------------------
#
# cairo 1.16 puts every glyph on a whole device pixel. glyph's pages place glyphs at 1/k pixel
# (`oversample`), as poppler (which drew the released pages) places them at 1/4: glyph used to get
# that by drawing the page k times wider and averaging each k columns, a page-sized pass that cost
# more than the drawing. Each (glyph, phase) is instead drawn once that way into a small sprite,
# the sprites go into a pixman glyph cache, and a page is one pixman_composite_glyphs_no_mask call
# adding the sprites at whole pixels: the pixels of the wide drawing, except where two glyphs share
# a pixel, whose averages are now rounded before they add (at most 1 of 255).

_PIXMAN_A8 = (8 << 24) | (1 << 16) | (8 << 12)  # PIXMAN_FORMAT(8, PIXMAN_TYPE_A, 8, 0, 0, 0)
_PIXMAN_OP_ADD = 12
# pixman_glyph_t: int x, y; const void *glyph
PIXMAN_GLYPH_DTYPE = np.dtype([("x", np.int32), ("y", np.int32), ("glyph", np.uint64)])
POSITION_EPS = 1e-6  # of a sample: see SpritePage.add
_NO_INK = 1  # sprite table entry of a glyph that draws nothing (0: not made yet)
_CACHE_LIMIT = 16384  # pixman evicts above this many glyphs (on thaw); glyph starts afresh instead
_BITMAPS_LIMIT = 65536  # sprite pixels kept for the pages of a Typesetter (a few MB)


class _Colour(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint16) for name in ("red", "green", "blue", "alpha")]


@functools.lru_cache(maxsize=1)
def _pixman():
    lib = ctypes.CDLL(ctypes.util.find_library("pixman-1") or "libpixman-1.so.0")
    vp, i = ctypes.c_void_p, ctypes.c_int
    for name, res, args in [
        ("pixman_image_create_bits", vp, [ctypes.c_uint32, i, i, vp, i]),
        ("pixman_image_create_solid_fill", vp, [ctypes.POINTER(_Colour)]),
        ("pixman_image_unref", i, [vp]),
        ("pixman_glyph_cache_create", vp, []),
        ("pixman_glyph_cache_destroy", None, [vp]),
        ("pixman_glyph_cache_freeze", None, [vp]),
        ("pixman_glyph_cache_thaw", None, [vp]),
        ("pixman_glyph_cache_insert", vp, [vp, vp, vp, i, i, vp]),
        ("pixman_composite_glyphs_no_mask", None, [i, vp, vp, i, i, i, i, vp, i, vp]),
    ]:
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


def _a8_image(pixels: np.ndarray) -> int:
    """A pixman a8 image over `pixels` ((height, stride) uint8, stride a multiple of 4)."""
    height, stride = pixels.shape
    image = _pixman().pixman_image_create_bits(_PIXMAN_A8, stride, height, pixels.ctypes.data, stride)
    if not image:
        raise RuntimeError("pixman could not wrap a pixel buffer")
    return image


class SpritePage:
    """One page's A8 coverage: glyph sprites added at whole pixels, each sprite a glyph drawn at one
    of `k` sub-pixel phases.

    `matrix` is the page's user -> device matrix at one sample per pixel (xx, yx, xy, yy, x0, y0),
    without the oversampling: sprites are drawn with its linear part, k times wider.
    """

    def __init__(self, width: int, height: int, k: int, matrix: tuple[float, ...], bitmaps: dict | None = None):
        self.k = k
        self.bitmaps = {} if bitmaps is None else bitmaps  # (font, glyph, phase) -> sprite pixels
        self.xx, _, _, self.yy, self.x0, self.y0 = matrix
        self.pixels = np.zeros((height, -(-width // 4) * 4), np.uint8)
        pm = _pixman()
        self._pm = pm
        self._dest = _a8_image(self.pixels)
        self._white = pm.pixman_image_create_solid_fill(ctypes.byref(_Colour(0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF)))
        self._cache = None
        self._table: dict[int, np.ndarray] = {}  # font -> sprite pointer per (glyph id * k + phase)
        self._count = 0
        self._reset()

    def _reset(self) -> None:
        pm = self._pm
        if self._cache:
            pm.pixman_glyph_cache_thaw(self._cache)
            pm.pixman_glyph_cache_destroy(self._cache)
        self._cache = pm.pixman_glyph_cache_create()
        if not self._cache:
            raise MemoryError("pixman could not make a glyph cache")
        pm.pixman_glyph_cache_freeze(self._cache)  # frozen for good: glyph decides what to evict
        self._table.clear()
        self._count = 0

    def clear(self, height: int) -> None:
        self.pixels[:height].fill(0)

    def add(self, font: int, glyphs: np.ndarray) -> None:
        """Add `glyphs` (GLYPH_DTYPE, user-space positions) drawn in cairo scaled font `font`."""
        if not len(glyphs):
            return
        k = self.k
        # as poppler's Splash (the released renderer's rasteriser) places glyphs: x truncated to
        # 1/4 pixel (here 1/k), the glyph drawn that far into its whole pixel; y truncated to the
        # whole pixel (the epsilon keeps an exact position from falling to the one below through
        # rounding error). Rounding instead moved a glyph 1/4 pixel, and 96-dpi lines a row, off
        # where the released pages have them (benchmarks/bench_readability.py --pixels)
        xs = np.floor((self.x0 + glyphs["x"] * self.xx) * k + POSITION_EPS).astype(np.int64)
        py = np.floor(self.y0 + glyphs["y"] * self.yy + POSITION_EPS).astype(np.int64)
        px = xs // k
        key = glyphs["index"].astype(np.int64) * k + (xs - px * k)
        table = self._table.get(font)
        top = int(key.max()) + 1
        if table is None or len(table) < top:
            grown = np.zeros(max(top, 2 * len(table) if table is not None else 256), np.uint64)
            if table is not None:
                grown[:len(table)] = table
            table = self._table[font] = grown
        sprite = table[key]
        missing = sprite == 0
        if missing.any():
            keys = np.unique(key[missing]).tolist()
            if len(keys) > _CACHE_LIMIT // 2:  # more new sprites than a cache holds: in halves
                half = len(glyphs) // 2
                self.add(font, glyphs[:half])
                self.add(font, glyphs[half:])
                return
            if self._count + len(keys) > _CACHE_LIMIT:
                self._reset()
                table = self._table[font] = np.zeros(len(table), np.uint64)
                keys = np.unique(key).tolist()
            for kk in keys:
                table[kk] = self._make(font, kk // k, kk % k)
            sprite = table[key]
        inked = sprite != _NO_INK
        out = np.empty(int(inked.sum()), PIXMAN_GLYPH_DTYPE)
        out["x"] = px[inked]
        out["y"] = py[inked]
        out["glyph"] = sprite[inked]
        self._pm.pixman_composite_glyphs_no_mask(_PIXMAN_OP_ADD, self._white, self._dest, 0, 0, 0, 0,
                                                 self._cache, len(out), out.ctypes.data)

    def _make(self, font: int, glyph: int, xphase: int) -> int:
        """The sprite of `glyph` at sample `xphase`, into this page's glyph cache: its pixels from
        the bitmaps shared by the pages of one Typesetter (any thread), drawn there if missing."""
        key = (font, glyph, xphase)
        sprite = self.bitmaps.get(key, False)
        if sprite is False:
            sprite = self._draw_sprite(font, glyph, xphase)
            if len(self.bitmaps) >= _BITMAPS_LIMIT:
                self.bitmaps.clear()
            self.bitmaps[key] = sprite  # two threads drawing the same one at once store equal ones
        if sprite is None:
            return _NO_INK
        bits, width, height, origin_x, origin_y = sprite
        image = self._pm.pixman_image_create_bits(_PIXMAN_A8, width, height, bits.ctypes.data, bits.shape[1])
        if not image:
            raise MemoryError("pixman could not make a glyph image")
        try:  # the cache copies the pixels
            ptr = self._pm.pixman_glyph_cache_insert(self._cache, font, (glyph * self.k + xphase) + 1,
                                                     origin_x, origin_y, image)
        finally:
            self._pm.pixman_image_unref(image)
        if not ptr:
            raise MemoryError("pixman could not cache a glyph")
        self._count += 1
        return ptr

    def _draw_sprite(self, font: int, glyph: int, xphase: int) -> tuple | None:
        """Draw `glyph` at sample `xphase` of a pixel, k samples per pixel, average, crop: (bits,
        width, height, origin x, origin y), or None when it has no ink."""
        k = self.k
        xb, yb, w, h = glyph_extents_device(font, glyph, self.xx, self.yy)
        if w <= 0 or h <= 0:
            return None
        pad = 2
        ox, oy = pad - math.floor(xb), pad - math.floor(yb)  # the origin pixel in the scratch
        width, height = ox + math.ceil(xb + w) + pad, oy + math.ceil(yb + h) + pad
        scratch = np.zeros((height, -(-width * k // 4) * 4), np.uint8)
        canvas = GlyphCanvas(scratch, width * k, (self.xx * k, 0.0, 0.0, self.yy, float(ox * k + xphase), float(oy)))
        one = np.zeros(1, GLYPH_DTYPE)
        one["index"] = glyph
        canvas.show(font, one)
        canvas.flush()
        del canvas
        cover = ((scratch[:, :width * k].reshape(height, width, k).sum(axis=2, dtype=np.uint16) + k // 2)
                 // k).astype(np.uint8)
        rows, cols = np.flatnonzero(cover.any(axis=1)), np.flatnonzero(cover.any(axis=0))
        if not len(rows):
            return None
        r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        bits = np.zeros((r1 - r0, -(-(c1 - c0) // 4) * 4), np.uint8)
        bits[:, :c1 - c0] = cover[r0:r1, c0:c1]
        return bits, c1 - c0, r1 - r0, ox - c0, oy - r0

    def __del__(self):
        pm = getattr(self, "_pm", None)
        if pm is not None:
            if self._cache:
                pm.pixman_glyph_cache_thaw(self._cache)
                pm.pixman_glyph_cache_destroy(self._cache)
            pm.pixman_image_unref(self._dest)
            pm.pixman_image_unref(self._white)


def glyph_extents_device(font: int, glyph: int, xx: float, yy: float) -> tuple[float, float, float, float]:
    """glyph_extents scaled to device pixels by a diagonal matrix (xx, yy)."""
    xb, yb, w, h = glyph_extents(font, glyph)
    return xb * xx, yb * yy, w * xx, h * yy
