"""The `glyph` preset's flow: the released renderer's breaks, as measured on the released code
(thu-coai/Glyph scripts/word2png_function.py with config_en.json, reportlab 5.1 + poppler): which line
slot of which page each source line lands in."""

from __future__ import annotations

import pytest

from glyph_cli.streams.documents import Document
from glyph_cli.typeset.config import resolve_config
from glyph_cli.typeset.engine import Typesetter
from glyph_cli.typeset.flow import WordWidths, break_source_line
from glyph_cli.typeset.render import Renderer
from glyph_cli.typeset.text import prepare


@pytest.fixture(scope="module")
def ts():
    return Typesetter(resolve_config("glyph"))


def pages(ts, text):
    cfg = ts.cfg
    prep = prepare(text, newline=cfg.newline, marker_text=cfg.marker_text, tab_width=cfg.tab_width,
                   tabs=cfg.tabs, keep_tabs=True)
    return list(ts.flow(prep))


def slots(ts, text):
    """Per page, the slots holding a line with something drawn."""
    return [[slot for slot, t, _ in p.lines if t.strip()] for p in pages(ts, text)]


def lines(*parts):
    return "\n".join(parts)


# (text, slots the released code inks): measured with 'x' lines at 720 dpi on the released pipeline
RELEASED = [
    (lines("x", "", "x"), [[0, 2]]),
    (lines("", "x"), [[1]]),
    (lines("", "", "x", "x"), [[2, 3]]),
    (lines("x", "x", ""), [[0, 1]]),
    (lines("x", " ", "x"), [[0, 2]]),
    (lines(*["x"] * 29, "", *["x"] * 3), [list(range(32))]),  # a Paragraph's empty last line draws nothing
    (lines(*["x"] * 30, "", *["x"] * 3), [list(range(30)) + [31, 32, 33]]),  # its empty first line does
    (lines(*["x"] * 30, *[""] * 30, *["x"] * 3), [list(range(30)) + [59, 60, 61]]),
    (lines(*["x"] * 83), [list(range(81)), [1, 2]]),  # split at a <br/>: the next page opens empty
    (lines(*["x"] * 90), [list(range(81)), list(range(1, 10))]),
]


@pytest.mark.parametrize("text, expected", RELEASED, ids=[str(i) for i in range(len(RELEASED))])
def test_line_slots_are_the_released_ones(ts, text, expected):
    assert slots(ts, text) == expected


def test_a_page_holds_81_lines_and_a_soft_split_opens_no_empty_line(ts):
    got = pages(ts, "lorem ipsum dolor sit amet " * 2500)
    assert [len(p.lines) for p in got[:-1]] == [81] * (len(got) - 1)
    assert all(p.lines[0][1] for p in got)


def test_runs_of_spaces_do_not_break_and_single_spaces_collapse(ts):
    widths = ts.widths
    text = "alpha  beta\tgamma   delta " * 40
    out = break_source_line(text, 0, len(text), widths, 120.0)
    joined = [ln.text for ln in out]
    assert not any("  " in t or "\t" in t for t in joined)
    assert all(not t.startswith(" ") and not t.endswith(" ") for t in joined)
    # a run of two spaces glues its words: no line ends with "alpha" followed by "beta" on the next
    for a, b in zip(joined, joined[1:]):
        assert not (a.endswith("alpha") and b.startswith("\u00a0"))
        assert not b.startswith("beta")
    assert all(widths[t] <= 120.0 + 0.05 * widths.char(" ") * (t.count(" ") + 1) for t in joined)


def test_lines_break_only_at_whitespace(ts):
    text = "state-of-the-art path/to/some/file " * 60
    out = break_source_line(text, 0, len(text), ts.widths, 200.0)
    for ln in out:
        assert all(w in ("state-of-the-art", "path/to/some/file") for w in ln.text.split(" "))


def test_a_word_longer_than_the_line_is_split_between_characters(ts):
    text = "short " + "x" * 400 + " tail"
    out = break_source_line(text, 0, len(text), ts.widths, 100.0)
    assert "".join(ln.text for ln in out).replace(" ", "") == text.replace(" ", "")
    assert all(ln.width <= 100.0 + 1e-6 for ln in out)
    assert out[0].text.startswith("short x")  # the first piece fills the rest of the first line


def test_tabs_are_one_space_and_four_nbsp_in_eval_mode():
    for tabs, expect in (("space", "a b"), ("nbsp", "a\u00a0\u00a0\u00a0\u00a0b")):
        ts = Typesetter(resolve_config("glyph", overrides={"tabs": tabs}))
        assert [p.lines[0][1] for p in pages(ts, "a\tb")] == [expect]


def test_glyph_pages_render_and_tile_the_source():
    cfg = resolve_config("glyph")
    r = Renderer(cfg, lambda s: len(s.split()), "words", lambda w, h: {"px": w * h})
    text = ("A line of prose with  two spaces and a\ttab.\n" * 40 + "\n\n") * 12
    recs = list(r.render(Document("d", text)))
    doc, pgs = recs[0], recs[1:]
    assert doc["pages"] == len(pgs) > 1
    spans = [p["span"] for p in pgs]
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert all(p["width"] <= 595 and p["height"] <= 842 for p in pgs)
    assert pgs[-1]["height"] < 842  # the last page is cropped to its last line


def test_word_widths_add_character_advances(ts):
    w = WordWidths(ts._char_width)
    assert w["hello"] == pytest.approx(sum(w.char(c) for c in "hello"))
    assert w.char("\u00a0") == pytest.approx(w.char(" "), abs=0.01)
