"""The released renderer's line breaking and pagination, on glyph's display text.

The released Glyph code typesets with reportlab: the text (soft hyphens and zero-width spaces
removed, runs of two or more spaces turned into as many no-break spaces) is cut into Paragraphs of 30
source lines joined by `<br/>`, laid out in a SimpleDocTemplate whose frame sits 6 pt inside the
margins. What that does, and what this module reproduces:

- words break only at whitespace (tab, space and the other Unicode spaces; never at a no-break
  space, a hyphen or a slash); whitespace between words is drawn as one space; a line's leading and
  trailing whitespace is not drawn;
- a line takes the next word while its width (advance widths, no kerning) stays within the frame
  width plus 5% of a space per word already on it (reportlab's `spaceShrinkage`);
- a word wider than the line is split between characters (`splitLongWords`);
- lines stack at a fixed pitch; a page holds floor(frame height / pitch) lines;
- a Paragraph's last source line, when it holds no word, draws no line;
- a Paragraph that does not fit the page is split at a line, unless only one line is left on the
  page (no orphans): then it starts the next page; when the split falls at a `<br/>`, the part on the
  next page opens with an empty line.

Offsets are display offsets; a line's range runs from its start to the next line's start, so page
ranges tile the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterator

# reportlab's whitespace (paragraph._wsc): everything Unicode calls a space except U+00A0
_WS = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000"
_WORD_RE = re.compile(f"[^{_WS}]+")
_RUN_RE = re.compile(" {2,}")
SPACE_SHRINK = 0.05


@dataclass
class FlowLine:
    start: int  # display offset
    text: str  # what is drawn
    width: float  # advance width, pt
    hard: bool  # the line ends its source line (a `<br/>` or the end of a Paragraph follows)


@dataclass
class FlowPage:
    index: int
    d_start: int
    d_end: int
    lines: list[tuple[int, str, float]] = field(default_factory=list)  # (slot, text, width)
    boxes: list[tuple[int, int]] = field(default_factory=list)  # each Paragraph's slots here [first, end)


class WordWidths(dict):
    """word -> advance width in pt, from per-character advances (measured once each)."""

    def __init__(self, char_width: Callable[[str], float]):
        super().__init__()
        self.chars: dict[str, float] = {}
        self._measure = char_width

    def char(self, ch: str) -> float:
        w = self.chars.get(ch)
        if w is None:
            w = self.chars[ch] = self._measure(ch)
        return w

    def __missing__(self, word: str) -> float:
        chars = self.chars
        try:
            w = sum([chars[c] for c in word])
        except KeyError:
            w = sum([self.char(c) for c in word])
        if len(self) < 500_000:
            self[word] = w
        return w


def break_source_line(text: str, a: int, b: int, widths: WordWidths, max_width: float) -> list[FlowLine]:
    """The lines of display text[a:b], one source line (no newline inside)."""
    seg = text[a:b]
    if "  " in seg:
        seg = _RUN_RE.sub(lambda m: "\u00a0" * len(m.group()), seg)
    sw = widths.char(" ")
    words = _WORD_RE.findall(seg)
    if not words:
        return [FlowLine(a, "", 0.0, True)]
    total = sum(map(widths.__getitem__, words)) + sw * (len(words) - 1)
    if total <= max_width:  # the common case: the whole source line fits, so no word breaks it
        return [FlowLine(a, " ".join(words), total, True)]
    out: list[FlowLine] = []
    cur: list[str] = []
    cur_w = 0.0
    start = a
    for m in _WORD_RE.finditer(seg):
        word = m.group()
        ww = widths[word]
        if cur:
            new = cur_w + sw + ww
            if new <= max_width + SPACE_SHRINK * sw * len(cur):
                cur.append(word)
                cur_w = new
                continue
            if ww > max_width:  # a long word: its first piece fills this line
                pieces = _split_word(word, widths, max_width - sw - cur_w, max_width)
                if pieces[0][0]:
                    cur.append(pieces[0][0])
                    out.append(FlowLine(start, " ".join(cur), cur_w + sw + pieces[0][1], False))
                    start = a + m.start() + len(pieces[0][0])
                    pieces = pieces[1:]
                else:
                    out.append(FlowLine(start, " ".join(cur), cur_w, False))
                    start = a + m.start()
                cur, cur_w, start = _place_pieces(out, pieces, start)
                continue
            out.append(FlowLine(start, " ".join(cur), cur_w, False))
            cur, cur_w, start = [word], ww, a + m.start()
            continue
        if out:
            start = a + m.start()
        if ww > max_width:
            cur, cur_w, start = _place_pieces(out, _split_word(word, widths, max_width, max_width), start)
            continue
        cur, cur_w = [word], ww
    out.append(FlowLine(start, " ".join(cur), cur_w, True))
    return out


def _place_pieces(out: list[FlowLine], pieces: list[tuple[str, float]], start: int):
    """All pieces but the last become lines of their own; the last one opens the current line."""
    for text, w in pieces[:-1]:
        out.append(FlowLine(start, text, w, False))
        start += len(text)
    text, w = pieces[-1]
    return [text], w, start


def _split_word(word: str, widths: WordWidths, first: float, rest: float) -> list[tuple[str, float]]:
    """Cut a word into pieces: the first fits `first` pt, the others `rest` (at least a character)."""
    pieces = []
    limit = first
    piece_start = 0
    w = 0.0
    for i, ch in enumerate(word):
        cw = widths.char(ch)
        if w + cw > limit and (i > piece_start or cw <= rest):
            pieces.append((word[piece_start:i], w))
            piece_start, w, limit = i, 0.0, rest
        w += cw
    pieces.append((word[piece_start:], w))
    return pieces


def _source_lines(text: str, pos: int) -> Iterator[tuple[int, int]]:
    n = len(text)
    while pos <= n:
        nl = text.find("\n", pos)
        if nl < 0:
            yield pos, n
            return
        yield pos, nl
        pos = nl + 1


def paginate(text: str, widths: WordWidths, max_width: float, lines_per_page: int,
             paragraph_lines: int) -> Iterator[FlowPage]:
    """The pages of the display text, as the released renderer fills them."""
    n = len(text)
    cap = max(1, lines_per_page)
    page = FlowPage(0, 0, n)
    used = 0
    sources = _source_lines(text, 0)
    batch_size = paragraph_lines if paragraph_lines > 0 else 1
    quirks = paragraph_lines > 0
    done = False
    while not done:
        para: list[FlowLine] = []
        for _ in range(batch_size):
            try:
                a, b = next(sources)
            except StopIteration:
                done = True
                break
            para.extend(break_source_line(text, a, b, widths, max_width))
        if not para:
            break
        if para[-1].text == "" and (quirks or done):
            para.pop()  # a Paragraph's trailing <br/> opens no line
        while para:
            room = cap - used
            if len(para) <= room:
                page.boxes.append((used, used + len(para)))
                for ln in para:
                    page.lines.append((used, ln.text, ln.width))
                    used += 1
                break
            if used and (room <= 0 or (quirks and room <= 1)):
                cut = 0  # no room, or room for an orphan only: the Paragraph starts the next page
            else:
                cut = room
                page.boxes.append((used, used + cut))
                for ln in para[:cut]:
                    page.lines.append((used, ln.text, ln.width))
                    used += 1
            rest = para[cut:]
            page.d_end = rest[0].start
            yield page
            page = FlowPage(page.index + 1, rest[0].start, n)
            used = 0
            if quirks and cut and para[cut - 1].hard:
                rest = [FlowLine(rest[0].start, "", 0.0, False)] + rest
            para = rest
    page.d_end = n
    yield page
