"""The `glyph` preset's flow: the released renderer's breaks, as measured on the released code
(thu-coai/Glyph scripts/word2png_function.py with config_en.json, reportlab 5.1 + poppler): which line
slot of which page each source line lands in."""

from __future__ import annotations

import numpy as np
import pytest

from glyph_cli.streams.documents import Document
from glyph_cli.typeset.config import resolve_config
from glyph_cli.typeset.engine import Typesetter
from glyph_cli.typeset import flow
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


MIXED = lines(
    "Plain prose: the quick brown fox jumps over the lazy dog, 0123456789 (a+b)*c = d; \"quotes\" 'too'.",
    "Accents and Greek: café naïve façade Ærø ὅτι αβγ Кириллица, and punctuation: – — … « » ¶ § ©.",
    "中文排版测试：这是一个句子，包含全角标点。日本語のかな、한국어문장",
    "Combining: e\u0301 a\u0308 n\u0303 and right-to-left: שלום עולם مرحبا بالعالم in one line.",
    "Emoji and astral: 😀 🚀 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 next to plain words.",
    "no-break  spaces   in   runs and a\ttab",
)


def _pango_drawn(ts, page):
    """The same page drawn by Pango for every line (the path glyph used before its glyph runs)."""
    ts._clear()
    ts._pango_lines(page.lines)
    return ts._coverage(ts.page_w, ts.page_h).astype(int)


@pytest.mark.parametrize("text", [PROSE_LINES := "\n".join(["Lorem ipsum dolor sit amet, consectetur "
                                  "adipiscing elit; sed do eiusmod tempor (incididunt) ut labore."] * 90), MIXED],
                         ids=["prose", "mixed"])
def test_glyph_runs_draw_what_pango_draws(ts, text):
    for page in pages(ts, text):
        info, drawn = ts.draw_flow(page, False)
        ours = np.zeros((ts.page_h, ts.page_w), int)
        ours[:info.height, :info.width] = drawn
        theirs = _pango_drawn(ts, page)
        assert ours.sum() > 0
        # Pango rounds advances to 1/1024 pt and cairo rounds its glyphs to the nearest sample;
        # glyph runs do neither (they truncate, as poppler does): a glyph lands at most one sample
        # (1/4 pixel) apart, so edge pixels change by up to 64 and the ink does not; a wrong glyph
        # or a misplaced line would change a line's ink by a percent and pixels by over 128
        assert (np.abs(ours - theirs) <= 64).mean() > 0.99
        for slot in range(len(page.lines)):
            rows = slice(round(16 + slot * 10), round(16 + (slot + 1) * 10))
            assert abs(ours[rows].sum() - theirs[rows].sum()) <= 0.001 * theirs[rows].sum()
            blur = lambda a: a[rows, :-2] + a[rows, 1:-1] + a[rows, 2:]  # noqa: E731
            assert np.abs(blur(ours) - blur(theirs)).max() <= 96


@pytest.mark.parametrize("dpi", [72, 96])
def test_sprites_are_the_oversampled_drawing(dpi):
    """A page of sprites (each glyph drawn once per quarter-pixel phase, then added at whole pixels)
    is the page drawn four samples a pixel and averaged, but for glyphs that share a pixel, whose
    averages are rounded before they add (1 of 255 at most)."""
    from glyph_cli.typeset.glyphs import GlyphCanvas

    ts = Typesetter(resolve_config("glyph", None, {"dpi": dpi}))
    k = ts.oversample
    assert k == 4
    for page in pages(ts, PROSE_LINES + "\n" + MIXED):
        info, drawn = ts.draw_flow(page, False)
        run = ts._run(page.lines)
        ts._clear()
        canvas = GlyphCanvas(ts.pixels, ts.page_w * k, tuple(ts.ctx.get_matrix()))
        # cairo rounds positions to the nearest sample, sprites truncate: give cairo the truncated ones
        s, x0 = ts.cfg.scale, ts.x0
        glyphs = run.glyphs.copy()
        glyphs["x"] = (np.floor((x0 + glyphs["x"] * s) * k + 1e-6) / k - x0) / s
        glyphs["y"] = np.floor(glyphs["y"] * s + 1e-6) / s
        for f in np.unique(run.fonts).tolist():
            canvas.show(ts._plain_fonts[f][1], glyphs[run.fonts == f])
        canvas.flush()
        del canvas
        if run.pango_lines:
            ts._pango_lines(run.pango_lines)
        wide = ts._coverage(info.width, info.height).astype(int)
        diff = np.abs(drawn.astype(int) - wide)
        assert wide.sum() > 0 and diff.max() <= 1 and (diff > 0).mean() < 0.001


