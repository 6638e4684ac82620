"""Prompt templates, thinking/answer splitting, the repetition guard, sampling settings."""

from __future__ import annotations

import pytest

from glyph_cli.errors import UsageError
from glyph_cli.models.backend import Sampling
from glyph_cli.models.parse import split_thinking
from glyph_cli.models.prompts import Part, Template, default_template
from glyph_cli.models.repetition import CHARS_PER_TOKEN, TextGuard, repeating_tail


@pytest.mark.parametrize("raw, answer, thinking, closed", [
    ("<think>count the keys</think>The key is 42.", "The key is 42.", "count the keys", True),
    ("<think>\nline one\nline two\n</think>\n\n42\n", "42", "line one\nline two", True),
    # the chat template opened the block, so the output starts inside it
    ("reasoning here</think>42", "42", "reasoning here", True),
    ("no thinking at all", "no thinking at all", None, True),
    # stopped inside the thinking: no answer
    ("<think>went on and on", "", "went on and on", False),
    # GLM-4.1V wraps answers in <answer> and boxes final values
    ("<think>x</think><answer>Paris</answer>", "Paris", "x", True),
    ("<think>x</think>The answer is <|begin_of_box|>7<|end_of_box|>.", "The answer is 7.", "x", True),
    ("", "", None, True),
])
def test_split_thinking(raw, answer, thinking, closed):
    parsed = split_thinking(raw)
    assert (parsed.answer, parsed.thinking, parsed.thinking_closed) == (answer, thinking, closed)


def test_split_thinking_with_reasoning_from_server():
    # vLLM's --reasoning-parser returns the thinking apart and the answer alone in the content
    parsed = split_thinking("Paris", reasoning="the capital of France")
    assert (parsed.answer, parsed.thinking) == ("Paris", "the capital of France")
    # a server that left the closing tag in the content: both pieces of thinking are kept, in order
    parsed = split_thinking("second half</think>Paris", reasoning="first half ")
    assert (parsed.answer, parsed.thinking) == ("Paris", "first half second half")


def test_repeating_tail_finds_loops_and_only_loops():
    loop = list(range(100)) + [7, 8, 9] * 30
    assert repeating_tail(loop, 60) == 3
    assert repeating_tail(loop, 90) == 3
    assert repeating_tail(loop, 91) == 0  # the window reaches back before the loop began
    assert repeating_tail([5] * 40, 40) == 1
    # a unit must repeat min_repeats times inside the window: 4 x 10 fits 40, 3 x 12 does not
    assert repeating_tail(list(range(10)) * 4, 40) == 10
    assert repeating_tail(list(range(12)) * 3 + [0, 1, 2, 3], 40) == 0
    assert repeating_tail(list(range(30)), 64) == 0  # shorter than the window
    assert repeating_tail([1] * 100, 0) == 0  # window 0: the guard is off
    assert repeating_tail("the cat sat. " * 20, 200) == len("the cat sat. ")


def test_text_guard_trips_on_a_streamed_loop_but_not_on_prose():
    guard = TextGuard(window_tokens=16)  # 64 characters
    prose = ("Glyph renders long text into page images so that a vision-language model reads "
             "them instead of text tokens; each visual token covers several characters. ") * 1
    assert not any(guard.feed(prose[i:i + 5]) for i in range(0, len(prose), 5))
    looped = TextGuard(window_tokens=16)
    fed = 0
    for _ in range(100):
        fed += len("no play ")
        if looped.feed("no play "):
            break
    else:
        pytest.fail("the guard never tripped")
    # checked every 32 characters once the window (64 chars) is full: caught within 72 + 32
    assert 16 * CHARS_PER_TOKEN <= fed <= 16 * CHARS_PER_TOKEN + 40
    assert not TextGuard(window_tokens=0).feed("x" * 1000)


def test_default_templates_follow_glyph_and_the_text_baseline():
    pages = default_template(as_text=False).parts("Who?", images=["data:image/png;base64,AA==", "data:image/png;base64,AB=="])
    assert pages == [Part("image", "data:image/png;base64,AA=="), Part("image", "data:image/png;base64,AB=="),
                     Part("text", "Who?")]
    text = default_template(as_text=True).parts("Who?", context_text="Ann wrote it.")
    assert text == [Part("text", "Ann wrote it.\n\nWho?")]


def test_template_file(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text('Read these pages. Reply as JSON like {"answer": ...}.\n{context}\nQuestion: {question}\n')
    t = Template.load(f)
    parts = t.parts("Who?", images=["data:image/png;base64,AA=="])
    assert parts == [Part("text", "Read these pages. Reply as JSON like {\"answer\": ...}.\n"),
                     Part("image", "data:image/png;base64,AA=="), Part("text", "\nQuestion: Who?")]
    assert t.parts("Who?", context_text="CTX") == [
        Part("text", 'Read these pages. Reply as JSON like {"answer": ...}.\nCTX\nQuestion: Who?')]
    assert t.describe()["source"] == str(f) and len(t.describe()["sha256"]) == 64
    # a question may be asked before and after the context
    assert Template.checked("{question}\n{context}\n{question}", "x").parts("Q", context_text="C") == [
        Part("text", "Q\nC\nQ")]


@pytest.mark.parametrize("text, message", [
    ("no placeholders", "{context}"),
    ("{context}{context}{question}", "exactly once"),
    ("{context} only", "{question}"),
])
def test_bad_templates_are_usage_errors(tmp_path, text, message):
    f = tmp_path / "t.txt"
    f.write_text(text)
    with pytest.raises(UsageError, match=message):
        Template.load(f)


def test_missing_template_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read"):
        Template.load(tmp_path / "nope.txt")


def test_sampling_defaults_are_glyphs_and_bad_values_are_refused():
    s = Sampling()
    assert (s.temperature, s.top_k, s.repetition_penalty, s.max_new_tokens) == (0.0, 1, 1.1, 8192)
    assert s.greedy
    assert not Sampling(temperature=0.7, top_k=50).greedy
    for bad in (dict(max_new_tokens=0), dict(temperature=-1), dict(top_p=0), dict(top_p=1.5),
                dict(repetition_penalty=0), dict(repeat_window=-1), dict(min_new_tokens=9, max_new_tokens=8)):
        with pytest.raises(UsageError):
            Sampling(**bad)
