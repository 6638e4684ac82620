"""The typesetting core: exact spans, chunking that changes nothing, determinism, scripts, options."""

import base64
import io
import unicodedata

import numpy as np
import pytest
from PIL import Image

from glyph_cli.streams.documents import Document
from glyph_cli.typeset import engine
from glyph_cli.typeset.config import resolve_config
from glyph_cli.typeset.render import Renderer
from glyph_cli.typeset.text import prepare

PROSE = (
    "The quick brown fox jumps over the lazy dog while the typesetter counts every character twice. "
    "Pages break between lines and lines between characters, so spans meet exactly. "
) * 60
LINES = "\n".join(f"{i:05d} log line with\tsome fields and a status={i % 7}" for i in range(900))


def renderer(page_buffer=64, **overrides):
    cfg = resolve_config("glyph-marker", overrides=overrides)
    return Renderer(cfg, lambda s: len(s.split()), "words", lambda w, h: {"px": w * h}, page_buffer=page_buffer)


def render(text, doc_id="d", **kw):
    recs = list(renderer(**kw).render(Document(doc_id, text, {"m": 1})))
    return recs[0], recs[1:]


def image(page):
    return Image.open(io.BytesIO(base64.b64decode(page["image"].split(",", 1)[1])))


def check_spans(doc, pages):
    spans = [p["span"] for p in pages]
    assert spans[0][0] == 0
    assert spans[-1][1] == len(doc["text"]) == doc["chars"]
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert doc["pages"] == len(pages) == len({p["index"] for p in pages})


@pytest.mark.parametrize("newline", ["marker", "break"])
@pytest.mark.parametrize("text", [PROSE, LINES], ids=["prose", "lines"])
def test_spans_tile_the_text_exactly(text, newline):
    doc, pages = render(text, newline=newline)
    check_spans(doc, pages)
    assert len(pages) > 1


def test_page_text_ends_at_a_line_boundary():
    doc, pages = render(LINES, newline="break")
    for p in pages[:-1]:
        assert doc["text"][p["span"][1] - 1] == "\n"


def _breaks(text, **overrides):
    cfg = resolve_config("glyph-marker", overrides=overrides)
    ts = engine.Typesetter(cfg)
    prep = prepare(text, newline=cfg.newline, marker_text=cfg.marker_text, tab_width=cfg.tab_width)
    return [(ln.d_start, ln.d_end, round(ln.x, 3)) for ln in ts.lines(prep.display)]


@pytest.mark.parametrize("overrides", [
    {"newline": "marker"},
    {"newline": "break", "alignment": "justify"},
    {"newline": "break", "first_line_indent": -20},
    {"newline": "break", "first_line_indent": 15, "alignment": "center"},
])
def test_chunked_layout_breaks_lines_exactly_as_one_big_layout(monkeypatch, overrides):
    text = PROSE + "\n" + LINES[:3000] + "\n" + "中文测试，这是一个句子。" * 80
    monkeypatch.setattr(engine, "CHUNK_CHARS", 10 ** 7)
    whole = _breaks(text, **overrides)
    monkeypatch.setattr(engine, "CHUNK_CHARS", 700)
    assert _breaks(text, **overrides) == whole


def test_output_does_not_depend_on_page_buffer_size():
    doc = Document("d", PROSE * 3)
    assert list(renderer(page_buffer=2).render(doc)) == list(renderer(page_buffer=1000).render(doc))


def test_rendering_is_deterministic_byte_for_byte():
    a = list(renderer().render(Document("d", PROSE + LINES)))
    b = list(renderer().render(Document("d", PROSE + LINES)))
    assert a == b


def test_doc_record_fields():
    doc, pages = render("hello world")
    for key in ("id", "meta", "text", "chars", "text_tokens", "tokenizer", "pages", "visual_tokens", "config",
                "config_sha256", "fonts", "missing_glyphs", "tool"):
        assert key in doc
    assert doc["meta"] == {"m": 1} and doc["text_tokens"] == 2 and doc["tokenizer"] == "words"
    assert doc["fonts"][0]["file"].endswith(".ttf") and len(doc["fonts"][0]["sha256"]) == 64
    assert doc["visual_tokens"]["px"] == sum(p["visual_tokens"]["px"] for p in pages)


def test_empty_document_gets_one_blank_page():
    doc, pages = render("")
    assert doc["pages"] == 1 and pages[0]["span"] == [0, 0]


def test_text_of_only_invisible_characters():
    doc, pages = render("\x00\x01\u200b")
    assert pages[0]["span"] == [0, 3]


def test_cjk_wraps_per_character_and_no_line_starts_with_closing_punctuation():
    text = "中文测试，这是一个句子。" * 200
    cfg = resolve_config("glyph-marker")
    lines = _breaks(text)
    assert len(lines) > 20
    starts = [text[d0] for d0, _, _ in lines if d0 < len(text)]
    assert not any(ch in "，。、；：？！）」』" for ch in starts)
    doc, _ = render(text)
    assert "Noto Sans CJK SC" in [f["family"] for f in doc["fonts"]]
    assert cfg.font_cjk == "Noto Sans CJK SC"