def test_only_plain_scripts_take_the_glyph_run_path(ts):
    kinds = {}
    for ch in "aé中한😀\u0301שم ":
        ts._classify(ord(ch)) if ord(ch) < 0x10000 else None
        kinds[ch] = int(ts._kind[ord(ch)]) if ord(ch) < 0x10000 else None
    assert kinds["a"] == kinds["é"] < 253 and kinds["中"] < 253 and kinds["한"] < 253
    assert kinds["中"] != kinds["a"]  # the CJK fallback font draws it, as Pango would choose
    assert kinds["\u0301"] == kinds["ש"] == kinds["م"] == 254  # Pango shapes these
    assert kinds[" "] == 253  # blank: advanced over, not drawn


def test_the_crop_is_the_released_one_read_from_the_ink():
    """The released code crops each page to its rightmost ink column + 1 and the last page to its
    lowest ink row, plus the margin in pixels, where ink differs from the background by over 5
    grey levels. glyph knows the crop before drawing (from glyph ink boxes); check it against that
    rule applied to the drawn, uncropped page."""
    from glyph_cli.typeset.raster import Rasteriser

    words = ("When a class attribute reference would yield a class method object, it is transformed "
             "into an instance method object; (see [docs] \"quotes\" & 42% of cases) jumps over fox.").split()
    texts = [" ".join(words[i % 7:] + words[:i % 7]) * (1 + i % 3) for i in range(40)]
    text = "\n".join(texts[i] if i % 5 else texts[i][: 30 + i] for i in range(40))
    agree = total = 0
    for dpi in (72, 96):
        cfg = resolve_config("glyph", overrides={"dpi": dpi})
        full = resolve_config(None, None, {**cfg.to_dict(), "auto_crop_width": False, "auto_crop_last_page": False})
        ts, drawer, ras = Typesetter(cfg), Typesetter(full), Rasteriser(cfg)
        for line in text.split("\n")[:12]:
            page = pages(ts, line)[0]
            info = ts.flow_info(page, True)
            _, cov = drawer.draw_flow(page, True)
            ink = np.abs(ras.grey_lut[cov].astype(int) - ras.grey_lut[0]) > 5
            right = np.flatnonzero(ink.any(axis=0))[-1] + 1 + 10
            bottom = np.flatnonzero(ink.any(axis=1))[-1] + 10
            assert abs(info.width - right) <= 1 and abs(info.height - bottom) <= 1
            agree += (info.width, info.height) == (right, bottom)
            total += 1
    assert agree >= 0.8 * total


def test_a_page_without_ink_is_not_cropped(ts):
    info = ts.flow_info(pages(ts, "   \n\n")[0], True)
    assert (info.width, info.height) == (595, 842)


# reportlab's CJK wrap (the released code sets wordWrap="CJK" when the text holds U+4E00-U+9FFF);
# checked against reportlab + pdftotext on Chinese message catalogs by benchmarks/bench_fidelity.py
def _widths(ts, s):
    return [ts.widths.char(c) for c in s]


def _fill(ts, ch, extra=0):
    """A run of `ch` one character wider than the line, plus `extra` more."""
    n = int(ts.width_units / ts.widths.char(ch) + 1e-9)
    return ch * (n + 1 + extra), n


def test_cjk_text_breaks_between_any_two_characters(ts):
    text, n = _fill(ts, "中", 5)
    got = pages(ts, text)[0].lines
    assert [t for _, t, _ in got] == ["中" * n, "中" * 6]
    assert got[0][2] <= ts.width_units + 1e-6 < got[0][2] + ts.widths.char("中")


def test_cjk_closing_punctuation_hangs_in_the_margin(ts):
    text, n = _fill(ts, "中")
    hung = "中" * n + "。" + "中中"
    assert [t for _, t, _ in pages(ts, hung)[0].lines] == ["中" * n + "。", "中中"]
    opening = "中" * n + "（" + "中中"
    assert [t for _, t, _ in pages(ts, opening)[0].lines] == ["中" * n, "（中中"]


