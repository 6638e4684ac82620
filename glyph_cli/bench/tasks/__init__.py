"""Benchmark tasks: a long context that is rendered, a question that stays text, references to score.

A task is written as one input-document record (docs/BENCH.md), so the same file feeds
`glyph render` (the context is its `text`) and `glyph bench accuracy` (the rest is its metadata).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable

from glyph_cli import __version__

Counter = Callable[[str], int]

TASK_RECORD_VERSION = 1


@dataclass
class Task:
    id: str
    suite: str  # ruler | mrcr | longbench
    task: str  # e.g. niah_single_1, 2needle, narrativeqa
    context: str  # what is rendered into pages
    instruction: str  # text before the context in the original prompt
    question: str  # text after the context
    answers: list[str]
    metric: str  # a name in glyph_cli.bench.scoring.METRICS
    max_new_tokens: int
    answer_prefix: str = ""
    length: int | None = None  # tokens of the whole text prompt, as the suite defines its length
    target_length: int | None = None  # the length it was generated for (synthetic suites)
    seed: int | None = None
    details: dict = field(default_factory=dict)  # needle offsets, all_classes, prefixes, ...

    def prompt_text(self) -> str:
        """The whole prompt as plain text, the way the suite feeds a text-only model."""
        return self.instruction + self.context + self.question

    def to_record(self, tokenizer: str | None = None) -> dict:
        record = {
            "id": self.id,
            "text": self.context,
            "suite": self.suite,
            "task": self.task,
            "instruction": self.instruction,
            "question": self.question,
            "answer_prefix": self.answer_prefix,
            "answers": self.answers,
            "metric": self.metric,
            "max_new_tokens": self.max_new_tokens,
            "length": self.length,
            "target_length": self.target_length,
            "tokenizer": tokenizer,
            "seed": self.seed,
            "details": self.details,
            "task_v": TASK_RECORD_VERSION,
            "glyph": __version__,
        }
        return record


def sample_seed(*parts: object) -> int:
    """A 64-bit seed from its parts, identical on every machine and Python version."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def task_from_record(record: dict) -> Task:
    """The inverse of Task.to_record (a document read back from a task file)."""
    return Task(
        id=str(record["id"]),
        suite=record["suite"],
        task=record["task"],
        context=record["text"],
        instruction=record.get("instruction", ""),
        question=record.get("question", ""),
        answers=list(record.get("answers", [])),
        metric=record["metric"],
        max_new_tokens=int(record.get("max_new_tokens", 128)),
        answer_prefix=record.get("answer_prefix", ""),
        length=record.get("length"),
        target_length=record.get("target_length"),
        seed=record.get("seed"),
        details=dict(record.get("details") or {}),
    )
