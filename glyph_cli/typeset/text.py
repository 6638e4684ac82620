"""Source text -> display text, with an exact map back to source offsets.

What the page shows differs from the source in defined ways (Glyph's cleanup plus ours): soft hyphens,
zero-width spaces, BOMs and control characters are not drawn; CR LF, CR, VT, FF, NEL, LS and PS are
line breaks; a tab is `tab_width` spaces (tabs="spaces"), `tab_width` no-break spaces
(tabs="nbsp", as the released evaluation scripts do) or one breaking space (tabs="space", as the
released renderer treats it: kept as a tab for the word breaker, a space otherwise); in marker mode every line break is drawn inline as the
marker text. Every display character maps to the source character it came from, so page spans are
exact source ranges.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

_DROPPED = "\u00ad\u200b\ufeff"
_CONTROLS = "".join(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r\v\f") + "\x7f" + "".join(
    chr(c) for c in range(0x80, 0xA0) if c != 0x85)
_BREAKS = "\v\f\x85\u2028\u2029"
_SPECIAL_RE = re.compile("\r\n|[\r\n\t" + re.escape(_BREAKS + _DROPPED + _CONTROLS) + "]")
# with real line breaks a "\n" stays itself, so it needs no segment of its own
_SPECIAL_BREAK_RE = re.compile("\r\n|[\r\t" + re.escape(_BREAKS + _DROPPED + _CONTROLS) + "]")


@dataclass
class Prepared:
    """Display text plus the piecewise map display offset -> source offset."""

    display: str
    source_len: int
    # Segments sorted by display start: (display_start, source_start, copies). A copying segment maps
    # d -> source_start + (d - display_start); a replacement maps all its characters to source_start.
    seg_display: list[int] = field(default_factory=list)
    seg_source: list[int] = field(default_factory=list)
    seg_copies: list[bool] = field(default_factory=list)
    markers: list[int] = field(default_factory=list)  # display offsets where a newline marker starts

    def to_source(self, d: int) -> int:
        """Source offset of display offset d (d == len(display) maps to the source end)."""
        if d >= len(self.display):
            return self.source_len
        if not self.seg_display:
            return d
        i = bisect.bisect_right(self.seg_display, d) - 1
        if self.seg_copies[i]:
            return self.seg_source[i] + (d - self.seg_display[i])
        return self.seg_source[i]


def prepare(text: str, *, newline: str, marker_text: str, tab_width: int, tabs: str = "spaces",
            keep_tabs: bool = False) -> Prepared:
    special = _SPECIAL_BREAK_RE if newline == "break" else _SPECIAL_RE
    if not special.search(text):
        return Prepared(display=text, source_len=len(text))
    pieces: list[str] = []
    prep = Prepared(display="", source_len=len(text))
    d = 0  # display length so far
    s = 0  # source position consumed so far
    marker = marker_text if newline == "marker" else "\n"
    tab = {"spaces": " " * tab_width, "nbsp": "\u00a0" * tab_width}.get(tabs, "\t" if keep_tabs else " ")

    def copy_until(end: int) -> None:
        nonlocal d, s
        if end > s:
            prep.seg_display.append(d)
            prep.seg_source.append(s)
            prep.seg_copies.append(True)
            pieces.append(text[s:end])
            d += end - s
            s = end

    for m in special.finditer(text):
        copy_until(m.start())
        ch = m.group()
        if ch in ("\r\n", "\r", "\n") or ch in _BREAKS:
            out = marker
            if newline == "marker":
                prep.markers.append(d)
        elif ch == "\t":
            out = tab
        else:
            out = ""
        if out:
            prep.seg_display.append(d)
            prep.seg_source.append(m.start())
            prep.seg_copies.append(False)
            pieces.append(out)
            d += len(out)
        s = m.end()
    copy_until(len(text))
    prep.display = "".join(pieces)
    return prep