def test_latin_inside_cjk_breaks_after_the_last_space_or_ideograph_of_the_second_half(ts):
    text, n = _fill(ts, "中")
    cjk = "中" * (n - 3)
    word = "abcdefghij"
    lines = [t for _, t, _ in pages(ts, cjk + word + "中")[0].lines]
    assert lines == [cjk, word + "中"]  # cut after the last ideograph
    spaced = "中" * (n - 6) + "ab " + word
    lines = [t for _, t, _ in pages(ts, spaced + "\nx")[0].lines]
    assert lines == ["中" * (n - 6) + "ab ", word, "x"]  # the space stays at the end of the line
    # a Paragraph that is one plain run of text (one source line) has its lines stripped
    assert [t for _, t, _ in pages(ts, spaced)[0].lines] == ["中" * (n - 6) + "ab", word]
    assert ts.widths.char("a") < ts.widths.char("中")


def test_cjk_whitespace_collapses_to_one_measured_space(ts):
    # the Paragraph's ends are stripped; the tab before the <br/> is inside it and stays a space
    got = pages(ts, " 中文 \t 字\t\n")[0].lines
    assert [t for _, t, _ in got] == ["中文 字 "]
    assert got[0][2] == pytest.approx(sum(_widths(ts, "中文 字 ")))
    assert [t for _, t, _ in pages(ts, "  前导\n中文  两个空格")[0].lines] == ["\u00a0\u00a0前导", "中文\u00a0\u00a0两个空格"]


def test_cjk_paragraph_moved_on_by_a_page_split_gains_a_space_per_line(ts):
    """reportlab lays out the part of a Paragraph that moves to the next page again, from its
    lines with a space appended to each but the last: a line that was full now overflows."""
    _, n = _fill(ts, "中")
    row = "中" * n
    while sum(_widths(ts, row + "ｱ")) <= ts.width_units:  # half-width kana: fill to under a space
        row += "ｱ"
    assert ts.width_units - sum(_widths(ts, row)) < ts.widths.char(" ")
    text = "\n".join(["中"] * 80 + [row * 3])  # one Paragraph of 30 lines: lines 80-82 run over
    first, second = pages(ts, text)[:2]
    assert [t for _, t, _ in first.lines[-1:]] == [row]
    # the moved lines were full: the first gains a space that overflows and opens the next line
    assert [t for _, t, _ in second.lines] == [row, " " + row[:-1], row[-1]]


# -- the fast paginate against the one-word-at-a-time reference --------------------------------

def _corpus_docs(n):
    """Documentation with short source lines, code blocks and indentation (as /tmp/s4/docs1)."""
    import pydoc_data.topics

    return "\n".join(v for _, v in sorted(pydoc_data.topics.topics.items()))[:n]


