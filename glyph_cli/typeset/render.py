"""Documents -> page-stream records (docs/FORMATS.md), one document at a time, memory bounded.

The doc record comes first and says how many pages follow, yet pages must stream. So pages are
drawn and encoded into a small buffer; a document that outgrows it is counted to the end without
drawing (layout only), then the buffer is flushed and drawing resumes from the first unflushed
page. Restarting at a page boundary gives the same lines, so the output does not depend on the
buffer size (a test checks this).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from glyph_cli.records import doc_record, page_record
from glyph_cli.streams.documents import Document
from glyph_cli.typeset.config import RenderConfig
from glyph_cli.typeset.engine import PageInfo, Typesetter, tool_versions
from glyph_cli.typeset.raster import Rasteriser
from glyph_cli.typeset.text import Prepared, prepare

PAGE_BUFFER = 64  # pages held before switching to count-then-draw (~2-6 MB of PNG at 72 dpi)
# a text this long has its tokens counted on a thread while it is laid out (the built-in tokenizer
# releases the GIL while it counts, ~0.15 s per million characters; `glyph render` hands the count on
# to a child process, tokens/counter.py); a shorter one is not worth a hand-off. Measured
# on a hundred 44K-character documents: 20K takes 0.8 CPU-s off the main thread of 4.1
COUNT_AHEAD_CHARS = 20_000


@dataclass
class RenderedPage:
    info: PageInfo
    png: bytes


class Renderer:
    """Renders documents with one config. Build once per process; it caches fonts and tables."""

    def __init__(self, cfg: RenderConfig, count_tokens: Callable[[str], int], tokenizer_name: str,
                 page_tokens: Callable[[int, int], dict[str, int]], page_buffer: int = PAGE_BUFFER,
                 count_ahead: Callable[[str], int] | None = None):
        self.cfg = cfg
        self.typesetter = Typesetter(cfg)
        self.rasteriser = Rasteriser(cfg)
        self.count_tokens = count_tokens
        self.tokenizer_name = tokenizer_name
        self.page_tokens = page_tokens
        self.page_buffer = max(1, page_buffer)
        self.config_dict = cfg.to_dict()
        self.tool = tool_versions(cfg.png_deflate)
        self.count_ahead = count_ahead or count_tokens  # what the counting thread runs (tokens/counter.py)
        self._counter = None

    def count_later(self, text: str, ahead: bool = False) -> Callable[[], int]:
        """A function giving the text-token count of `text`; a long text's count starts now, on a
        thread, so that it runs alongside the layout. `ahead`: the caller reads documents ahead of
        the one it writes, so any text's count is started on the thread."""
        if len(text) < COUNT_AHEAD_CHARS and not ahead:
            return lambda: self.count_tokens(text)
        if self._counter is None:
            import concurrent.futures as cf

            self._counter = cf.ThreadPoolExecutor(1, thread_name_prefix="glyph-tokens")
        return self._counter.submit(self.count_ahead, text).result

    def start_counting(self) -> None:
        """Have the counter ready before the first long text comes (its child started, when it has one)."""
        start = getattr(self.count_ahead, "start", None)
        if start is not None:
            start()

    def close(self) -> None:
        """Stop the counting thread and child, if any were started (a Renderer left open loses nothing:
        the thread is idle and the child ends with this process)."""
        close = getattr(self.count_ahead, "close", None)
        if close is not None:
            close()  # first: a count under way in the child is cut short, so the thread ends at once
        if self._counter is not None:
            self._counter.shutdown(wait=True, cancel_futures=True)
            self._counter = None

    def _draw(self, prep, start_page: int = 0, pos: int = 0) -> Iterator[RenderedPage]:
        for info, coverage, rects in self.typesetter.pages(prep, start_page=start_page, pos=pos):
            yield RenderedPage(info, self.rasteriser.encode(coverage, rects))

    def render(self, doc: Document) -> Iterator[dict]:
        """The doc record, then its page records. Pages are produced as the caller consumes them."""
        cfg = self.cfg
        text_tokens = self.count_later(doc.text)
        prep = self.prepare(doc)
        if cfg.wrap == "words":
            yield from self._render_flow(doc, prep, text_tokens)
            return
        buffered: list[RenderedPage] = []
        drawing = self._draw(prep)
        for page in drawing:
            buffered.append(page)
            if len(buffered) == self.page_buffer:
                break
        infos: list[PageInfo] = [p.info for p in buffered]
        overflow = len(buffered) == self.page_buffer and buffered[-1].info.d_end < len(prep.display)
        if overflow:
            drawing.close()
            last = buffered[-1].info
            infos += [info for info, _, _ in self.typesetter.pages(
                prep, start_page=last.index + 1, pos=last.d_end, draw=False)]
        page_tokens = [self.page_tokens(i.width, i.height) for i in infos]
        yield self.make_doc_record(doc, prep, infos, page_tokens, text_tokens())
        for page in buffered:
            yield self._page_record(doc, prep, page, page_tokens[page.info.index])
        if overflow:
            last = buffered[-1].info
            buffered.clear()
            for page in self._draw(prep, start_page=last.index + 1, pos=last.d_end):
                expected = infos[page.info.index]
                if (page.info.d_start, page.info.d_end) != (expected.d_start, expected.d_end):
                    raise RuntimeError(f"document {doc.id!r}: page {page.info.index} laid out differently "
                                       "when drawn than when counted")
                yield self._page_record(doc, prep, page, page_tokens[page.info.index])

    def _render_flow(self, doc: Document, prep, text_tokens: Callable[[], int]) -> Iterator[dict]:
        """Lay the whole document out first (cheap: no shaping), then draw page by page."""
        ts = self.typesetter
        layouts = list(ts.flow(prep))
        infos = [ts.flow_info(p, i == len(layouts) - 1) for i, p in enumerate(layouts)]
        page_tokens = [self.page_tokens(i.width, i.height) for i in infos]
        yield self.make_doc_record(doc, prep, infos, page_tokens, text_tokens())
        last = len(layouts) - 1
        for i, layout in enumerate(layouts):
            layouts[i] = None  # drawn pages are dropped as they go
            info, coverage = self.typesetter.draw_flow(layout, i == last, infos[i])
            yield self.page_record(doc, prep, info, self.rasteriser.encode(
                coverage, [], self.typesetter.para_boxes(layout)), page_tokens[i])

    def prepare(self, doc: Document):
        cfg = self.cfg
        return prepare(doc.text, newline=cfg.newline, marker_text=cfg.marker_text, tab_width=cfg.tab_width,
                       tabs=cfg.tabs, keep_tabs=cfg.wrap == "words")

    def page_record(self, doc: Document, prep, info: PageInfo, png: bytes, tokens: dict) -> dict:
        """The record of one drawn page (drawn here or by a PageDrawer in a worker)."""
        return self._page_record(doc, prep, RenderedPage(info, png), tokens)

    def make_doc_record(self, doc: Document, prep, infos: list[PageInfo], page_tokens: list[dict],
                        text_tokens: int | None = None) -> dict:
        """The doc record, from the document's page infos (and its text-token count, when the caller
        counted it already)."""
        totals: dict[str, int] = {}
        for tokens in page_tokens:
            for family, n in tokens.items():
                totals[family] = totals.get(family, 0) + n
        fonts, missing = self.typesetter.font_report(prep.display)
        if text_tokens is None:
            text_tokens = self.count_tokens(doc.text)
        return doc_record(doc.id, doc.text, meta=doc.meta, text_tokens=text_tokens,
                          tokenizer=self.tokenizer_name, pages=len(infos), visual_tokens=totals,
                          config=self.config_dict, fonts=fonts, missing_glyphs=missing, tool=self.tool)

    def _page_record(self, doc: Document, prep, page: RenderedPage, tokens: dict) -> dict:
        info = page.info
        # the first page starts at 0 even when the text opens with characters not drawn
        span = (0 if info.index == 0 else prep.to_source(info.d_start), prep.to_source(info.d_end))
        return page_record(doc.id, info.index, span, page.png, width=info.width, height=info.height,
                           dpi=self.cfg.dpi, visual_tokens=tokens)


