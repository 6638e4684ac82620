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
from glyph_cli.typeset.glyphs import GLYPH_DTYPE, POSITION_EPS, SpritePage, glyph_extents, scaled_font
from glyph_cli.typeset.png import deflate_version
from glyph_cli.typeset.fonts import add_font_file, file_sha256, font_file
from glyph_cli.typeset.text import Prepared

_PROBE_SCALE = 64  # characters are measured at 64x the font size: advances to 1/65536 pt
CHUNK_CHARS = 3000  # measured: ~1M chars/s for 1-3K-char chunks, a quarter of that at 80K
_NOT_DRAWN = {"Zs", "Zl", "Zp", "Cc", "Cf"}
_ALIGN = {"left": "LEFT", "right": "RIGHT", "center": "CENTER", "justify": "LEFT"}
# Scripts drawn as plain glyph runs (one cmap glyph per character, no shaping): Latin, Greek, Cyrillic,
# Armenian, Georgian, punctuation and symbols, CJK, kana, Hangul syllables, Yi, full-width forms.
# Everything else (combining marks, right-to-left and complex scripts, astral planes) goes to Pango.
_PLAIN_RANGES = ((0x20, 0x58F), (0x10A0, 0x10FF), (0x1E00, 0x1FFF), (0x2000, 0x2BFF), (0x2E00, 0x2E7F),
                 (0x3000, 0x312F), (0x3190, 0x9FFF), (0xA000, 0xA4CF), (0xAC00, 0xD7A3), (0xF900, 0xFAFF),
                 (0xFE30, 0xFE4F), (0xFF01, 0xFFEF))
_PLAIN_BIDI = {"L", "EN", "ES", "ET", "CS", "ON", "WS", "B", "S"}
_UNKNOWN, _PANGO, _BLANK = 255, 254, 253  # glyph-table kinds; below them: the index of a plain font
# A pixel the released crop counts as ink differs from the background by over 5 of 255 grey levels:
# a glyph edge must cover about 4% of it (measured on drawn pages: see tests/test_typeset_flow.py)
_INK_EDGE = 0.04
_M8, _M16 = np.uint64(0x00FF00FF00FF00FF), np.uint64(0x0000FFFF0000FFFF)
_S2, _S8, _S16, _ROUND4 = np.uint64(2), np.uint64(8), np.uint64(16), np.uint64(0x0000000200000002)


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


class _Run:
    """A page's plain glyphs (cairo_glyph_t array and font slot of each), the lines Pango draws,
    and the ink's bottom in device pixels per drawn glyph."""

    glyphs: np.ndarray
    fonts: np.ndarray
    pango_lines: list
    ink_bottom: np.ndarray


