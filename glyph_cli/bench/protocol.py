"""Evaluation protocols of `glyph bench accuracy`: what is sent, how it is decoded, what is scored.

A score is comparable with a published table only when it was made the way that table was made, so
every result records its protocol, and a results file holds one protocol only.

- `glyph` (the default): the Glyph paper's protocol, as its evaluation scripts run it
  (thu-coai/Glyph evaluation/*/scripts/post_api_*.py): one user turn holding the task's
  instruction, the pages, then the question (no answer prefix, no few-shot examples); greedy
  decoding with repetition penalty 1.1 and up to 8192 new tokens for every task (the model thinks
  first); the answer after the thinking block is scored. Its RULER average leaves out
  niah_single_3 and niah_multikey_3, as post_api_ruler.py does.
- `ruler`: RULER's own protocol (NVIDIA/RULER scripts/pred/call_api.py, scripts/data/prepare.py),
  so scores compare with RULER's tables: the answer prefix appended to the prompt, the in-context
  example of vt and cwe in front of it, the task's own generation budget (RULER's
  tokens_to_generate: 128 for the needle tasks, 30 vt, 120 cwe, 50 fwe; LongBench's per-dataset
  budgets for LongBench tasks), greedy decoding without repetition penalty or repetition guard,
  and the output scored as returned (RULER strips nothing but control characters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from glyph_cli.errors import UsageError
from glyph_cli.models.prompts import Part, user_turn

PROTOCOLS = ("glyph", "ruler")
GLYPH_MAX_NEW_TOKENS = 8192


@dataclass(frozen=True)
class Protocol:
    name: str
    source: str  # where it comes from, for the report
    answer_prefix: bool  # append the task's answer prefix to the prompt
    fewshot: bool  # put RULER's in-context example (vt, cwe) in front of the prompt
    task_budget: bool  # each task's own max_new_tokens instead of one budget for all
    repetition_penalty: float
    repeat_window: int  # glyph's repetition guard (tokens); 0: off
    strip_thinking: bool  # score the answer after the thinking block, not the whole output
    all_excludes: frozenset[tuple[str, str]] = frozenset()  # (suite, task) left out of the "all" row

    def describe(self) -> dict:
        return {"name": self.name, "source": self.source, "answer_prefix": self.answer_prefix,
                "fewshot": self.fewshot, "task_budget": self.task_budget,
                "repetition_penalty": self.repetition_penalty, "repeat_window": self.repeat_window,
                "strip_thinking": self.strip_thinking,
                "all_excludes": sorted("/".join(x) for x in self.all_excludes)}

    def sampling(self, task: dict, max_new_tokens: int | None = None):
        """Decoding settings for one task: greedy always; the budget is `max_new_tokens` when given."""
        from glyph_cli.models.backend import Sampling

        budget = max_new_tokens
        if budget is None:
            budget = int(task.get("max_new_tokens") or GLYPH_MAX_NEW_TOKENS) if self.task_budget else GLYPH_MAX_NEW_TOKENS
        return Sampling(max_new_tokens=budget, temperature=0.0, top_k=1, top_p=1.0,
                        repetition_penalty=self.repetition_penalty, repeat_window=self.repeat_window)

    def parts(self, task: dict, images: list[str] | None, count: Callable[[str], int] | None = None) -> list:
        """The user turn for one task: the pages between the instruction and the question, or with
        `images=None` the whole text prompt (the text baseline)."""
        before = ""
        if self.fewshot and task.get("suite") == "ruler":
            from glyph_cli.bench.tasks import ruler

            if count is None:
                raise ValueError("the ruler protocol needs a token counter for its few-shot examples")
            before = ruler.fewshot(task, count)
        after = task.get("answer_prefix", "") if self.answer_prefix else ""
        instruction, question = task.get("instruction", ""), task["question"]
        if images is None:
            return user_turn(before + instruction, task["text"], question + after)
        return user_turn(before + instruction.strip(), [Part("image", url) for url in images], question.strip() + after)

    def prediction(self, raw: str, reasoning: str | None = None) -> str:
        """The text that is scored."""
        if not self.strip_thinking:
            return raw
        from glyph_cli.models.parse import split_thinking

        return split_thinking(raw, reasoning).answer


GLYPH = Protocol(
    name="glyph", source="thu-coai/Glyph evaluation/{ruler,mrcr,longbench}/scripts/post_api_*.py",
    answer_prefix=False, fewshot=False, task_budget=False, repetition_penalty=1.1, repeat_window=256,
    strip_thinking=True, all_excludes=frozenset({("ruler", "niah_single_3"), ("ruler", "niah_multikey_3")}),
)
RULER = Protocol(
    name="ruler", source="NVIDIA/RULER scripts/pred/call_api.py, scripts/data/prepare.py, scripts/eval/evaluate.py",
    answer_prefix=True, fewshot=True, task_budget=True, repetition_penalty=1.0, repeat_window=0,
    strip_thinking=False,
)
_BY_NAME = {p.name: p for p in (GLYPH, RULER)}


def get(name: str) -> Protocol:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UsageError(f"unknown protocol {name!r}", f"choose from {', '.join(PROTOCOLS)}") from None
