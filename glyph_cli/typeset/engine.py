"""Line breaking, pagination and rasterising with Pango on cairo.

The document is laid out in chunks of a few thousand characters: Pango's layout time grows faster
than linearly with paragraph length, and small chunks keep memory flat for a 10 MB record. A chunk
that ends inside a paragraph drops its last line and the next chunk starts at that line, so line
breaks are exactly those of laying out the whole paragraph (Pango breaks greedily, line by line).
Lines are placed at our own fixed pitch (`line_height`), which makes pagination trivial and exact.
"""

from __future__ import annotations

import bisect
import math
import unicodedata
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from glyph_cli.errors import ConfigError
from glyph_cli.typeset.config import RenderConfig
from glyph_cli.typeset.flow import FlowPage, WordWidths, paginate
from glyph_cli.typeset.png import deflate_version
from glyph_cli.typeset.fonts import add_font_file, file_sha256, font_file
from glyph_cli.typeset.text import Prepared

_PROBE_SCALE = 64  # characters are measured at 64x the font size: advances to 1/65536 pt
CHUNK_CHARS = 3000  # measured: ~1M chars/s for 1-3K-char chunks, a quarter of that at 80K
_NOT_DRAWN = {"Zs", "Zl", "Zp", "Cc", "Cf"}
_ALIGN = {"left": "LEFT", "right": "RIGHT", "center": "CENTER", "justify": "LEFT"}


@dataclass
class PageInfo:
    index: int
    d_start: int  # display offsets [d_start, d_end)
    d_end: int
    width: int  # pixels, after cropping
    height: int


@dataclass
class Line:
    d_start: int
    d_end: int  # the next line's start: a break's consumed whitespace belongs to this line
    pango_line: object
    x: float  # layout units (pt before horizontal scaling), alignment and indent included
    right: float
    para_start: bool
    chunk_start: int
    offsets: "_ChunkOffsets | None"  # None: the chunk is ASCII, bytes == characters

    def byte_index(self, d: int) -> int:
        c = d - self.chunk_start
        return c if self.offsets is None else int(self.offsets.starts[c])


class _ChunkOffsets:
    """UTF-8 byte offsets <-> character offsets of a non-ASCII chunk (Pango speaks bytes)."""

    def __init__(self, chunk: str):
        cps = np.frombuffer(chunk.encode("utf-32-le"), dtype=np.uint32)
        lengths = 1 + (cps >= 0x80).astype(np.int64) + (cps >= 0x800) + (cps >= 0x10000)
        self.starts = np.zeros(len(cps) + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.starts[1:])
        self._chars = np.zeros(int(self.starts[-1]) + 1, dtype=np.int64)
        self._chars[self.starts] = np.arange(len(self.starts))

    def char(self, byte: int) -> int:
        return int(self._chars[byte])


def _gi():
    import gi

    gi.require_version("Pango", "1.0")
    gi.require_version("PangoCairo", "1.0")
    from gi.repository import Pango, PangoCairo

    return Pango, PangoCairo