class PagePlan:
    """A laid-out page ready to paint: its info, its glyph runs per cairo scaled font, and the
    coverage Pango drew for the lines it shapes (None: none)."""

    __slots__ = ("info", "glyphs", "pango")

    def __init__(self, info: PageInfo):
        self.info = info
        self.glyphs: list[tuple[int, np.ndarray]] = []
        self.pango: np.ndarray | None = None


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
    gi.require_version("PangoFc", "1.0")
    from gi.repository import Pango, PangoCairo, PangoFc  # noqa: F401  (PangoFc: Font.get_glyph)

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
        self.pctx = Pango.FontMap.create_context(self.fontmap)  # not PangoFc's deprecated one
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
        # a width that is a multiple of 8 samples lets _coverage read rows as uint64 words
        self.surface = cairo.ImageSurface(cairo.FORMAT_A8, -(-self.page_w * k // 8) * 8, self.page_h)
        self.ctx = cairo.Context(self.surface)
        # the surface is reused for every page, so one numpy view of its memory serves them all
        self.pixels = np.ndarray((self.page_h, self.surface.get_stride()), np.uint8, self.surface.get_data())
        self._swar: tuple[np.ndarray, np.ndarray] | None = None
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
            # per BMP character: how it is drawn (_UNKNOWN until first seen), its glyph and advance
            self._kind = np.full(0x10000, _UNKNOWN, np.uint8)
            self._glyph = np.zeros(0x10000, np.uint64)
            self._advance = np.zeros(0x10000, np.float64)
            # ink box of each plain glyph from its origin (pt): right edge and lowest point
            self._ink_right_of = np.full(0x10000, -np.inf)
            self._ink_bottom = np.full(0x10000, -np.inf)
            self._plain_fonts: list[tuple[object, int]] = []  # (Pango font, its cairo scaled font)
            self._font_slot: dict[str, int] = {}
            self._sprite_bitmaps: dict = {}  # each sprite drawn once for every thread's SpritePage
            self.sprites = self.sprite_page()
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
                ok = font is not None and self._Pango.Font.has_char(font, ch)
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
        return self.flow_infos([page], last)[0]

    def flow_infos(self, pages: list[FlowPage], last: bool) -> list[PageInfo]:
        """flow_info of each page, the last one `last`: the ink of all of them in one numpy pass
        (the same numbers as page by page: see _chars)."""
        rights = self._ink_rights([p.lines for p in pages])
        crop_last = last and self.cfg.auto_crop_last_page
        return [self._flow_info(p, right, self._run(p.lines) if crop_last and i == len(pages) - 1 else None)
                for i, (p, right) in enumerate(zip(pages, rights))]

    def _flow_info(self, page: FlowPage, ink_right: float, run: "_Run | None") -> PageInfo:
        """The page's size after the released code's crop, which reads the ink of the drawn page:
        the rightmost column and (last page) the lowest row that differ from the background by more
        than 5 grey levels, plus the margin in pixels. The ink is known from the layout (glyph ink
        boxes at their drawn positions), so the size is known before the page is drawn. `run` is
        given for a last page to crop."""
        cfg = self.cfg
        width, height = self.page_w, self.page_h
        if cfg.auto_crop_width:
            right = None
            if math.isfinite(ink_right):  # the column holding the rightmost ink, + 1
                right = math.ceil(ink_right - _INK_EDGE)
            if cfg.draws_boxes and page.boxes:  # the box is ink the crop keeps
                box = math.ceil(self.x0 + (cfg.text_width + cfg.border_padding + cfg.border_width / 2)
                                * cfg.scale)
                right = box if right is None else max(right, box)
            if right is not None:
                width = min(self.page_w, max(1, right + round(cfg.margin_x)))
        if run is not None and len(run.ink_bottom):  # the row holding the lowest ink (not + 1)
            lowest = float(run.ink_bottom.max())
            if math.isfinite(lowest):
                height = min(self.page_h, max(1, math.ceil(lowest - _INK_EDGE) - 1 + round(cfg.margin_y)))
        return PageInfo(page.index, page.d_start, page.d_end, width, height)

    def _chars(self, lines: list[tuple[int, str, float]]):
        """Per character of lines (a page's, or several pages' one after another): (table index,
        kind, advance, origin x in its line, each character's line). Characters beyond the BMP
        tables (emoji and the like, in lines Pango draws) are measured one by one, so the positions
        after them on their line hold.

        The x of a character does not depend on which lines came before it: advances are whole
        multiples of 2^-16 pt (Pango units of a font measured at _PROBE_SCALE), so the running sums
        are exact in float64 (to 2^37 pt) and a line's start subtracts exactly; an alignment's
        offset is added to that exact in-line x. So a batch of pages gives each page the numbers it
        gets alone, and -j 2 (batches) the bytes of -j 1 (pages; tests/test_typeset_flow.py)."""
        texts = [t for _, t, _ in lines]
        text = "".join(texts)
        idx, kind = self._kinds(text)
        adv = self._advance[idx]  # a copy
        for j in np.flatnonzero(idx == 0).tolist():
            adv[j] = self.widths.char(text[j])
        lens = np.fromiter(map(len, texts), np.int64, len(texts))
        line_of = np.repeat(np.arange(len(texts)), lens)
        before = np.cumsum(adv) - adv  # each character's x from the start of the page's text
        first = np.cumsum(lens) - lens
        x = before - np.concatenate([[0.0], np.cumsum(adv)])[first][line_of]  # exact: the line's own sum
        if self.cfg.alignment != "left":
            x += np.array([self._line_x(w) for _, _, w in lines])[line_of]
        return idx, kind, adv, x, line_of

    def _ink_right(self, lines: list[tuple[int, str, float]]) -> float:
        return self._ink_rights([lines])[0]

    def _ink_rights(self, pages: list[list[tuple[int, str, float]]]) -> list[float]:
        """Per page (its lines), the device x of its rightmost ink: every drawn character's ink box
        at the position `_run` draws it at (the same `_chars`), one numpy pass over all the pages."""
        sizes = [sum(len(t) for _, t, _ in lines) for lines in pages]
        out = [-math.inf] * len(pages)
        if not any(sizes):
            return out
        cfg = self.cfg
        idx, kind, adv, x, _ = self._chars([line for lines in pages for line in lines])
        hx, k = cfg.scale * cfg.horizontal_scale, self.oversample
        # a glyph is drawn at its position truncated to a whole sample (1/oversample pixel), as
        # poppler does (SpritePage.add)
        gx = np.floor((self.x0 + x * hx) * k + POSITION_EPS) / k
        right = np.where(kind == _PANGO, self.x0 + (x + adv) * hx, gx + self._ink_right_of[idx] * hx)
        right[kind == _BLANK] = -np.inf
        filled = [i for i, n in enumerate(sizes) if n]
        starts = np.cumsum([0] + sizes[:-1])[filled]
        for i, r in zip(filled, np.maximum.reduceat(right, starts).tolist()):
            out[i] = r
        return out

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

    def draw_flow(self, page: FlowPage, last: bool, info: PageInfo | None = None) -> tuple[PageInfo, np.ndarray]:
        """Draw a laid-out page: (its info, its A8 coverage cropped, a view valid until the next
        page). `info`: what flow_info gave for it, when the caller has it already."""
        plan = self.plan_flow(page, last, info)
        return plan.info, self.paint(plan, self.sprites)

    def plan_flow(self, page: FlowPage, last: bool, info: PageInfo | None = None) -> "PagePlan":
        """What drawing a laid-out page takes, worked out on this thread (Pango's lines drawn
        already): `paint` then draws it, on any thread that has its own SpritePage."""
        return self.plan_flows([page], page.index if last else -1, [info] if info else None)[0]

    def plan_flows(self, pages: list[FlowPage], last_index: int,
                   infos: list[PageInfo] | None = None) -> "list[PagePlan]":
        """plan_flow of each page (the one whose index is `last_index` is the document's last; `infos`:
        their flow_info, when the caller has it), the glyphs of all of them in one numpy pass."""
        runs = self._runs([p.lines for p in pages])
        if infos is None:
            rights = self._ink_rights([p.lines for p in pages])
            crop = self.cfg.auto_crop_last_page
            infos = [self._flow_info(p, right, run if crop and p.index == last_index else None)
                     for p, right, run in zip(pages, rights, runs)]
        return [self._plan(run, info) for run, info in zip(runs, infos)]

    def _plan(self, run: "_Run | None", info: PageInfo) -> "PagePlan":
        plan = PagePlan(info)
        if run is None:
            return plan
        if len(run.glyphs):
            fonts = run.fonts
            if len(self._plain_fonts) == 1:
                plan.glyphs.append((self._plain_fonts[0][1], run.glyphs))
            else:
                for f in np.unique(fonts).tolist():
                    plan.glyphs.append((self._plain_fonts[f][1], run.glyphs[fonts == f]))
        if run.pango_lines:  # Pango draws at k samples a pixel (not thread-safe: here, now)
            self._clear()
            self._pango_lines(run.pango_lines)
            plan.pango = self._coverage(info.width, info.height).copy()
        return plan

    def sprite_page(self) -> SpritePage:
        """A page buffer and glyph cache of its own, for a thread that paints pages."""
        cfg = self.cfg
        return SpritePage(self.page_w, self.page_h, self.oversample,
                          (cfg.scale * cfg.horizontal_scale, 0.0, 0.0, cfg.scale, self.x0, 0.0), self._sprite_bitmaps)

    @staticmethod
    def paint(plan: "PagePlan", sprites: SpritePage) -> np.ndarray:
        """The page's A8 coverage, cropped: its glyph sprites added (GIL released while pixman
        composites), then Pango's coverage. A view of `sprites`' buffer, valid until its next page."""
        info = plan.info
        sprites.clear(info.height)
        coverage = sprites.pixels[:info.height, :info.width]
        for font, glyphs in plan.glyphs:
            sprites.add(font, glyphs)
        if plan.pango is not None:
            total = coverage.astype(np.uint16)
            total += plan.pango
            np.minimum(total, 255, out=total)
            coverage[:] = total
        return coverage

    def _run(self, lines: list[tuple[int, str, float]]) -> "_Run | None":
        return self._runs([lines])[0]

    def _runs(self, pages: list[list[tuple[int, str, float]]]) -> "list[_Run | None]":
        """Per page (its lines), its glyphs: lines of plain characters become glyph arrays, the rest
        is left to Pango; and each drawn glyph's ink bottom in device pixels (Pango's lines: the
        font's descent). None for a page without lines. One numpy pass over all the pages."""
        runs: list[_Run | None] = [None] * len(pages)
        lines = [line for page in pages for line in page]
        if not lines:
            return runs
        cfg = self.cfg
        idx, kind, _, x, line_of = self._chars(lines)
        pango = np.zeros(len(lines), bool)
        pango[line_of[kind == _PANGO]] = True
        y = self.top + self.baseline + np.array([slot for slot, _, _ in lines]) * cfg.line_height
        draw = (kind < _BLANK) & ~pango[line_of]
        sel = line_of[draw]
        glyphs = np.empty(len(sel), GLYPH_DTYPE)
        glyphs["index"] = self._glyph[idx[draw]]
        glyphs["x"] = x[draw]
        glyphs["y"] = y[sel]
        fonts = kind[draw]
        s = cfg.scale
        bottom = (y[sel] + self._ink_bottom[idx[draw]]) * s  # of every drawn glyph
        inked = pango[line_of] & (kind != _BLANK)
        pango_bottom = (y[line_of[inked]] + self.descent) * s  # Pango's lines: the font's descent
        pango_line = line_of[inked]
        flags = pango.tolist()
        first = 0  # the page's first line
        for i, page in enumerate(pages):
            end = first + len(page)
            if page:
                g0, g1 = np.searchsorted(sel, (first, end))
                p0, p1 = np.searchsorted(pango_line, (first, end))
                run = runs[i] = _Run()
                run.glyphs, run.fonts = glyphs[g0:g1], fonts[g0:g1]
                run.pango_lines = [ln for ln, p in zip(page, flags[first:end]) if p]
                run.ink_bottom = np.concatenate([bottom[g0:g1], pango_bottom[p0:p1]])
            first = end
        return runs

    def _kinds(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Table index and drawing kind of each character of `text` (classified on first sight)."""
        cps = np.frombuffer(text.encode("utf-32-le"), np.uint32)
        idx = cps if not len(cps) or cps.max() < 0x10000 else np.where(cps < 0x10000, cps, 0)
        kind = self._kind[idx]
        if (kind == _UNKNOWN).any():
            for cp in np.unique(idx[kind == _UNKNOWN]).tolist():
                self._classify(cp)
            kind = self._kind[idx]
        if idx is not cps:
            kind = np.where(cps < 0x10000, kind, _PANGO)
        return idx, kind

    def _pango_lines(self, lines: list[tuple[int, str, float]]) -> None:
        cfg = self.cfg
        layout = self.layout
        layout.set_text("\n".join([t for _, t, _ in lines]), -1)
        it = layout.get_iter()
        show = self._PangoCairo.show_layout_line
        move = self.ctx.move_to
        y0 = self.top + self.baseline
        for slot, _, w in lines:
            move(self._line_x(w), y0 + slot * cfg.line_height)
            show(self.ctx, it.get_line_readonly())
            if not it.next_line():
                break

    def _classify(self, cp: int) -> None:
        """Decide once how character `cp` is drawn: a plain glyph of which font, blank, or by Pango."""
        ch = chr(cp)
        self._advance[cp] = self.widths.char(ch)
        cat = unicodedata.category(ch)
        if cat == "Zs":
            self._kind[cp] = _BLANK
            return
        self._kind[cp] = _PANGO
        if (cat[0] in "MC" or unicodedata.bidirectional(ch) not in _PLAIN_BIDI
                or not any(a <= cp <= b for a, b in _PLAIN_RANGES)):
            return
        font = self.fontset.get_font(cp)
        if font is None or not self._Pango.Font.has_char(font, ch):
            return
        glyph = font.get_glyph(ch)
        if not glyph or glyph & self._Pango.GLYPH_UNKNOWN_FLAG:
            return
        key = font.describe().to_string()
        slot = self._font_slot.get(key)
        if slot is None:
            if len(self._plain_fonts) >= _BLANK:
                return
            slot = self._font_slot[key] = len(self._plain_fonts)
            self._plain_fonts.append((font, scaled_font(font)))
        self._glyph[cp] = glyph
        self._kind[cp] = slot
        x_bearing, y_bearing, width, height = glyph_extents(self._plain_fonts[slot][1], glyph)
        if width > 0 and height > 0:
            self._ink_right_of[cp] = x_bearing + width
            self._ink_bottom[cp] = y_bearing + height

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
        if k == 4:
            # Eight samples are one uint64: two masked shifts add them in fours (SWAR), in place in
            # buffers kept for every page (fresh 2 MB temporaries cost more than the arithmetic).
            if self._swar is None:
                shape = (self.page_h, self.pixels.shape[1] // 8)
                self._swar = (np.empty(shape, np.uint64), np.empty(shape, np.uint64))
            words = (width + 1) // 2
            v = self.pixels[:height].view(np.uint64)[:, :words]
            a, b = (buf[:height, :words] for buf in self._swar)
            np.bitwise_and(v, _M8, out=a)
            np.right_shift(v, _S8, out=b)
            b &= _M8
            a += b  # four 16-bit sums of two samples
            np.right_shift(a, _S16, out=b)
            a &= _M16
            b &= _M16
            a += b  # two 32-bit sums of four samples
            a += _ROUND4
            a >>= _S2
            return a.view(np.uint8)[:, :words * 8:4][:, :width]
        cols = self.pixels[:height, :width * k].reshape(height, width, k)
        return ((cols.sum(axis=2, dtype=np.uint16) + k // 2) // k).astype(np.uint8)


def tool_versions(deflate: str = "glyph") -> dict:
    """What made a document's pages; `deflate`: the config's png_deflate."""
    import cairo

    from glyph_cli import __version__

    Pango, _ = _gi()
    return {"glyph": __version__, "pango": Pango.version_string(), "cairo": cairo.cairo_version_string(),
            "pycairo": cairo.version, "deflate": deflate_version(deflate)}
