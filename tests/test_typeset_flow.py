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


BOXED = {"page-size": "300,200", "margin-x": 10, "margin-y": 10, "font-size": 9, "line-height": 10,
         "font-color": "#000000", "page-bg-color": "#FFFFFF", "para-bg-color": "#FFFF00",
         "para-border-color": "#0000FF", "border-width": 2, "border-padding": 4,
         "auto-crop-width": False, "auto-crop-last-page": False}


def test_paragraph_fill_and_border_are_drawn_around_each_paragraph_box(tmp_path, glyph):
    import json

    import numpy as np
    from PIL import Image

    (tmp_path / "boxed.json").write_text(json.dumps(BOXED))
    text = "hello world, a paragraph with a border around it " * 6 + "\nsecond source line"
    doc = json.dumps({"id": "b", "text": text}).encode() + b"\n"
    glyph("render", "--config", str(tmp_path / "boxed.json"), "-d", str(tmp_path / "out"), input=doc, check=True)
    img = np.asarray(Image.open(tmp_path / "out" / "b" / "page-00000.png").convert("RGB")).astype(int)
    # borderPadding does not change reportlab's Paragraph width: the line slots are those drawn
    # without a box, and the box is the Paragraph's (16 pt frame inset) outset by 4 pt.
    plain = resolve_config(None, None, {**resolve_config("glyph").to_dict(), "page_size": [300, 200],
                                        "auto_crop_width": False, "auto_crop_last_page": False})
    boxed = resolve_config(None, None, {**plain.to_dict(), "para_bg_color": "#FFFF00", "border_width": 2,
                                        "border_padding": 4, "border_color": "#0000FF"})
    lines = [p.lines for p in pages(Typesetter(plain), text)]
    boxed_pages = list(pages(Typesetter(boxed), text))
    assert [p.lines for p in boxed_pages] == lines and len(lines[0]) >= 3
    n = len(lines[0])
    assert boxed_pages[0].boxes == [(0, n)]
    top, bottom, left, right = 16 - 4, 16 + 10 * n + 4, 16 - 4, 300 - 16 + 4
    yellow, blue, white = [255, 255, 0], [0, 0, 255], [255, 255, 255]
    assert img[top + 3, left + 3].tolist() == yellow  # inside the padding: the fill
    assert img[bottom - 2, (left + right) // 2].tolist() == yellow
    for y, x in ((top, (left + right) // 2), (bottom, 150), (top + 5, left),
                 (top + 5, right)):
        assert img[y, x].tolist() == blue, (y, x)  # the 2 pt stroke centred on the box edge
    assert img[top - 3, 150].tolist() == white and img[bottom + 3, 150].tolist() == white
    assert img[top + 5, left - 3].tolist() == white and img[top + 5, right + 3].tolist() == white
    ink = img[16:16 + 10 * n, 16:280]
    assert (ink.sum(axis=2) < 200).any()  # the text is drawn on the fill