class Typesetter:
    """Lays out and draws documents for one RenderConfig. Create once, reuse for every document."""

    def __init__(self, cfg: RenderConfig):
        import cairo

        Pango, PangoCairo = _gi()
        self.cfg = cfg
        self._cairo, self._Pango, self._PangoCairo = cairo, Pango, PangoCairo
        family = add_font_file(cfg.font_path) if cfg.font_path else cfg.font
        self.fontmap = PangoCairo.FontMap.new()
        installed = {f.get_name().lower() for f in self.fontmap.list_families()}
        if family.lower() not in installed:
            raise ConfigError(f"font family {family!r} is not installed",
                              "`fc-list : family` lists installed families; or pass --font-path FILE")
        self.family = family
        self.pctx = self.fontmap.create_context()
        options = cairo.FontOptions()
        options.set_hint_metrics(cairo.HINT_METRICS_OFF)  # layout independent of dpi
        options.set_hint_style(getattr(cairo, f"HINT_STYLE_{cfg.hinting.upper()}"))
        options.set_antialias(cairo.ANTIALIAS_GRAY if cfg.antialias else cairo.ANTIALIAS_NONE)
        PangoCairo.context_set_font_options(self.pctx, options)
        PangoCairo.context_set_resolution(self.pctx, 72)  # 1 pt == 1 layout unit
        self.pctx.set_round_glyph_positions(False)

        s = cfg.scale
        self.page_w, self.page_h = cfg.page_px
        k = self.oversample = cfg.oversample
        self.surface = cairo.ImageSurface(cairo.FORMAT_A8, self.page_w * k, self.page_h)
        self.ctx = cairo.Context(self.surface)
        # the surface is reused for every page, so one numpy view of its memory serves them all
        self.pixels = np.ndarray((self.page_h, self.surface.get_stride()), np.uint8, self.surface.get_data())
        self.x0 = (cfg.margin_x + cfg.frame_padding + cfg.left_indent) * s
        self.top = cfg.margin_y + cfg.frame_padding
        # Pango sees only the uniform dpi scale (for hinting); given a squeezed matrix it would
        # measure glyphs in the squeezed space and the horizontal scale would cancel out.
        self.ctx.set_matrix(cairo.Matrix(xx=s, yy=s, x0=self.x0))
        PangoCairo.update_context(self.ctx, self.pctx)
        # Oversampling draws k columns per pixel (glyphs land on 1/k-pixel positions, which cairo
        # 1.16 otherwise rounds to whole pixels) and averages them back.
        self.ctx.set_matrix(cairo.Matrix(xx=s * cfg.horizontal_scale * k, yy=s, x0=self.x0 * k))

        self.desc = Pango.FontDescription.from_string(f"{family},{cfg.font_cjk}")
        self.desc.set_family(f"{family},{cfg.font_cjk}")
        self.desc.set_absolute_size(cfg.font_size * Pango.SCALE)
        primary = self.desc.copy()
        primary.set_family(family)
        metrics = self.pctx.get_metrics(primary, None)
        ascent = metrics.get_ascent() / Pango.SCALE
        descent = metrics.get_descent() / Pango.SCALE
        self.descent = descent
        if cfg.baseline == "font-size":  # reportlab: the first baseline is font_size below the frame top
            self.baseline = cfg.font_size
        else:
            self.baseline = (cfg.line_height - (ascent + descent)) / 2 + ascent  # from the line box top
        self.fontset = self.fontmap.load_fontset(self.pctx, self.desc, Pango.Language.get_default())
        self._char_font: dict[str, str | None] = {}

        self.layout = Pango.Layout.new(self.pctx)
        self.layout.set_font_description(self.desc)
        self.layout.set_wrap(Pango.WrapMode.WORD_CHAR)
        self.layout.set_alignment(getattr(Pango.Alignment, _ALIGN[cfg.alignment]))
        self.layout.set_justify(cfg.alignment == "justify")
        if cfg.letter_spacing:
            attrs = Pango.AttrList()
            attrs.insert(Pango.attr_letter_spacing_new(int(cfg.letter_spacing * Pango.SCALE)))
            self.layout.set_attributes(attrs)
        if cfg.wrap == "words":
            # reportlab places glyphs at their advance widths: no kerning, no ligatures
            attrs = Pango.AttrList()
            attrs.insert(Pango.attr_font_features_new("kern=0,liga=0,clig=0"))
            self.layout.set_attributes(attrs)
            self.layout.set_width(-1)
            self._probe = Pango.Layout.new(self.pctx)
            big = self.desc.copy()
            big.set_absolute_size(cfg.font_size * _PROBE_SCALE * Pango.SCALE)
            self._probe.set_font_description(big)
            self._probe.set_attributes(attrs)
            self.widths = WordWidths(self._char_width)
        self.width_units = cfg.text_width / cfg.horizontal_scale
        probe = Pango.Layout.new(self.pctx)
        probe.set_font_description(self.desc)
        probe.set_attributes(self.layout.get_attributes())
        # measured inside the whole marker text, as it sits in a line: letter spacing at a text's
        # edges differs from between its characters
        probe.set_text(f"x{cfg.marker_text}x", -1)
        lead = 1 + len(cfg.marker_text) - len(cfg.marker_text.lstrip())
        end = lead + len(cfg.marker_text.strip())
        line = probe.get_line_readonly(0)
        self.marker_width = abs(line.index_to_x(len(f"x{cfg.marker_text}"[:end].encode()), False)
                                - line.index_to_x(len(f"x{cfg.marker_text}"[:lead].encode()), False)) / Pango.SCALE
        self.marker_slack = abs(cfg.letter_spacing) / 2  # Pango trims half the spacing at line edges
        self.hang = max(0.0, -cfg.first_line_indent) / cfg.horizontal_scale
        self.bottom = cfg.page_size[1] - cfg.margin_y - cfg.frame_padding + 1e-6

    # -- fonts -------------------------------------------------------------------------------

    def font_report(self, text: str) -> tuple[list[dict], dict]:
        """Fonts the text draws with (family, file, sha256) and the characters no font has."""
        families: set[str] = set()
        missing: list[str] = []
        for ch in sorted(set(text)):
            if unicodedata.category(ch) in _NOT_DRAWN or "\ufe00" <= ch <= "\ufe0f" or "\U000e0100" <= ch <= "\U000e01ef":
                continue  # spaces, controls, format characters, variation selectors: nothing to draw
            if ch not in self._char_font:
                font = self.fontset.get_font(ord(ch))
                ok = font is not None and font.has_char(ch)
                self._char_font[ch] = font.describe().get_family() if ok else None
            fam = self._char_font[ch]
            if fam is None:
                missing.append(ch)
            else:
                families.add(fam)
        families.add(self.family)
        fonts = []
        for fam in sorted(families):
            path = font_file(fam)
            fonts.append({"family": fam, "file": path, "sha256": file_sha256(path) if path else None})
        count = sum(text.count(ch) for ch in missing)
        return fonts, {"count": count, "chars": "".join(missing)}

    # -- layout ------------------------------------------------------------------------------

    def _chunk_end(self, text: str, pos: int, para_start: bool) -> tuple[int, int, bool]:
        """Where the chunk starting at `pos` ends: (end, consumed, partial).

        A chunk that starts a paragraph may hold several whole paragraphs; one that starts inside a
        paragraph holds only that paragraph's tail, so its indent state is uniform. A partial chunk
        ends inside a paragraph and its last line is laid out again by the next chunk.
        """
        n = len(text)
        breaks = self.cfg.newline == "break"
        limit = pos + CHUNK_CHARS
        if limit >= n:
            # a paragraph's tail is a chunk of its own even near the end: laid out with the
            # paragraphs after it, they would lose their first-line indents
            nl = text.find("\n", pos, n - 1) if breaks and not para_start else -1
            if nl >= 0:
                return nl, nl + 1, False
            if breaks and text.endswith("\n"):
                return n - 1, n, False  # a final newline ends the last line; it opens no empty line
            return n, n, False
        nl = -1
        if breaks:
            nl = text.rfind("\n", pos, limit) if para_start else text.find("\n", pos, limit)
        if nl >= 0:
            return nl, nl + 1, False
        space = text.rfind(" ", max(pos, limit - 200), limit)
        end = space + 1 if space > pos else limit
        return end, end, True

    def lines(self, text: str, pos: int = 0, para_start: bool = True) -> Iterator[Line]:
        """Every line from display offset `pos` on. A Line's pango line dies with the next Line."""
        Pango = self._Pango
        layout = self.layout
        n = len(text)
        while pos < n:
            end, consumed, partial = self._chunk_end(text, pos, para_start)
            chunk = text[pos:end]
            layout.set_width(int((self.width_units - (0 if para_start else self.hang)) * Pango.SCALE))
            layout.set_indent(int(self.cfg.first_line_indent / self.cfg.horizontal_scale * Pango.SCALE)
                              if para_start else 0)
            layout.set_text(chunk, -1)
            offset_x = 0.0 if para_start else self.hang
            offsets = None if chunk.isascii() else _ChunkOffsets(chunk)
            rows = []
            it = layout.get_iter()
            while True:
                line = it.get_line_readonly()
                ink, logical = it.get_line_extents()
                c0 = line.start_index if offsets is None else offsets.char(line.start_index)
                right = max(ink.x + ink.width, logical.x + logical.width)
                rows.append((c0, line, logical.x / Pango.SCALE + offset_x, right / Pango.SCALE + offset_x,
                             line.is_paragraph_start))
                if not it.next_line():
                    break
            if partial and len(rows) > 1:
                rows, next_pos = rows[:-1], pos + rows[-1][0]
            else:
                next_pos = consumed
            for i, (c0, line, x, right, is_para) in enumerate(rows):
                d_end = pos + rows[i + 1][0] if i + 1 < len(rows) else next_pos
                # the first line of a continuation chunk starts no paragraph
                yield Line(pos + c0, d_end, line, x, right, is_para and (para_start or i > 0), pos, offsets)
            para_start = not partial
            pos = next_pos

    # -- pages -------------------------------------------------------------------------------

    def pages(self, prep: Prepared, *, start_page: int = 0, pos: int = 0, draw: bool = True
              ) -> Iterator[tuple[PageInfo, np.ndarray | None, list[tuple[int, int, int, int]]]]:
        """Paginate from display offset `pos` (a page start). Yields (info, coverage, marker_rects).

        `coverage` is the page's A8 coverage, cropped (a view valid until the next page), or None
        when not drawing. `marker_rects` are (x0, y0, x1, y1) pixel boxes of newline markers.
        """
        cfg = self.cfg
        text = prep.display
        s = cfg.scale
        hx = s * cfg.horizontal_scale
        para_start = pos == 0 or (cfg.newline == "break" and text[pos - 1] == "\n")
        markers = prep.markers
        visible_lead = len(cfg.marker_text) - len(cfg.marker_text.lstrip())
        visible_len = len(cfg.marker_text.strip())
        if cfg.wrap == "words":
            yield from self._flow_pages(prep, start_page, pos, draw)
            return
        index = start_page
        page_start = pos
        y = self.top
        right_px = 0.0
        n_lines = 0
        rects: list[tuple[int, int, int, int]] = []
        if draw:
            self._clear()

        def finish(d_end: int, last: bool):
            width = self.page_w
            if cfg.auto_crop_width:
                width = min(self.page_w, max(1, math.ceil(right_px + cfg.margin_x * s)))
            height = self.page_h
            if last and cfg.auto_crop_last_page:
                height = min(self.page_h, max(1, math.ceil((y + cfg.margin_y) * s)))
            info = PageInfo(index, page_start, d_end, width, height)
            coverage = self._coverage(width, height) if draw else None
            return info, coverage, [(max(0, x0), max(0, y0), min(width, x1), min(height, y1))
                                    for x0, y0, x1, y1 in rects]

        for ln in self.lines(text, pos, para_start):
            gap = cfg.space_after + cfg.space_before if (ln.para_start and ln.d_start > 0 and n_lines) else 0.0
            if n_lines and y + gap + cfg.line_height > self.bottom:
                yield finish(ln.d_start, False)
                index += 1
                page_start, y, right_px, n_lines, rects = ln.d_start, self.top, 0.0, 0, []
                gap = 0.0
                if draw:
                    self._clear()
            y += gap
            if draw:
                self.ctx.move_to(ln.x, y + self.baseline)
                self._PangoCairo.show_layout_line(self.ctx, ln.pango_line)
            right_px = max(right_px, self.x0 + ln.right * hx)
            if markers:
                k = bisect.bisect_left(markers, ln.d_start - visible_lead - visible_len + 1)
                while k < len(markers) and markers[k] < ln.d_end:
                    v0 = markers[k] + visible_lead
                    if ln.d_start <= v0 and v0 + visible_len <= ln.d_end:
                        # one lookup per marker: its visible part has a fixed width (justification
                        # stretches only spaces), and index_to_x walks the line from its start
                        lo = ln.pango_line.index_to_x(ln.byte_index(v0), False) / self._Pango.SCALE + ln.x
                        rects.append(self._marker_box(lo, lo + self.marker_width + self.marker_slack, y))
                    elif v0 < ln.d_end and v0 + visible_len > ln.d_start:
                        rects.append(self._split_marker_rect(ln, v0, visible_len, y))
                    k += 1
            y += cfg.line_height
            n_lines += 1
        yield finish(len(text), True)

    # -- the released renderer's flow (wrap="words") ---------------------------------------------

    def _char_width(self, ch: str) -> float:
        if ch in "\n\t":
            ch = " "
        self._probe.set_text(ch, -1)
        return self._probe.get_line_readonly(0).get_extents()[1].width / self._Pango.SCALE / _PROBE_SCALE

    @property
    def lines_per_page(self) -> int:
        return int(self.cfg.text_height / self.cfg.line_height + 1e-9)

    def flow(self, prep: Prepared) -> Iterator[FlowPage]:
        """Page layouts (no drawing): which lines go where."""
        width = self.width_units
        return paginate(prep.display, self.widths, width, self.lines_per_page, self.cfg.paragraph_lines)

    def flow_info(self, page: FlowPage, last: bool) -> PageInfo:
        cfg, s = self.cfg, self.cfg.scale
        width, height = self.page_w, self.page_h
        if cfg.auto_crop_width:  # as the released code crops: the margin is added in pixels
            right = max((self._line_x(w) + w for _, _, w in page.lines), default=0.0)
            if cfg.draws_boxes and page.boxes:  # the box is ink the crop keeps
                right = max(right, (cfg.text_width + cfg.border_padding + cfg.border_width / 2)
                            / cfg.horizontal_scale)
            width = min(self.page_w, max(1, math.ceil(self.x0 + right * s * cfg.horizontal_scale)
                                        + round(cfg.margin_x)))
        if last and cfg.auto_crop_last_page and page.lines:
            slot = page.lines[-1][0]
            bottom = self.top + slot * cfg.line_height + self.baseline + self.descent
            height = min(self.page_h, max(1, math.ceil(bottom * s) + round(cfg.margin_y)))
        return PageInfo(page.index, page.d_start, page.d_end, width, height)

    def para_boxes(self, page: FlowPage) -> list[tuple[int, int, int, int]]:
        """Pixel rectangles (x0, y0, x1, y1) of each Paragraph's box on the page, outset by
        border_padding, as reportlab's Paragraph.drawPara draws its backColor rect (the padding
        does not change the Paragraph's width, so the breaks do not move)."""
        cfg = self.cfg
        if not cfg.draws_boxes:
            return []
        s, bp = cfg.scale, cfg.border_padding
        left = cfg.margin_x + cfg.frame_padding + cfg.left_indent - bp
        right = cfg.page_size[0] - cfg.margin_x - cfg.frame_padding - cfg.right_indent + bp
        return [(round(left * s), round((self.top + a * cfg.line_height - bp) * s), round(right * s),
                 round((self.top + b * cfg.line_height + bp) * s)) for a, b in page.boxes if b > a]

    def _line_x(self, width: float) -> float:
        align = self.cfg.alignment
        if align == "right":
            return self.width_units - width
        if align == "center":
            return (self.width_units - width) / 2
        return 0.0

    def draw_flow(self, page: FlowPage, last: bool) -> tuple[PageInfo, np.ndarray]:
        info = self.flow_info(page, last)
        self._clear()
        if page.lines:
            cfg = self.cfg
            layout = self.layout
            layout.set_text("\n".join([t for _, t, _ in page.lines]), -1)
            it = layout.get_iter()
            show = self._PangoCairo.show_layout_line
            move = self.ctx.move_to
            y0 = self.top + self.baseline
            for slot, _, w in page.lines:
                move(self._line_x(w), y0 + slot * cfg.line_height)
                show(self.ctx, it.get_line_readonly())
                if not it.next_line():
                    break
        return info, self._coverage(info.width, info.height)

    def _flow_pages(self, prep: Prepared, start_page: int, pos: int, draw: bool):
        pages = self.flow(prep)
        prev = next(pages, None)
        for page in pages:
            if prev.index >= start_page and prev.d_start >= pos:
                yield self._flow_out(prev, False, draw)
            prev = page
        if prev is not None:
            yield self._flow_out(prev, True, draw)

    def _flow_out(self, page: FlowPage, last: bool, draw: bool):
        if not draw:
            return self.flow_info(page, last), None, []
        info, coverage = self.draw_flow(page, last)
        return info, coverage, []

    def _split_marker_rect(self, ln: Line, v0: int, length: int, y: float) -> tuple[int, int, int, int]:
        """The box of the part of a marker that a line break cut, found the slow way."""
        a, b = max(v0, ln.d_start), min(v0 + length, ln.d_end)
        xa = ln.pango_line.index_to_x(ln.byte_index(a), False) / self._Pango.SCALE + ln.x
        xb = ln.pango_line.index_to_x(ln.byte_index(b), False) / self._Pango.SCALE + ln.x
        return self._marker_box(min(xa, xb), max(xa, xb), y)

    def _marker_box(self, lo: float, hi: float, y: float) -> tuple[int, int, int, int]:
        """Pixel box (x0, y0, x1, y1) of layout x range [lo, hi] on the line whose box starts at y
        (pt), a pixel wider each side so antialiased edges take the marker colour too."""
        s, hx = self.cfg.scale, self.cfg.scale * self.cfg.horizontal_scale
        return (int(self.x0 + lo * hx) - 1, int(y * s), math.ceil(self.x0 + hi * hx) + 1,
                math.ceil((y + self.cfg.line_height) * s))

    def _clear(self) -> None:
        self.surface.flush()
        self.pixels.fill(0)
        self.surface.mark_dirty()

    def _coverage(self, width: int, height: int) -> np.ndarray:
        self.surface.flush()
        k = self.oversample
        if k == 1:
            return self.pixels[:height, :width]
        if k == 4:  # four samples are one uint32: add them with two masked shifts (SWAR), not a reduce
            v = self.pixels[:height].view(np.uint32)[:, :width]
            t = (v & 0x00FF00FF) + ((v >> 8) & 0x00FF00FF)
            t = (t & 0xFFFF) + (t >> 16)
            return ((t + 2) >> 2).astype(np.uint8)
        cols = self.pixels[:height, :width * k].reshape(height, width, k)
        return ((cols.sum(axis=2, dtype=np.uint16) + k // 2) // k).astype(np.uint8)


def tool_versions() -> dict:
    import cairo

    from glyph_cli import __version__

    Pango, _ = _gi()
    return {"glyph": __version__, "pango": Pango.version_string(), "cairo": cairo.cairo_version_string(),
            "pycairo": cairo.version, "deflate": deflate_version()}
