"""Splitting a model's output into its thinking and its answer.

Glyph answers after a `<think>...</think>` block. The opening tag may be missing from the output
when the chat template already put it in the prompt; the closing tag is missing when generation
stopped inside the thinking (length limit or the repetition guard), and then there is no answer.
GLM-4.1V-style models may also wrap the answer in `<answer>` tags or mark a final value with
`<|begin_of_box|>`; those wrappers are dropped from the answer (the raw output keeps everything).
"""

from __future__ import annotations

from dataclasses import dataclass

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
_ANSWER_WRAPPERS = ("<answer>", "</answer>", "<|begin_of_box|>", "<|end_of_box|>")


@dataclass(frozen=True)
class Parsed:
    answer: str
    thinking: str | None  # None: the output had no thinking block at all
    thinking_closed: bool  # False: the output ended inside the thinking block


def split_thinking(raw: str, reasoning: str | None = None) -> Parsed:
    """The answer and the thinking of `raw`.

    `reasoning` is thinking the server already separated (vLLM's `--reasoning-parser`); the raw
    content is then the answer alone, unless the server left the tags in it.
    """
    if reasoning is not None and THINK_CLOSE not in raw:
        return Parsed(_clean_answer(raw), reasoning.strip(), True)
    start = raw.find(THINK_OPEN)
    end = raw.find(THINK_CLOSE, start + len(THINK_OPEN) if start >= 0 else 0)
    if end >= 0:
        think_from = start + len(THINK_OPEN) if start >= 0 else 0
        thinking = raw[think_from:end]
        if reasoning:
            thinking = reasoning + thinking
        return Parsed(_clean_answer(raw[end + len(THINK_CLOSE):]), thinking.strip(), True)
    if start >= 0:
        return Parsed(_clean_answer(raw[:start]), raw[start + len(THINK_OPEN):].strip(), False)
    return Parsed(_clean_answer(raw), None, True)


def _clean_answer(text: str) -> str:
    for tag in _ANSWER_WRAPPERS:
        text = text.replace(tag, "")
    return text.strip()
