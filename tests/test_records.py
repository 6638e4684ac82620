"""glyph_cli.records: the builders make records their validators accept, the validators refuse what
breaks the schema, and every producer of records (render, the test kits) goes through them."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from bundle_kit import doc_records as kit_doc_records
from bundle_kit import page_png
from glyph_cli import records
from glyph_cli.errors import InputError
from page_streams import doc_records as stream_doc_records
from page_streams import page_stream


def test_page_sha256_is_the_pngs_in_both_kits():
    png = page_png(1)
    for rec in kit_doc_records("d", "some text", [png])[1:] + stream_doc_records("e", "more text", 2)[1:]:
        assert rec["sha256"] == hashlib.sha256(records.page_png(rec)).hexdigest()
        assert records.check_png(rec)


def test_config_sha256_has_one_canonical_form():
    config = {"dpi": 72.0, "font": "Ünï", "page_size": [595.0, 842.0]}
    reordered = {"page_size": [595.0, 842.0], "font": "Ünï", "dpi": 72.0}
    expected = hashlib.sha256('{"dpi":72.0,"font":"Ünï","page_size":[595.0,842.0]}'.encode()).hexdigest()
    assert records.config_sha256(config) == records.config_sha256(reordered) == expected
    assert records.doc_record("d", "x", pages=1, config=config)["config_sha256"] == expected


def test_render_config_hash_is_the_records_one():
    from glyph_cli.typeset.config import resolve_config

    cfg = resolve_config("glyph", None, {})
    assert cfg.sha256() == records.config_sha256(cfg.to_dict())


def test_builders_keep_the_format_field_order():
    doc = records.doc_record("d", "abc", pages=0)
    assert list(doc) == ["type", "v", "id", "meta", "text", "chars", "pages"]
    page = records.page_record("d", 0, (0, 3), b"\x89PNG", width=1, height=1, dpi=72)
    assert list(page) == ["type", "v", "doc", "index", "span", "width", "height", "dpi", "sha256", "image"]
    assert records.end_record(2, 5) == {"type": "end", "v": 1, "docs": 2, "pages": 5}


@pytest.mark.parametrize("change, message", [
    ({"v": 2}, "version 2"),
    ({"text": None}, "`text` must be a string"),
    ({"chars": 99}, "`chars`"),
    ({"pages": -1}, "`pages` must not be negative"),
    ({"config": {"dpi": 72}, "config_sha256": "0" * 64}, "config_sha256"),
    ({"type": "pages"}, "record type 'pages'"),
])
def test_doc_validation_names_the_field(change, message):
    rec = {**records.doc_record("d", "abc", pages=1), **change}
    with pytest.raises(records.RecordError, match=message):
        records.check(rec, "doc")


def test_page_validation_and_png_check():
    rec = stream_doc_records("d", "abc", 1)[1]
    with pytest.raises(records.RecordError, match="span"):
        records.check({**rec, "span": [3, 1]})
    with pytest.raises(records.RecordError, match="no `image`"):
        records.check({k: v for k, v in rec.items() if k != "image"})
    url_hash = hashlib.sha256(rec["image"].encode()).hexdigest()  # the mistake a kit once made
    with pytest.raises(records.RecordError, match="sha256"):
        records.check_png({**rec, "sha256": url_hash})


def test_answer_record_validation():
    fields = dict(qid="d:0", doc="d", question="Q?", answer="A", thinking=None, raw="A", finish="stop",
                  prompt_tokens=3, completion_tokens=1, latency_s=0.123456, ttft_s=None, attempts=1,
                  mode="pages", pages=1, meta={}, run=None)
    assert records.answer_record(**fields)["latency_s"] == 0.1235
    with pytest.raises(records.RecordError, match="finish"):
        records.answer_record(**{**fields, "finish": "done"})


def test_check_at_names_source_and_line():
    with pytest.raises(InputError, match=r"^x.jsonl:7: end record has no `pages`"):
        records.check_at({"type": "end", "v": 1, "docs": 1}, "x.jsonl", 7)


def test_kit_stream_packs(tmp_path):
    """The page_streams kit's output is a stream `glyph pack` accepts (it once refused it)."""
    from conftest import run_glyph

    proc = run_glyph("pack", "-o", str(tmp_path / "k.glyph"), input=page_stream([("a", "alpha " * 20, 2)]))
    assert proc.returncode == 0, proc.stderr
    listed = run_glyph("ls", str(tmp_path / "k.glyph"), check=True).stdout
    assert any(orjson.loads(line).get("id") == "a" for line in listed.splitlines() if line.startswith(b"{"))


def test_png_data_urls_are_the_standard_base64():
    import base64
    import os

    from glyph_cli.records import PNG_DATA_URL, png_data_url

    for n in (0, 1, 2, 3, 57, 40_000, 40_001):
        data = os.urandom(n)
        assert png_data_url(data) == PNG_DATA_URL + base64.b64encode(data).decode("ascii")
