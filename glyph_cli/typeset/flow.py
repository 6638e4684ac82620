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

When the text holds a CJK ideograph (U+4E00-U+9FFF) the released code sets reportlab's
`wordWrap="CJK"`, which breaks lines between any two characters instead (`_cjk_*` below):

- the Paragraph's markup is cleaned first: its leading and trailing whitespace is dropped and every
  other run of whitespace becomes one space, which is kept and measured like any character (a line
  may start with it); runs of 2+ spaces are no-break spaces, as above;
- a line takes characters while their advance widths sum to at most the frame width (+1e-6); the
  character that overflows goes to the next line, unless it may not start a line (closing
  punctuation, small kana and the like: reportlab's kinsoku list), then it stays and hangs;
- when that character is below U+3000 (Latin inside CJK text), the line is cut instead after the
  last space or CJK character in its second half, if there is one;
- a `<br/>` ends the line it is on;
- a Paragraph that is one run of plain text (one source line, no `&`, `<`, `>` or run of spaces,
  which reportlab parses into separate fragments) has its lines stripped of whitespace at both
  ends except the last;
- the part of a Paragraph that a page split moves on is laid out again from its lines: each line
  but the last gains a trailing space (a `<br/>` becomes a measured space), or, for the plain-text
  Paragraph, the stripped lines are joined and broken again.

Offsets are display offsets; a line's range runs from its start to the next line's start, so page
ranges tile the text.
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable, Iterator

# reportlab's whitespace (paragraph._wsc): everything Unicode calls a space except U+00A0
_WS = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000"
_WORD_RE = re.compile(f"[^{_WS}]+")
_RUN_RE = re.compile(" {2,}")
SPACE_SHRINK = 0.05
_WS_SET = frozenset("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\u1680\u2028\u2029\u202f\u205f\u3000"
                    + "".join(chr(c) for c in range(0x2000, 0x200C)))
_TOKEN_RE = re.compile(f"[{_WS}]+|[^{_WS}]+")
_CJK_RE = re.compile("[\u4e00-\u9fff]")  # the released code's test for wordWrap="CJK"
_FUZZ = 1e-6
# characters that may not start a line (reportlab.lib.textsplit's ALL_CANNOT_START)
_CANNOT_START = frozenset(
    "!',.:;?!\")]\u3001\u3002\u300d\u300f\u3011\u3015\uff3d\uff09"
    "\u3005\u2015\u3041\u3043\u3045\u3047\u3049\u3063\u3083\u3085\u3087\u308e\u30a1\u30a3"
    "\u30a5\u30a7\u30a9\u30c3\u30e3\u30e5\u30e7\u30ee\u30fc\u30f5\u30f6"
    "\u309b\u309c\u30fb\u30fd\u30fe\u309d\u309e\u2010\xb0\u2032\u2033\u2103\uffe0\uff05\u2030")


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
    cjk = bool(_CJK_RE.search(text))
    done = False
    while not done:
        batch = list(itertools.islice(sources, batch_size))
        done = len(batch) < batch_size
        if not batch:
            break
        if cjk:
            cpara = _CJKParagraph.from_source(text, batch, widths, max_width)
            para = cpara.lines()
        else:
            cpara = None
            para = [ln for a, b in batch for ln in break_source_line(text, a, b, widths, max_width)]
            if para and para[-1].text == "" and (quirks or done):
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
            boundary = para[cut].start
            page.d_end = boundary
            yield page
            page = FlowPage(page.index + 1, boundary, n)
            used = 0
            if cpara is not None:
                if cut:
                    cpara = cpara.rest(cut)
                para = cpara.lines()
            else:
                rest = para[cut:]
                if quirks and cut and para[cut - 1].hard:
                    rest = [FlowLine(rest[0].start, "", 0.0, False)] + rest
                para = rest
    page.d_end = n
    yield page


class _CJKParagraph:
    """One Paragraph under reportlab's CJK wrap: its characters as that wrap sees them (after the
    markup cleaning), each with its width and display offset; "" is a `<br/>`."""

    def __init__(self, chars: list[str], widths: list[float], offsets: list[int], breaks: list[bool],
                 plain: bool, max_width: float, space: float):
        self.chars, self.widths, self.offsets, self.breaks = chars, widths, offsets, breaks
        self.plain, self.max_width, self.space = plain, max_width, space
        self._ranges: list[tuple[int, int]] | None = None

    @classmethod
    def from_source(cls, text: str, batch: list[tuple[int, int]], widths: WordWidths,
                    max_width: float) -> "_CJKParagraph":
        chars: list[str] = []
        ws: list[float] = []
        offs: list[int] = []
        brk: list[bool] = []
        sw = widths.char(" ")
        entity = False
        for n, (a, b) in enumerate(batch):
            seg = text[a:b]
            if "  " in seg:
                seg = _RUN_RE.sub(lambda m: "\u00a0" * len(m.group()), seg)
                entity = True
            for m in _TOKEN_RE.finditer(seg):
                tok = m.group()
                if tok[0] in _WS_SET:
                    chars.append(" ")
                    ws.append(sw)
                    offs.append(a + m.start())
                    brk.append(False)
                else:
                    chars.extend(tok)
                    ws.extend([widths.char(c) for c in tok])
                    offs.extend(range(a + m.start(), a + m.end()))
                    brk.extend([False] * len(tok))
            if n < len(batch) - 1:
                chars.append("")
                ws.append(0.0)
                offs.append(b)
                brk.append(True)
        lo, hi = 0, len(chars)
        while lo < hi and chars[lo] == " ":
            lo += 1
        while hi > lo and chars[hi - 1] == " ":
            hi -= 1
        chars, ws, offs, brk = chars[lo:hi], ws[lo:hi], offs[lo:hi], brk[lo:hi]
        plain = len(batch) == 1 and not entity and not any(c in "&<>" for c in chars)
        if not plain and brk == [True]:
            plain = True  # a lone <br/> is one empty fragment: the plain-text wrap, which draws nothing
            chars, ws, offs, brk = [], [], [], []
        return cls(chars, ws, offs, brk, plain, max_width, sw)

    def ranges(self) -> list[tuple[int, int]]:
        """Each line's [first, end) character range."""
        if self._ranges is None:
            self._ranges = self._break()
        return self._ranges

    def _break(self) -> list[tuple[int, int]]:
        chars, brk = self.chars, self.breaks
        n = len(chars)
        cum = [0.0, *itertools.accumulate(self.widths)]
        out = []
        start = 0
        while start < n:
            try:
                end = brk.index(True, start)  # the <br/> that ends this run of lines
            except ValueError:
                end = n
            while True:
                i = bisect.bisect_right(cum, cum[start] + self.max_width + _FUZZ, start + 1, end + 1)
                if i > end:  # the rest fits, up to and with the <br/>
                    if end < n:
                        out.append((start, end + 1))
                    elif cum[end] > cum[start]:
                        out.append((start, end))  # reportlab keeps a last line only if it has width
                    start = end + 1
                    break
                u = i - 1  # the character that overflows
                if ord(chars[u]) < 0x3000:
                    for j in range(i - 1, (start + i) >> 1, -1):
                        cj = chars[j]
                        if ord(cj) >= 0x3000 or unicodedata.category(cj) == "Zs":
                            if j + 1 < i:
                                i, u = j + 2, j + 1
                                break
                if chars[u] not in _CANNOT_START and i > start + 1:
                    i -= 1
                out.append((start, i))
                start = i
                if start == end == n:
                    break
        return out

    def lines(self) -> list[FlowLine]:
        chars, cum_w = self.chars, self.widths
        out = []
        ranges = self.ranges()
        for k, (a, b) in enumerate(ranges):
            start, hard = self.offsets[a], self.breaks[b - 1] or k == len(ranges) - 1
            if self.plain and k < len(ranges) - 1:  # drawn stripped, from the line's start
                while a < b and chars[a].isspace():
                    a += 1
                while b > a and chars[b - 1].isspace():
                    b -= 1
            out.append(FlowLine(start, "".join(chars[a:b]), sum(cum_w[a:b]), hard))
        return out

    def rest(self, cut: int) -> "_CJKParagraph":
        """The Paragraph reportlab makes of lines [cut:] when a page split moves them on."""
        ranges = self.ranges()[cut:]
        chars: list[str] = []
        ws: list[float] = []
        offs: list[int] = []
        brk: list[bool] = []
        for k, (a, b) in enumerate(ranges):
            last = k == len(ranges) - 1
            if self.plain and not last:  # the stripped line texts, joined
                while a < b and self.chars[a].isspace():
                    a += 1
                while b > a and self.chars[b - 1].isspace():
                    b -= 1
            chars += self.chars[a:b]
            ws += self.widths[a:b]
            offs += self.offsets[a:b]
            brk += self.breaks[a:b]
            if self.plain or last or b == a:
                continue
            if brk[-1]:  # the <br/>'s empty fragment gets a space
                if chars[-1] == "":
                    chars[-1], ws[-1] = " ", self.space
            elif chars[-1] != " ":
                chars.append(" ")
                ws.append(self.space)
                offs.append(self.offsets[ranges[k + 1][0]])
                brk.append(False)
        return _CJKParagraph(chars, ws, offs, brk, self.plain, self.max_width, self.space)