def _corpus_prose(n):
    """Long paragraphs of prose (as /tmp/s4/prose1)."""
    from importlib.resources import files

    text = (files("glyph_cli.data") / "sample.txt").read_text(encoding="utf-8")
    return (text * (n // len(text) + 1))[:n]


_PIECES = ["word", "longer", "a", "state-of-the-art", "path/to/file", "中文", "排版测试", "日本語のかな",
           "。", "、", "」", "（", "！", "ー", "ッ", "한국어", "ｱｲｳ", "café", "naïve", "😀", "𝔘𝔫𝔦",
           "e\u0301", "&amp;", "<b>", "x" * 90, "中" * 70, "ab" * 60 + "中", "42%", "\u00a0", "\u3000"]
_SPACES = [" ", " ", " ", " ", "  ", "   ", "\t", " \t ", "\u2003", "\u00a0", "\n", "\n", "\n\n", "\n \n",
           "\n\t\n", "\n" * 5, " \n", "\n "]


def _mixed(seed, n, cjk=True):
    import random

    rng = random.Random(seed)
    pieces = _PIECES if cjk else [p for p in _PIECES if not flow._CJK_RE.search(p)]
    out = []
    while sum(map(len, out)) < n:
        out.append(rng.choice(pieces))
        out.append(rng.choice(_SPACES))
    text = "".join(out)
    return text if seed % 2 else text.rstrip("\n")  # ending with and without a newline


def _same_pages(widths, text, max_width, per_page, paragraph_lines):
    args = (text, widths, max_width, per_page, paragraph_lines)
    new, old = list(flow.paginate(*args)), list(flow._reference_paginate(*args))
    assert len(new) == len(old)
    for a, b in zip(new, old):
        assert (a.index, a.d_start, a.d_end, a.boxes) == (b.index, b.d_start, b.d_end, b.boxes)
        assert a.lines == b.lines
        assert [type(w) for _, _, w in a.lines] == [type(w) for _, _, w in b.lines]
    return new


SAMENESS = [("docs", lambda: _corpus_docs(40_000)), ("prose", lambda: _corpus_prose(30_000)),
            ("docs+cjk", lambda: _corpus_docs(20_000) + "\n中文\n"),
            ("prose+cjk", lambda: "中" + _corpus_prose(20_000)),
            *[(f"mixed{s}", lambda s=s: _mixed(s, 6000)) for s in range(4)],
            *[(f"latin{s}", lambda s=s: _mixed(s, 6000, cjk=False)) for s in range(4)],
            ("edges", lambda: "\n".join(["", " ", "\t", "  ", "\u00a0", "x", " x ", "x  ", "  x", "\n", ""] * 40)),
            ("cjk-edges", lambda: "\n".join(["中 文 字", "", " ", "\t中", "\u00a0 " * 150 + "x"] * 20)),
            ("cjk-lone-br", lambda: "中" + "\n" * 30 + " \n ")]  # the last Paragraph: two blank lines


@pytest.mark.parametrize("name, make", SAMENESS, ids=[s[0] for s in SAMENESS])
def test_fast_paginate_is_the_reference(ts, name, make, monkeypatch):
    text = make()
    narrow = 30 * ts.widths.char("x")
    for max_width, per_page, paragraph_lines in ((ts.width_units, ts.lines_per_page, 30), (narrow, 7, 30),
                                                 (narrow, 3, 0), (ts.width_units * 1.5, 81, 0),
                                                 (4 * ts.cfg.font_size, 40, 30)):  # the narrowest line a config allows
        pages_ = _same_pages(ts.widths, text, max_width, per_page, paragraph_lines)
        assert pages_[-1].d_end == len(text)
    monkeypatch.setattr(flow, "_CHUNK", 700)  # chunks of a few Paragraphs, and Paragraphs longer than one
    _same_pages(ts.widths, text, narrow, 5, 30)
    _same_pages(ts.widths, text, ts.width_units, 81, 0)


def test_fast_paginate_with_inexact_widths_takes_the_reference_functions(ts):
    widths = WordWidths(lambda ch: ts.widths.char(ch) * 1.1)  # not multiples of 2**-16 pt
    for text in (_mixed(2, 3000, cjk=False), _mixed(1, 3000)):
        _same_pages(widths, text, ts.width_units, 9, 30)
    assert not widths.exact and ts.widths.exact


@pytest.mark.parametrize("overrides", [{}, {"alignment": "center"}, {"dpi": 96},
                                       {"alignment": "center", "margin_x": 13.3}])  # an offset not in 2^-16 pt
def test_a_batch_of_pages_is_planned_as_each_page_alone(overrides):
    """Pages are sized and planned eight at a time, in one numpy pass (the parent's cost a page):
    every page gets the info and glyphs it gets alone, to the last bit (see Typesetter._chars),
    Pango's lines included, empty pages and a last page cropped at the bottom too."""
    ts = Typesetter(resolve_config("glyph", None, overrides))
    text = "\n".join([PROSE_LINES, MIXED, "\n" * 400, "tail 😀 line", PROSE_LINES * 3, "end"])
    laid = pages(ts, text)
    assert len(laid) >= 4
    # pages without lines, and with lines of nothing but blanks, amid the others
    laid[2:2] = [flow.FlowPage(90, 0, 0, []), flow.FlowPage(91, 0, 0, [(0, "   ", 9.0), (1, "", 0.0)])]
    # a wide page and then a narrow one whose ink is its first character: each page's own characters
    wide = laid[0].lines[:1]
    laid[:0] = [flow.FlowPage(92, 0, 0, wide), flow.FlowPage(93, 0, 0, [(0, "W   ", 30.0)])]
    last = laid[-1].index
    for start in range(0, len(laid), 3):
        batch = laid[start:start + 5]
        done = batch[-1].index == last
        alone = [ts.flow_info(p, done and i == len(batch) - 1) for i, p in enumerate(batch)]
        assert ts.flow_infos(batch, done) == alone
        together = ts.plan_flows(batch, last, None)
        for page, plan, info in zip(batch, together, alone):
            single = ts.plan_flow(page, page.index == last)
            assert plan.info == single.info == info
            assert len(plan.glyphs) == len(single.glyphs)
            for (font_a, a), (font_b, b) in zip(plan.glyphs, single.glyphs):
                assert font_a is font_b and a.tobytes() == b.tobytes()
            assert (plan.pango is None) == (single.pango is None)
            if plan.pango is not None:
                assert np.array_equal(plan.pango, single.pango)
