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

`paginate` applies these rules to arrays of a chunk of the text at a time (see "the fast path"
below); `_reference_paginate`, one word or character at a time, is the same layout as first
written, kept for the tests and benchmarks/bench_flow.py to check it against, page by page.
"""

from __future__ import annotations

import bisect
import gc
import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

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
        self._table: np.ndarray | None = None  # advance per BMP code point in 2**-16 pt, -1 until measured
        self._word_table: np.ndarray | None = None  # the same with reportlab's whitespace as 0
        # every advance so far is a multiple of 2**-16 pt under 2**16 pt (what Pango's units give):
        # then sums of up to 2**18 of them are exact in float64, in any order
        self.exact = True

    def char(self, ch: str) -> float:
        w = self.chars.get(ch)
        if w is None:
            w = self.chars[ch] = self._measure(ch)
            if not (0.0 <= w < 65536.0 and float(w * 65536.0).is_integer()):
                self.exact = False
            if self._table is not None and ord(ch) < 0x10000:
                self._note(ord(ch), w)
        return w

    def _note(self, cp: int, w: float) -> None:
        units = round(w * 65536.0) if self.exact else 0
        self._table[cp] = units
        if not _table("ws")[cp]:
            self._word_table[cp] = units

    def __missing__(self, word: str) -> float:
        chars = self.chars
        try:
            w = sum([chars[c] for c in word])
        except KeyError:
            w = sum([self.char(c) for c in word])
        if len(self) < 500_000:
            self[word] = w
        return w

    def units(self, cps: np.ndarray, words: bool = False) -> np.ndarray:
        """The advance of each code point of `cps` in 2**-16 pt (int64), measuring new ones;
        `words`: whitespace (reportlab's) as 0. Meaningful while `exact`."""
        if self._table is None:
            self._table = np.full(0x10000, -1, np.int64)
            self._word_table = np.where(_table("ws"), 0, -1)
            for ch, w in list(self.chars.items()):
                if ord(ch) < 0x10000:
                    self._note(ord(ch), w)
        table = self._word_table if words else self._table
        astral = len(cps) > 0 and int(cps.max()) >= 0x10000
        idx = np.where(cps < 0x10000, cps, 32) if astral else cps
        out = table[idx]
        miss = out < 0
        if miss.any():
            for cp in np.unique(idx[miss]).tolist():
                self.char(chr(cp))
            out = table[idx]
        if astral:
            for p in np.flatnonzero(cps >= 0x10000).tolist():
                out[p] = round(self.char(chr(cps[p])) * 65536.0) if self.exact else 0
        return out


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


def _reference_paginate(text: str, widths: WordWidths, max_width: float, lines_per_page: int,
                        paragraph_lines: int) -> Iterator[FlowPage]:
    """`paginate` one word or character at a time, as first written: the reference the fast path
    is tested against (tests/test_typeset_flow.py, benchmarks/bench_flow.py)."""
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


# -- the fast path: the same rules over numpy arrays of a piece of the text at a time -------------
#
# `paginate` works on chunks of about _CHUNK characters (whole Paragraphs): per character, its code
# point, whether it is whitespace and its advance, so a source line that fits (most do) costs a few
# array operations, not a loop over its words. Advances are multiples of 2**-16 pt (WordWidths.exact),
# so every sum below is exact and equals the one-at-a-time sum of `_reference_paginate` to the bit;
# where they are not, a chunk goes through the reference functions instead. A source line that does
# not fit is broken by `break_source_line`; CJK Paragraphs by `_FastCJK`, which keeps reportlab's
# rules but finds each line's end by bisection over cumulative widths.

_CHUNK = 1 << 18
_TABLES: dict[str, np.ndarray] = {}


def _table(name: str) -> np.ndarray:
    """Per BMP code point: "ws", reportlab's whitespace; "cut", where the CJK wrap may cut back a
    line ending in Latin (at or above U+3000, or a Unicode space separator)."""
    if not _TABLES:
        ws = np.zeros(0x10000, bool)
        ws[[ord(c) for c in _WS_SET]] = True
        cut = np.zeros(0x10000, bool)
        cut[0x3000:] = True
        cut[[cp for cp in range(0x3000) if unicodedata.category(chr(cp)) == "Zs"]] = True
        _TABLES.update(ws=ws, cut=cut)
    return _TABLES[name]


def _codes(s: str) -> np.ndarray:
    return np.frombuffer(s.encode("utf-32-le", "surrogatepass"), np.uint32)


def _text(cps: np.ndarray) -> str:
    return cps.astype(np.uint32).tobytes().decode("utf-32-le", "surrogatepass")


def _nbsp_runs(cps: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Runs of two or more spaces as no-break spaces (the released code's `&nbsp;`), and where."""
    sp = cps == 32
    pair = sp[1:] & sp[:-1]
    if not pair.any():
        return cps, None
    nb = np.zeros(len(cps), bool)
    nb[1:] |= pair
    nb[:-1] |= pair
    return np.where(nb, 0xA0, cps).astype(np.uint32), nb


def _chunks(text: str, batch: int) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray, bool]]:
    """The text in pieces of whole `batch`es of source lines (the last piece: what is left), each
    as (offset, its code points, source line starts and ends in it, whether it is the last)."""
    n = len(text)
    lo = 0
    while True:
        last = n - lo <= _CHUNK
        if last:
            cps = _codes(text[lo:])
            nl = np.flatnonzero(cps == 10)
        else:
            cps = _codes(text[lo:lo + _CHUNK])
            nl = np.flatnonzero(cps == 10)
            q = len(nl) // batch * batch
            if q:
                hi = int(nl[q - 1])
                cps, nl = cps[:hi], nl[:q - 1]
            else:  # a Paragraph longer than a chunk
                pos = lo - 1
                for _ in range(batch):
                    pos = text.find("\n", pos + 1)
                    if pos < 0:
                        break
                last = pos < 0
                cps = _codes(text[lo:] if last else text[lo:pos])
                nl = np.flatnonzero(cps == 10)
        starts = np.concatenate(([0], nl + 1))
        ends = np.concatenate((nl, [len(cps)]))
        yield lo, cps, starts, ends, last
        if last:
            return
        lo += len(cps) + 1


_Lines = tuple[list[int], list[str], list[float], list[bool]]  # starts, texts, widths, hards


def _flow_lists(lines: list[FlowLine]) -> _Lines:
    return ([ln.start for ln in lines], [ln.text for ln in lines], [ln.width for ln in lines],
            [ln.hard for ln in lines])


def _word_chunk(text: str, lo: int, cps: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                widths: WordWidths, max_width: float) -> tuple[_Lines, list[int] | None]:
    """The lines of a chunk's source lines, and where each source line's lines begin in them
    (None: one line each)."""
    sw = widths.char(" ")
    cps, _ = _nbsp_runs(cps)
    units = widths.units(cps, words=True)
    if not widths.exact:
        lines: list[FlowLine] = []
        first = []
        for a, b in zip((starts + lo).tolist(), (ends + lo).tolist()):
            first.append(len(lines))
            lines += break_source_line(text, a, b, widths, max_width)
        return _flow_lists(lines), [*first, len(lines)]
    ws = _table("ws")[np.minimum(cps, 0xFFFF)]
    cum = np.zeros(len(cps) + 1, np.int64)
    np.cumsum(units, out=cum[1:])
    word_start = ~ws
    word_start[1:] &= ws[:-1]
    count = np.zeros(len(cps) + 1, np.int32)
    np.cumsum(word_start, out=count[1:])
    n_words = count[ends] - count[starts]
    # the sum of a line's word widths, exact: integers in 2**-16 pt, then a power-of-two division
    total = (cum[ends] - cum[starts]) / 65536.0 + sw * (n_words - 1)
    long = np.flatnonzero((total > max_width) & (n_words > 0))
    # what a line that fits draws: its words joined by single spaces
    blank = ws & (cps != 10)
    drop = blank.copy()
    drop[:1] = False
    drop[1:] &= blank[:-1]
    texts = [t.strip(" ") for t in _text(np.where(blank, 32, cps)[~drop]).split("\n")]
    total[n_words == 0] = 0.0
    line_w = total.tolist()
    line_a = (starts + lo).tolist()
    hards = [True] * len(texts)
    if not len(long):
        return (line_a, texts, line_w, hards), None
    # the source lines that do not fit are broken word by word
    out: _Lines = ([], [], [], [])
    extra = np.zeros(len(texts) + 1, np.int64)
    done = 0
    for k in long.tolist():
        for part, src in zip(out, (line_a, texts, line_w, hards)):
            part.extend(src[done:k])
        broken = _flow_lists(break_source_line(text, line_a[k], int(ends[k]) + lo, widths, max_width))
        for part, src in zip(out, broken):
            part.extend(src)
        extra[k + 1] = len(broken[0]) - 1
        done = k + 1
    for part, src in zip(out, (line_a, texts, line_w, hards)):
        part.extend(src[done:])
    first = (np.arange(len(texts) + 1) + np.cumsum(extra)).tolist()
    return out, first


class _FastCJK:
    """`_CJKParagraph` over arrays: `chars` holds the Paragraph's characters as the CJK wrap sees
    them, one each, a `<br/>` as a newline until a page split turns it into a space; `codes`, their
    code points; `widths` (pt), `offsets` and `breaks` (a `<br/>`, or the space it became), arrays."""

    __slots__ = ("chars", "codes", "widths", "offsets", "breaks", "plain", "max_width", "space", "_cum",
                 "_cuts", "_brs", "_ranges")

    def __init__(self, chars: str, codes: np.ndarray, widths: np.ndarray, offsets: np.ndarray,
                 breaks: np.ndarray, plain: bool, max_width: float, space: float):
        self.chars, self.codes, self.widths, self.offsets, self.breaks = chars, codes, widths, offsets, breaks
        self.plain, self.max_width, self.space = plain, max_width, space
        cum = np.zeros(len(widths) + 1)
        np.cumsum(widths, out=cum[1:])  # the sums of `itertools.accumulate`, one at a time
        self._cum = cum.tolist()
        # where a line ending in Latin may be cut back to, in order
        self._cuts = np.flatnonzero(_table("cut")[np.minimum(codes, 0xFFFF)] | (codes >= 0x3000)).tolist()
        self._brs = np.flatnonzero(breaks).tolist()
        self._ranges: list[tuple[int, int]] | None = None

    def ranges(self) -> list[tuple[int, int]]:
        """Each line's [first, end) character range."""
        if self._ranges is None:
            self._ranges = self._break()
        return self._ranges

    def _break(self) -> list[tuple[int, int]]:
        chars, cum, cuts, brs = self.chars, self._cum, self._cuts, self._brs
        n = len(chars)
        limit = self.max_width
        out = []
        start = 0
        right = bisect.bisect_right
        k = 0
        while start < n:
            while k < len(brs) and brs[k] < start:
                k += 1
            end = brs[k] if k < len(brs) else n  # the <br/> that ends this run of lines
            while True:
                i = right(cum, cum[start] + limit + _FUZZ, start + 1, end + 1)
                if i > end:  # the rest fits, up to and with the <br/>
                    if end < n:
                        out.append((start, end + 1))
                    elif cum[end] > cum[start]:
                        out.append((start, end))
                    start = end + 1
                    break
                u = i - 1  # the character that overflows
                if ord(chars[u]) < 0x3000:  # cut after the last space or CJK character of the second half
                    q = right(cuts, i - 2) - 1
                    if q >= 0 and cuts[q] > (start + i) >> 1:
                        i = cuts[q] + 2
                        u = i - 1
                if chars[u] not in _CANNOT_START and i > start + 1:
                    i -= 1
                out.append((start, i))
                start = i
                if start == end == n:
                    break
        return out

    def lines(self, count: int | None = None) -> _Lines:
        """The first `count` lines (None: all)."""
        chars, cum = self.chars, self._cum
        ranges = self.ranges()
        last = len(ranges) - 1
        if count is not None and count <= last:
            ranges = ranges[:count]
        if not ranges:
            return [], [], [], []
        bounds = np.array(ranges)
        starts = self.offsets[bounds[:, 0]].tolist()
        hards = self.breaks[bounds[:, 1] - 1].tolist()
        if len(ranges) == last + 1:
            hards[-1] = True
        texts = []
        ws = []
        for k, (a, b) in enumerate(ranges):
            t = chars[a:b]
            if self.plain and k < last:  # drawn stripped, from the line's start
                s = t.strip()
                if len(s) < len(t):
                    a += len(t) - len(t.lstrip())
                    b = a + len(s)
                    t = s
                    if a == b:
                        texts.append(t)
                        ws.append(0)  # the reference's sum of no widths
                        continue
            elif t[-1] == "\n":
                t = t[:-1]
            texts.append(t)
            ws.append(cum[b] - cum[a])
        return starts, texts, ws, hards

    def rest(self, cut: int) -> "_FastCJK":
        """The Paragraph reportlab makes of lines [cut:] when a page split moves them on."""
        ranges = self.ranges()[cut:]
        src = self.chars
        texts: list[str] = []
        firsts: list[int] = []  # the characters each line keeps: [first, end)
        ends: list[int] = []
        extra: list[bool] = []  # whether a space is added after them
        added: list[int] = []  # the added spaces' offsets
        spaces: list[int] = []  # new positions of <br/>s that become spaces
        n = 0
        last = len(ranges) - 1
        for k, (a, b) in enumerate(ranges):
            if self.plain and k < last:  # the stripped line texts, joined
                t = src[a:b]
                s = t.strip()
                if len(s) < len(t):
                    a += len(t) - len(t.lstrip())
                    b = a + len(s)
            t = src[a:b]
            firsts.append(a)
            ends.append(b)
            extra.append(False)
            n += b - a
            if self.plain or k == last or b == a:
                texts.append(t)
                continue
            if self.breaks[b - 1]:  # the <br/>'s empty fragment gets a space
                if t[-1] == "\n":
                    t = t[:-1] + " "
                    spaces.append(n - 1)
                texts.append(t)
            elif t[-1] != " ":
                texts += (t, " ")
                extra[-1] = True
                added.append(int(self.offsets[ranges[k + 1][0]]))
                n += 1
            else:
                texts.append(t)
        lens = np.array(ends) - firsts + extra
        at = np.cumsum(lens) - lens  # where each line's characters go
        idx = np.arange(n) - np.repeat(at - firsts, lens)  # index into this Paragraph
        new = np.zeros(n, bool)
        new[(at + lens - 1)[np.array(extra, bool)]] = True  # the added spaces
        safe = np.where(new, 0, idx)
        chars = "".join(texts)
        widths = np.where(new, self.space, self.widths[safe])
        widths[spaces] = self.space
        offsets = self.offsets[safe]
        offsets[new] = added
        breaks = self.breaks[safe] & ~new
        codes = _codes(chars)
        return _FastCJK(chars, codes, widths, offsets, breaks, self.plain, self.max_width, self.space)


def _cjk_chunk(text: str, lo: int, cps: np.ndarray, starts: np.ndarray, ends: np.ndarray,
               widths: WordWidths, max_width: float, batch: int) -> Iterator["_FastCJK | _CJKParagraph"]:
    """A chunk's Paragraphs (`batch` source lines each) under the CJK wrap."""
    sw = widths.char(" ")
    cps, nb = _nbsp_runs(cps)
    ws = _table("ws")[np.minimum(cps, 0xFFFF)]
    br = cps == 10
    blank = ws & ~br
    keep = np.ones(len(cps), bool)
    keep[1:] = ~(blank[1:] & blank[:-1])  # a run of whitespace is one space
    pos = np.flatnonzero(keep)
    kept = np.where(blank, 32, cps)[pos].astype(np.uint32)
    kept_br = br[pos]
    units = widths.units(np.where(kept_br, 32, kept))
    first = np.arange(0, len(starts), batch)
    final = np.minimum(first + batch, len(starts)) - 1
    if not widths.exact:
        for k0, k1 in zip(first.tolist(), final.tolist()):
            yield _CJKParagraph.from_source(text, list(zip((starts[k0:k1 + 1] + lo).tolist(),
                                                           (ends[k0:k1 + 1] + lo).tolist())), widths, max_width)
        return
    adv = units / 65536.0  # exactly the measured advances
    adv[kept_br] = 0.0
    a_of = np.searchsorted(pos, starts[first]).tolist()
    b_of = np.searchsorted(pos, ends[final]).tolist()
    marks = np.zeros(len(cps), bool) if nb is None else nb.copy()
    for c in (38, 60, 62):  # & < >
        marks |= cps == c
    marked = np.concatenate(([0], np.cumsum(marks)))
    marked = (marked[ends[final]] - marked[starts[first]] > 0).tolist()
    chars = _text(kept)
    offsets = pos + lo
    for p, (a, b) in enumerate(zip(a_of, b_of)):
        while a < b and chars[a] == " ":
            a += 1
        while b > a and chars[b - 1] == " ":
            b -= 1
        plain = first[p] == final[p] and not marked[p]
        if not plain and b - a == 1 and kept_br[a]:
            plain, b = True, a  # a lone <br/> is one empty fragment: the plain-text wrap, which draws nothing
        yield _FastCJK(chars[a:b], kept[a:b], adv[a:b], offsets[a:b], kept_br[a:b], plain, max_width, sw)


def paginate(text: str, widths: WordWidths, max_width: float, lines_per_page: int,
             paragraph_lines: int) -> Iterator[FlowPage]:
    """The pages of the display text, as the released renderer fills them."""
    # a page is a few hundred new tuples and lists that live on: Python's cycle collector would
    # scan them again and again as they pile up (a tenth of the time on long documents), though nothing here
    # makes a cycle; it is paused while a page is laid out, never while the caller runs
    pages = _paginate(text, widths, max_width, lines_per_page, paragraph_lines)
    while True:
        collecting = gc.isenabled()
        gc.disable()
        try:
            page = next(pages, None)
        finally:
            if collecting:
                gc.enable()
        if page is None:
            return
        yield page


def _paginate(text: str, widths: WordWidths, max_width: float, lines_per_page: int,
              paragraph_lines: int) -> Iterator[FlowPage]:
    n = len(text)
    cap = max(1, lines_per_page)
    page = FlowPage(0, 0, n)
    used = 0
    batch = paragraph_lines if paragraph_lines > 0 else 1
    quirks = paragraph_lines > 0
    cjk = bool(_CJK_RE.search(text))
    for lo, cps, starts, ends, last in _chunks(text, batch):
        count = len(starts)
        if cjk:
            paras = _cjk_chunk(text, lo, cps, starts, ends, widths, max_width, batch)
        else:
            (all_a, all_t, all_w, all_h), first = _word_chunk(text, lo, cps, starts, ends, widths, max_width)
        for k0 in range(0, count, batch):
            k1 = min(k0 + batch, count)
            if cjk:
                cpara = next(paras)
                para = ([], [], [], []) if isinstance(cpara, _FastCJK) else _flow_lists(cpara.lines())
            else:
                cpara = None
                i0, i1 = (k0, k1) if first is None else (first[k0], first[k1])
                para = (all_a[i0:i1], all_t[i0:i1], all_w[i0:i1], all_h[i0:i1])
                if para[1] and para[1][-1] == "" and (quirks or (last and k1 - k0 < batch)):
                    for part in para:
                        part.pop()  # a Paragraph's trailing <br/> opens no line
            p_a, p_t, p_w, p_h = para
            fast = isinstance(cpara, _FastCJK)
            while True:
                room = cap - used
                if fast:  # only the lines this page takes, and the next one's start
                    m = len(cpara.ranges())
                    if not m:
                        break
                    p_a, p_t, p_w, p_h = cpara.lines(max(room, 0) + 1)
                else:
                    m = len(p_t)
                    if not m:
                        break
                if m <= room:
                    page.boxes.append((used, used + m))
                    page.lines.extend(zip(range(used, used + m), p_t, p_w))
                    used += m
                    break
                if used and (room <= 0 or (quirks and room <= 1)):
                    cut = 0  # no room, or room for an orphan only: the Paragraph starts the next page
                else:
                    cut = room
                    page.boxes.append((used, used + cut))
                    page.lines.extend(zip(range(used, used + cut), p_t[:cut], p_w[:cut]))
                    used += cut
                boundary = p_a[cut]
                page.d_end = boundary
                yield page
                page = FlowPage(page.index + 1, boundary, n)
                used = 0
                if cpara is not None:
                    if cut:
                        cpara = cpara.rest(cut)
                    if not fast:
                        p_a, p_t, p_w, p_h = _flow_lists(cpara.lines())
                else:
                    opens = quirks and cut and p_h[cut - 1]
                    p_a, p_t, p_w, p_h = p_a[cut:], p_t[cut:], p_w[cut:], p_h[cut:]
                    if opens:
                        p_a, p_t, p_w, p_h = [p_a[0], *p_a], ["", *p_t], [0.0, *p_w], [False, *p_h]
    page.d_end = n
    yield page
