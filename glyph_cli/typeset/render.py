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
from glyph_cli.typeset.text import prepare

PAGE_BUFFER = 64  # pages held before switching to count-then-draw (~2-6 MB of PNG at 72 dpi)


@dataclass
class RenderedPage:
    info: PageInfo
    png: bytes


class Renderer:
    """Renders documents with one config. Build once per process; it caches fonts and tables."""

    def __init__(self, cfg: RenderConfig, count_tokens: Callable[[str], int], tokenizer_name: str,
                 page_tokens: Callable[[int, int], dict[str, int]], page_buffer: int = PAGE_BUFFER):
        self.cfg = cfg
        self.typesetter = Typesetter(cfg)
        self.rasteriser = Rasteriser(cfg)
        self.count_tokens = count_tokens
        self.tokenizer_name = tokenizer_name
        self.page_tokens = page_tokens
        self.page_buffer = max(1, page_buffer)
        self.config_dict = cfg.to_dict()
        self.tool = tool_versions()

    def _draw(self, prep, start_page: int = 0, pos: int = 0) -> Iterator[RenderedPage]:
        for info, coverage, rects in self.typesetter.pages(prep, start_page=start_page, pos=pos):
            yield RenderedPage(info, self.rasteriser.encode(coverage, rects))

    def render(self, doc: Document) -> Iterator[dict]:
        """The doc record, then its page records. Pages are produced as the caller consumes them."""
        prep = prepare(doc.text, newline=self.cfg.newline, marker_text=self.cfg.marker_text,
                       tab_width=self.cfg.tab_width)
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
        yield self._doc_record(doc, prep, infos, page_tokens)
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

    def _doc_record(self, doc: Document, prep, infos: list[PageInfo], page_tokens: list[dict]) -> dict:
        totals: dict[str, int] = {}
        for tokens in page_tokens:
            for family, n in tokens.items():
                totals[family] = totals.get(family, 0) + n
        fonts, missing = self.typesetter.font_report(prep.display)
        return doc_record(doc.id, doc.text, meta=doc.meta, text_tokens=self.count_tokens(doc.text),
                          tokenizer=self.tokenizer_name, pages=len(infos), visual_tokens=totals,
                          config=self.config_dict, fonts=fonts, missing_glyphs=missing, tool=self.tool)

    def _page_record(self, doc: Document, prep, page: RenderedPage, tokens: dict) -> dict:
        info = page.info
        # the first page starts at 0 even when the text opens with characters not drawn
        span = (0 if info.index == 0 else prep.to_source(info.d_start), prep.to_source(info.d_end))
        return page_record(doc.id, info.index, span, page.png, width=info.width, height=info.height,
                           dpi=self.cfg.dpi, visual_tokens=tokens)
