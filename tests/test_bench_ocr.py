"""CER and page references by hand; the two readers on a page drawn here."""

from __future__ import annotations

import shutil

import pytest

from glyph_cli.bench import ocr


def test_levenshtein_by_hand():
    assert ocr.levenshtein("kitten", "sitting") == 3
    assert ocr.levenshtein("", "abc") == 3 and ocr.levenshtein("abc", "") == 3
    assert ocr.levenshtein("flaw", "lawn") == 2


def test_page_reference_shows_markers_and_ignores_layout_whitespace():
    text = "Intro\nsoft\u00adhy  phen\tend\nnext page"
    span = (0, text.index("next"))
    assert ocr.page_reference(text, span, "marker", " \\n ") == "Intro \\n softhy phen end \\n"
    assert ocr.page_reference(text, span, "break") == "Intro softhy phen end"
    assert ocr.page_reference(text, (span[1], len(text)), "break") == "next page"


def test_cer_by_hand():
    score = ocr.score_page("hello world", "helo  world\n")  # one deletion in 11 characters
    assert (score.edits, score.ref_chars) == (1, 11)
    assert score.cer == pytest.approx(1 / 11)
    assert ocr.score_page("", "").cer == 0.0 and ocr.score_page("", "x").cer == 1.0


def _page(text: str) -> bytes:
    """One page of `text` drawn by glyph's own typesetter at 150 dpi. (Not with PIL's ImageDraw: in
    a process that has already drawn with Pango, PIL's FreeType text rendering breaks here, with a
    bogus 11-million-pixel-wide glyph mask.)"""
    from glyph_cli.streams.documents import Document
    from glyph_cli.streams.pages import page_png
    from glyph_cli.typeset.config import resolve_config
    from glyph_cli.typeset.job import make_renderer

    records = list(make_renderer(resolve_config("glyph", None, {"dpi": 150}), "qwen2.5").render(Document("t", text)))
    return page_png(records[1])


TEXT = "The quick brown fox jumps\nover the lazy dog 1234."


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")
def test_tesseract_reads_a_clear_page():
    reader = ocr.make_reader("tesseract")
    assert ocr.score_page(ocr.normalize_ocr(TEXT), reader.read(_page(TEXT))).cer < 0.05
    assert reader.version().startswith("tesseract")


@pytest.mark.slow
def test_rapidocr_reads_a_clear_page_in_order():
    pytest.importorskip("rapidocr")
    reader = ocr.make_reader("rapidocr")
    got = reader.read(_page(TEXT))
    assert got.index("quick") < got.index("lazy")
    assert ocr.score_page(ocr.normalize_ocr(TEXT), got).cer < 0.1


def test_reading_order_groups_boxes_into_lines():
    boxes = [[(300, 52), (400, 52), (400, 70), (300, 70)],  # line 2, right
             [(10, 10), (100, 10), (100, 28), (10, 28)],    # line 1, left
             [(10, 50), (200, 50), (200, 68), (10, 68)],    # line 2, left
             [(120, 12), (220, 12), (220, 30), (120, 30)]]  # line 1, right
    assert ocr._reading_order(boxes, ["d", "a", "c", "b"]) == ["a b", "c d"]


def test_unknown_reader_is_a_usage_error():
    from glyph_cli.errors import UsageError

    with pytest.raises(UsageError, match="tesseract, rapidocr"):
        ocr.make_reader("easyocr")