class PageDrawer:
    """Draws and encodes pages for a parent that lays documents out: what a render worker holds."""

    def __init__(self, cfg: RenderConfig, typesetter: Typesetter | None = None,
                 rasteriser: Rasteriser | None = None):
        import threading

        self.typesetter = typesetter or Typesetter(cfg)
        self.rasteriser = rasteriser or Rasteriser(cfg)
        self._local = threading.local()  # a SpritePage per painting thread

    def draw_range(self, display: str, markers: list[int], start_page: int, pos: int,
                   count: int | None) -> list[tuple[PageInfo, bytes]]:
        """Pango's flow: `count` pages (None: all) of a piece of display text, from its offset `pos`
        (a page start) on, offsets relative to the piece. The caller gives enough text before `pos`
        (the character there decides whether a paragraph starts) and after the last page (the
        line that starts the next page ends it)."""
        prep = Prepared(display=display, source_len=len(display), markers=markers)
        out = []
        pages = self.typesetter.pages(prep, start_page=start_page, pos=pos)
        try:
            for info, coverage, rects in pages:
                out.append((info, self.rasteriser.encode(coverage, rects)))
                if len(out) == count:
                    break
        finally:
            pages.close()
        return out

    def draw(self, pages, last_index: int, infos: list[PageInfo] | None = None) -> list[tuple[PageInfo, bytes]]:
        """The words flow: draw and encode laid-out pages (`infos`: their PageInfos, when known)."""
        return self.paint(self.plan(pages, last_index, infos))

    def plan(self, pages, last_index: int, infos: list[PageInfo] | None = None) -> list[tuple]:
        """The words flow, planned here and painted and encoded later (`paint`, on another thread):
        each page's (PagePlan, paragraph boxes)."""
        ts = self.typesetter
        return list(zip(ts.plan_flows(pages, last_index, infos), [ts.para_boxes(page) for page in pages]))

    def paint(self, planned: list[tuple]) -> list[tuple[PageInfo, bytes]]:
        """PNGs of pages from `plan`, on any thread: each thread paints into a SpritePage of its
        own; pixman's compositing, the deflate and most of numpy's work run without the GIL."""
        sprites = getattr(self._local, "sprites", None)
        if sprites is None:
            sprites = self._local.sprites = self.typesetter.sprite_page()
        paint, encode = self.typesetter.paint, self.rasteriser.encode
        return [(plan.info, encode(paint(plan, sprites), [], boxes)) for plan, boxes in planned]
