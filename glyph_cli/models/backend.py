"""The interface every model backend implements, and the values that cross it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Iterable, Iterator

from glyph_cli.errors import UsageError
from glyph_cli.models.prompts import Part
from glyph_cli.records import FINISH_REASONS  # noqa: F401 (why generation ended: stop, length, repetition)


@dataclass(frozen=True)
class Sampling:
    """Generation settings. The defaults are Glyph's evaluation settings (greedy: top_k 1)."""

    max_new_tokens: int = 8192
    temperature: float = 0.0
    top_k: int = 1
    top_p: float = 1.0
    repetition_penalty: float = 1.1
    min_new_tokens: int = 0
    seed: int = 0
    repeat_window: int = 256  # tokens; the repetition guard's window, 0 turns it off

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise UsageError("--max-new-tokens must be at least 1")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise UsageError("min_new_tokens must lie between 0 and --max-new-tokens")
        if self.temperature < 0:
            raise UsageError("--temperature must not be negative")
        if self.top_k < 0:
            raise UsageError("--top-k must not be negative (0 turns it off)")
        if not 0 < self.top_p <= 1:
            raise UsageError("--top-p must lie in (0, 1]")
        if self.repetition_penalty <= 0:
            raise UsageError("--repetition-penalty must be positive")
        if self.repeat_window < 0:
            raise UsageError("--repeat-window must not be negative (0 turns the guard off)")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0 or self.top_k == 1

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Job:
    """One question about one document, with the prompt that asks it."""

    index: int  # position in the input order
    qid: str
    doc_id: str
    question: str
    parts: list[Part]
    mode: str  # "pages" or "text"
    pages: int | None  # the document's page count; None when it was not rendered
    meta: dict = field(default_factory=dict)

    @property
    def images(self) -> list[str]:
        return [p.value for p in self.parts if p.kind == "image"]


@dataclass
class Generation:
    """What a backend returns for one job."""

    raw: str
    finish: str = "stop"
    reasoning: str | None = None  # thinking the server returned apart from the content
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    ttft_s: float | None = None
    attempts: int = 1


class Backend(ABC):
    """A model that completes jobs. Results come back as (job, Generation or the error it raised)."""

    name: str

    @abstractmethod
    def describe(self) -> dict:
        """The resolved settings and versions, recorded with every answer."""

    @abstractmethod
    def generate(self, jobs: Iterable[Job], ordered: bool = True) -> Iterator[tuple[Job, Generation | Exception]]:
        """Complete every job. With `ordered`, results come in job order; otherwise as they finish."""

    def close(self) -> None:
        """Release connections or memory."""