def test_mixed_scripts_emoji_and_rtl_render():
    doc, pages = render("emoji 😀 and שלום עולם and مرحبا بالعالم and 中文 ok\n" * 5)
    check_spans(doc, pages)
    assert doc["missing_glyphs"]["count"] == 0


def test_missing_glyphs_are_counted_and_named():
    doc, _ = render("a\u0378b\u0378c\U000E0100")
    assert doc["missing_glyphs"]["count"] >= 2
    assert "\u0378" in doc["missing_glyphs"]["chars"]


def test_marker_mode_draws_markers_in_the_marker_colour():
    _, pages = render("first line\nsecond line\nthird")
    im = image(pages[0]).convert("RGB")
    px = np.array(im).reshape(-1, 3)
    reds = (px[:, 0] > 200) & (px[:, 1] < 80) & (px[:, 2] < 80)
    assert reds.sum() > 10


def test_break_mode_black_on_white_is_a_grey_png():
    _, pages = render("plain text\nwith lines", newline="break")
    assert image(pages[0]).mode == "L"


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_bit_depths_give_standard_pngs(bits):
    _, pages = render(PROSE[:2000], bit_depth=bits)
    im = image(pages[0])
    im.load()
    assert im.info.get("dpi") is None and im.size == (pages[0]["width"], pages[0]["height"])


def test_crop_width_and_last_page():
    _, cropped = render("short")
    _, full = render("short", auto_crop_width=False, auto_crop_last_page=False)
    assert (full[0]["width"], full[0]["height"]) == (595, 842)
    assert cropped[0]["width"] < 100 and cropped[0]["height"] <= 31


def test_dpi_scales_pixels_not_layout():
    d72, p72 = render(PROSE, dpi=72, auto_crop_width=False)
    d144, p144 = render(PROSE, dpi=144, auto_crop_width=False)
    assert [p["span"] for p in p72] == [p["span"] for p in p144]
    assert p144[0]["width"] == 2 * p72[0]["width"]


def test_horizontal_scale_fits_more_per_line():
    assert len(_breaks(PROSE, horizontal_scale=0.75)) < len(_breaks(PROSE))


def test_letter_spacing_fits_less_per_line():
    assert len(_breaks(PROSE, letter_spacing=1.0)) > len(_breaks(PROSE))


def test_alignment_moves_lines():
    left = _breaks("short line\nanother", newline="break")
    right = _breaks("short line\nanother", newline="break", alignment="right")
    assert [x for *_, x in right][0] > [x for *_, x in left][0]


def test_hanging_indent_indents_continuation_lines():
    lines = _breaks(PROSE[:1000], newline="break", first_line_indent=-20)
    assert lines[0][2] == 0 and all(abs(x - 20) < 0.01 for *_, x in lines[1:])


def test_themes_change_colours():
    _, pages = render("dark text", theme="dark", newline="break")
    im = image(pages[0]).convert("RGB")
    assert im.getpixel((0, 0)) == (0x1E, 0x1E, 0x1E)


def test_space_before_and_after_paragraphs_add_height():
    _, tight = render("a\nb\nc", newline="break")
    _, spaced = render("a\nb\nc", newline="break", space_before=5, space_after=5)
    assert spaced[0]["height"] > tight[0]["height"]


def test_font_file_is_used_and_hashed():
    path = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
    doc, _ = render("serif text", font_path=path)
    assert any(f["family"] == "DejaVu Serif" for f in doc["fonts"])


def test_a_long_unbreakable_word_wraps_by_character():
    doc, pages = render("x" * 20000)
    check_spans(doc, pages)


def test_combining_marks_without_a_break_still_make_progress():
    text = "a" + "\u0301" * 8000
    doc, pages = render(text)
    check_spans(doc, pages)
    assert unicodedata.combining(text[1])


@pytest.mark.parametrize("overrides", [{}, {"alignment": "justify"}, {"letter_spacing": 0.5},
                                       {"horizontal_scale": 0.8, "alignment": "justify"}])
def test_every_marker_is_as_wide_as_the_precomputed_marker_width(overrides):
    from gi.repository import Pango

    cfg = resolve_config("glyph-marker", overrides=overrides)
    ts = engine.Typesetter(cfg)
    text = "\n".join(f"line {i} " + "word " * (i % 37) for i in range(400))
    prep = prepare(text, newline="marker", marker_text=cfg.marker_text, tab_width=4)
    lead = len(cfg.marker_text) - len(cfg.marker_text.lstrip())
    visible = len(cfg.marker_text.strip())
    checked = 0
    for ln in ts.lines(prep.display):
        for m in prep.markers:
            v0 = m + lead
            if ln.d_start <= v0 and v0 + visible <= ln.d_end:
                a = ln.pango_line.index_to_x(ln.byte_index(v0), False)
                b = ln.pango_line.index_to_x(ln.byte_index(v0 + visible), False)
                assert abs((b - a) / Pango.SCALE - ts.marker_width) <= ts.marker_slack + 0.01
                checked += 1
    assert checked > 300
