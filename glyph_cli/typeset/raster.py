"""Coverage (what cairo drew) -> page colours -> PNG bytes.

A page is a background plus ink in the text colour and, in marker mode, ink in the marker colour.
So a page needs no RGB at all: ink coverage maps through a lookup table to grey levels (when the
colours are greys) or to palette indices, at the configured bit depth.
"""

from __future__ import annotations

import numpy as np

from glyph_cli.typeset.config import RenderConfig
from glyph_cli.typeset.png import encode_png


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def _is_grey(c: tuple[int, int, int]) -> bool:
    return c[0] == c[1] == c[2]


def _mix(bg, fg, t: float) -> tuple[int, int, int]:
    return tuple(int(round(b + (f - b) * t)) for b, f in zip(bg, fg))


class Rasteriser:
    """Encodes pages for one config; its lookup tables are built once."""

    def __init__(self, cfg: RenderConfig):
        self.cfg = cfg
        self.bits = cfg.bit_depth
        self.bg, self.fg, self.marker = _rgb(cfg.bg_color), _rgb(cfg.fg_color), _rgb(cfg.marker_color)
        # ink_gamma < 1 darkens partial coverage (heavier strokes), as poppler's rasteriser draws them
        coverage = (np.arange(256, dtype=np.float64) / 255.0) ** cfg.ink_gamma
        top = (1 << self.bits) - 1
        # Grey pages: each coverage value -> the nearest of 2**bits grey levels between bg and fg.
        self.grey = _is_grey(self.bg) and _is_grey(self.fg)
        if self.grey:
            level = self.bg[0] + (self.fg[0] - self.bg[0]) * coverage
            self.grey_lut = np.round(level / 255.0 * top).astype(np.uint8)
            # black on white at 8 bits maps coverage c to 255 - c: a bitwise not, not a table lookup
            self.grey_invert = bool(np.array_equal(self.grey_lut, 255 - np.arange(256)))
        # Palette pages: index 0 is bg, then k steps towards fg, then k towards the marker colour.
        k = max(1, top // 2) if self.bits > 1 else 1
        self.k = k
        steps = np.round(coverage * k).astype(np.uint8)  # 0..k
        self.fg_lut = steps
        self.marker_lut = np.where(steps > 0, steps + k, 0).astype(np.uint8) if self.bits > 1 else steps
        self.palette = [self.bg] + [_mix(self.bg, self.fg, i / k) for i in range(1, k + 1)]
        if self.bits > 1:
            self.palette += [_mix(self.bg, self.marker, i / k) for i in range(1, k + 1)]

        if cfg.draws_boxes:
            # Palette: page bg, paragraph fill, border, then steps from the fill towards fg (text sits
            # on the fill; reportlab fills and strokes the box before it draws the lines).
            self.para = _rgb(cfg.para_bg_color or cfg.bg_color)
            self.border = _rgb(cfg.border_color)
            kb = top - 2
            self.box_lut = np.round(coverage * kb).astype(np.uint8)
            self.box_palette = [self.bg, self.para, self.border] + [
                _mix(self.para, self.fg, i / kb) for i in range(1, kb + 1)]

    def _boxes(self, coverage: np.ndarray, boxes) -> bytes:
        h, w = coverage.shape
        layer = np.zeros((h, w), dtype=np.uint8)
        bw = self.cfg.border_width * self.cfg.scale
        half = bw / 2
        for x0, y0, x1, y1 in boxes:
            layer[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = 1
            if bw > 0 and self.border != self.para:  # a stroke of border_width centred on the edges
                ox0, oy0 = max(0, round(x0 - half)), max(0, round(y0 - half))
                ox1, oy1 = max(0, round(x1 + half)), max(0, round(y1 + half))
                ix0, iy0 = round(x0 + half), round(y0 + half)
                ix1, iy1 = round(x1 - half), round(y1 - half)
                ring = np.zeros((h, w), dtype=bool)
                ring[oy0:oy1, ox0:ox1] = True
                if ix1 > ix0 and iy1 > iy0:
                    ring[iy0:iy1, ix0:ix1] = False
                layer[ring] = 2
        steps = self.box_lut[coverage]
        index = np.where(steps > 0, steps + 2, layer).astype(np.uint8)
        return encode_png(index, self.bits, self.box_palette, self.cfg.png_level, self.cfg.png_deflate)

    def encode(self, coverage: np.ndarray, marker_rects: list[tuple[int, int, int, int]],
               boxes: list[tuple[int, int, int, int]] | None = None) -> bytes:
        if boxes:
            return self._boxes(coverage, boxes)
        if not marker_rects and self.grey:
            grey = np.invert(coverage) if self.grey_invert else self.grey_lut[coverage]
            return encode_png(grey, self.bits, None, self.cfg.png_level, self.cfg.png_deflate)
        index = self.fg_lut[coverage]
        for x0, y0, x1, y1 in marker_rects:
            if x1 > x0 and y1 > y0:
                index[y0:y1, x0:x1] = self.marker_lut[coverage[y0:y1, x0:x1]]
        return encode_png(index, self.bits, self.palette, self.cfg.png_level, self.cfg.png_deflate)
