"""One prompt builder (glyph_cli.models.prompts) and one thinking-block parser
(glyph_cli.models.parse.split_thinking), used by every command that talks to a model."""

from __future__ import annotations

from pathlib import Path

from glyph_cli.models.prompts import Part, chat_messages, default_template, user_turn

ROOT = Path(__file__).resolve().parents[1] / "glyph_cli"
IMG = "data:image/png;base64,AA"


def test_user_turn_drops_empty_texts_and_joins_neighbours():
    assert user_turn("", [Part("image", IMG)], "") == [Part("image", IMG)]
    assert user_turn("a", "b", "c") == [Part("text", "abc")]
    mixed = user_turn("say: ", [Part("text", "x"), Part("image", IMG), Part("text", ""), Part("image", IMG)], "?")
    assert mixed == [Part("text", "say: x"), Part("image", IMG), Part("image", IMG), Part("text", "?")]


def test_template_parts_take_pages_text_or_a_mix():
    t = default_template(False)
    assert t.parts("Q", images=[IMG]) == [Part("image", IMG), Part("text", "Q")]
    assert default_template(True).parts("Q", context_text="doc") == [Part("text", "doc\n\nQ")]
    assert t.parts("Q", context=[Part("text", "run "), Part("image", IMG)]) == [
        Part("text", "run "), Part("image", IMG), Part("text", "Q")]


def test_chat_messages_for_a_server_and_for_a_processor():
    parts = [Part("text", "before"), Part("image", IMG), Part("text", "Q")]
    url = chat_messages(parts, "url")
    assert url == [{"role": "user", "content": [{"type": "text", "text": "before"},
                                                {"type": "image_url", "image_url": {"url": IMG}},
                                                {"type": "text", "text": "Q"}]}]
    assert chat_messages(parts, "placeholder")[0]["content"][1] == {"type": "image"}


def test_every_backend_and_the_collator_send_the_builders_messages():
    from glyph_cli.models.backend import Sampling
    from glyph_cli.models.openai_backend import request_body
    from glyph_cli.train.collate import chat_prompt

    parts = [Part("image", IMG), Part("text", "Q")]
    assert request_body("m", parts, Sampling())["messages"] == chat_messages(parts, "url")
    assert chat_prompt(parts) == chat_messages(parts, "placeholder")


def test_bench_speed_asks_what_glyph_ask_sends():
    from glyph_cli.bench import compression as cb
    from glyph_cli.bench.speed import SPEED_QUESTION, model_jobs
    from glyph_cli.streams.documents import Document

    variant = cb.variants(["glyph"], [], [])[0]
    text_job, pages_job = list(model_jobs([Document("d", "Some text to read.")], variant, "qwen2.5"))
    assert text_job.parts == default_template(True).parts(SPEED_QUESTION, context_text="Some text to read.")
    assert pages_job.parts == default_template(False).parts(SPEED_QUESTION, images=pages_job.images)


def _sources_with(needle: str) -> set[str]:
    return {str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py") if needle in p.read_text(encoding="utf-8")}


def test_one_place_builds_chat_content_and_one_parses_thinking():
    # The chat message's item kinds are spelled in the prompt builder only...
    assert _sources_with('"image_url"') == {"models/prompts.py"}
    assert _sources_with('{"type": "image"}') == {"models/prompts.py"}
    # ...and the closing think tag is looked for by the parser only (train/data.py writes it into
    # training targets, which is not parsing).
    assert _sources_with('"</think>"') == {"models/parse.py"}
