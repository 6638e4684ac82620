"""The public Python API: the same bytes as the CLI, round trips through bundles, light import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import glyph_cli
from conftest import REPO, glyph_env, run_glyph

DOCS = [{"id": "alpha", "text": "The API renders what the CLI renders, byte for byte. " * 120, "lang": "en"},
        {"id": 7, "text": "数字 and\ttabs\nand lines\n\nend."},
        {"id": "empty", "text": ""}]


@pytest.fixture(scope="module")
def cli_stream(tmp_path_factory):
    path = tmp_path_factory.mktemp("api") / "docs.jsonl"
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in DOCS), encoding="utf-8")
    out = run_glyph("render", str(path), "--dpi", "60", "--align", "justify", check=True).stdout
    return path, [json.loads(line) for line in out.splitlines()]


def without_end(records):
    return [r for r in records if r["type"] in ("doc", "page")]


def test_import_is_light():
    code = ("import sys, glyph_cli; glyph_cli.__all__; "
            "heavy = [m for m in ('torch', 'transformers', 'gi', 'ray', 'pyarrow', 'datasets', 'PIL', 'typer')"
            " if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=glyph_env(), cwd=REPO,
                         check=True).stdout.strip()
    assert out == ""


def test_render_records_equal_the_cli_stream(cli_stream):
    _path, cli = cli_stream
    api = list(glyph_cli.Renderer(dpi=60, alignment="justify").records(DOCS))
    assert api == without_end(cli)


def test_pages_carry_the_cli_fields_and_png(cli_stream):
    _path, cli = cli_stream
    cli_pages = [r for r in cli if r["type"] == "page"]
    pages = list(glyph_cli.render(DOCS, dpi=60, alignment="justify"))
    assert [p.record() for p in pages] == cli_pages
    first = pages[0]
    assert (first.doc, first.index, first.dpi) == ("alpha", 0, 60.0)
    assert first.text == DOCS[0]["text"][first.span[0]:first.span[1]]
    img = first.image()
    assert img.size == (first.width, first.height)
    assert first.visual_tokens["glm4v"] == glyph_cli.visual_tokens(first.width, first.height)


def test_one_renderer_serves_many_calls_with_the_same_output():
    renderer = glyph_cli.Renderer(preset="dpi72")
    a = [p.png for p in renderer("one document, rendered twice")]
    b = [p.png for p in renderer("one document, rendered twice")]
    assert a == b and len(a) == 1
    assert isinstance(renderer.config, glyph_cli.RenderConfig) and renderer.config.dpi == 72


def test_bundle_round_trip_equals_the_cli(cli_stream, tmp_path):
    _path, cli = cli_stream
    renderer = glyph_cli.Renderer(dpi=60, alignment="justify")
    with glyph_cli.BundleWriter(tmp_path / "api.glyph") as out:
        for doc, pages in renderer.documents(DOCS):
            out.add(doc, pages)
    assert (out.docs, out.pages) == (3, sum(r["type"] == "page" for r in cli))
    bundle = glyph_cli.open_bundle(tmp_path / "api.glyph")
    assert without_end(bundle.records()) == without_end(cli)
    assert [p.record() for p in bundle.pages()] == [r for r in cli if r["type"] == "page"]
    assert list(bundle.texts()) == [("alpha", DOCS[0]["text"]), ("7", DOCS[1]["text"]), ("empty", "")]
    unpacked = run_glyph("unpack", str(tmp_path / "api.glyph"), check=True).stdout
    assert without_end(json.loads(line) for line in unpacked.splitlines()) == without_end(cli)


def test_token_helpers_agree_with_the_doc_record(cli_stream):
    _path, cli = cli_stream
    doc = cli[0]
    assert glyph_cli.count_text_tokens(DOCS[0]["text"]) == doc["text_tokens"]
    pages = [glyph_cli.Page.from_record(r, doc) for r in cli if r["type"] == "page" and r["doc"] == "alpha"]
    ratio = glyph_cli.compression(DOCS[0]["text"], pages)
    assert ratio == pytest.approx(doc["text_tokens"] / doc["visual_tokens"]["glm4v"])
    assert glyph_cli.compression(100, 50) == 2.0


def test_ask_through_a_named_backend():
    from fake_openai_server import FakeServer

    srv = FakeServer().start()
    try:
        answers = list(glyph_cli.ask(["Some text to read."], "What is it?", backend="openai",
                                     base_url=srv.base_url, timeout=5))
    finally:
        srv.stop()
    assert len(answers) == 1 and answers[0]["doc"] == "doc-0" and answers[0]["pages"] == 1
    assert "What is it?" in answers[0]["answer"]
    assert srv.requests and len(srv.requests) == 1


def test_bad_documents_and_backends_are_clear_errors():
    from glyph_cli.errors import InputError, UsageError

    with pytest.raises(InputError, match="no 'text' field"):
        list(glyph_cli.render([{"id": "x"}]))
    with pytest.raises(UsageError, match="unknown backend"):
        list(glyph_cli.ask(["x"], "q", backend="nope"))
