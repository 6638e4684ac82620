"""`glyph ask`: questions paired with documents, asked through a backend, answers as records.

Questions come from `-q` (asked of every document) or a JSONL file of
`{"id", "doc", "question", ...}` records (other fields travel with the answer as `meta`, so an
evaluation set's references reach the scorer). Documents stream by and each is asked its own
questions; questions are held in memory, pages only for the document in hand (and the backend's
small window of jobs in flight). Answers come out in document order, each document's questions in
their file order, or as they finish with `ordered=False`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import orjson

from glyph_cli import log, records
from glyph_cli.errors import InputError, UsageError
from glyph_cli.models.backend import Backend, Generation, Job
from glyph_cli.models.parse import split_thinking
from glyph_cli.models.prompts import Template, default_template
from glyph_cli.streams.io import display_name, iter_lines, open_binary

ANSWER_VERSION = records.ANSWER_VERSION


@dataclass
class Question:
    qid: str
    text: str
    doc: str | None = None  # None: asked of every document
    meta: dict = field(default_factory=dict)
    source: str = ""
    line: int | None = None


def parse_question(raw: bytes, source: str, line: int) -> Question | InputError:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return InputError(source, line, f"malformed JSON: {exc}", "each line must be one JSON object")
    if not isinstance(obj, dict):
        return InputError(source, line, "expected a JSON object", 'each line is {"id", "doc", "question", ...}')
    text = obj.pop("question", None)
    if not isinstance(text, str) or not text.strip():
        return InputError(source, line, "no 'question' string")
    doc = obj.pop("doc", None)
    if isinstance(doc, int) and not isinstance(doc, bool):
        doc = str(doc)
    if not isinstance(doc, str) or not doc:
        return InputError(source, line, "no 'doc' id", "name the document the question is about")
    qid = obj.pop("id", None)
    if isinstance(qid, int) and not isinstance(qid, bool):
        qid = str(qid)
    if qid is not None and (not isinstance(qid, str) or not qid):
        return InputError(source, line, "'id' must be a non-empty string or an integer")
    return Question(qid or f"{source}:{line}", text, doc, obj, source, line)


def read_questions(path: str, policy: log.ErrorPolicy) -> list[Question]:
    source = display_name(path)
    questions: list[Question] = []
    seen: set[str] = set()
    with open_binary(path) as fh:
        for number, raw in enumerate(iter_lines(fh), start=1):
            if not raw.strip():
                continue
            item = parse_question(raw, source, number)
            if isinstance(item, Question) and item.qid in seen:
                item = InputError(source, number, f"question id {item.qid!r} appears twice")
            if isinstance(item, InputError):
                policy.record_failed(item)
                continue
            seen.add(item.qid)
            questions.append(item)
    if not questions and not policy.failed:
        raise UsageError(f"{source}: no questions")
    return questions


def cli_questions(texts: list[str]) -> list[Question]:
    """`-q` questions: asked of every document; a document's i-th answer has id `DOC:i`."""
    for text in texts:
        if not text.strip():
            raise UsageError("-q: a question cannot be empty")
    return [Question(str(i), text) for i, text in enumerate(texts)]


class Pairing:
    """Hands each document its questions, and reports the questions no document claimed."""

    def __init__(self, questions: list[Question]):
        self.for_all = [q for q in questions if q.doc is None]
        self.by_doc: dict[str, list[Question]] = {}
        for q in questions:
            if q.doc is not None:
                self.by_doc.setdefault(q.doc, []).append(q)

    def take(self, doc_id: str) -> list[tuple[str, Question]]:
        """(answer id, question) for a document. A file's questions go to the first document with their id."""
        own = [(q.qid, q) for q in self.by_doc.pop(doc_id, [])]
        return [(f"{doc_id}:{q.qid}", q) for q in self.for_all] + own

    def unclaimed(self) -> list[Question]:
        return [q for qs in self.by_doc.values() for q in qs]


def build_jobs(documents: Iterable[tuple[dict, list[dict]]], pairing: Pairing, template: Template,
               as_text: bool, policy: log.ErrorPolicy) -> Iterator[Job]:
    index = 0
    for doc, pages in documents:
        doc_id = str(doc.get("id"))
        asked = pairing.take(doc_id)
        if not asked:
            log.debug(f"document {doc_id!r}: no questions")
            continue
        if as_text:
            text = doc.get("text")
            if not isinstance(text, str):
                for _, q in asked:
                    policy.record_failed(InputError(q.source or "-q", q.line,
                                                    f"document {doc_id!r} carries no text for --as-text"))
                continue
            images = None
        else:
            images = [page["image"] for page in pages]
            text = None
        for qid, q in asked:
            parts = template.parts(q.text, images=images, context_text=text)
            # a document read for --as-text without rendering has no page count: null, not 0
            yield Job(index, qid, doc_id, q.text, parts, "text" if as_text else "pages", len(pages) or None, q.meta)
            index += 1
    for q in pairing.unclaimed():
        policy.record_failed(InputError(q.source, q.line, f"question {q.qid!r}: document {q.doc!r} is not in the inputs",
                                        "check the question's doc id against the documents' ids"))


def answer_record(job: Job, gen: Generation, run: dict) -> dict:
    parsed = split_thinking(gen.raw, gen.reasoning)
    return records.answer_record(
        qid=job.qid, doc=job.doc_id, question=job.question, answer=parsed.answer, thinking=parsed.thinking,
        raw=gen.raw, finish=gen.finish, prompt_tokens=gen.prompt_tokens, completion_tokens=gen.completion_tokens,
        latency_s=gen.latency_s, ttft_s=gen.ttft_s, attempts=gen.attempts, mode=job.mode, pages=job.pages,
        meta=job.meta, run=run)


@dataclass
class Summary:
    answered: int = 0
    repetition: int = 0
    length: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    seconds: float = 0.0

    def add(self, rec: dict) -> None:
        self.answered += 1
        self.repetition += rec["finish"] == "repetition"
        self.length += rec["finish"] == "length"
        self.prompt_tokens += rec["prompt_tokens"] or 0
        self.completion_tokens += rec["completion_tokens"] or 0
        self.latency_s += rec["latency_s"]

    def line(self) -> str:
        n = max(self.answered, 1)
        rate = f" ({self.answered / self.seconds:.2f} q/s)" if self.seconds > 0 else ""
        text = (f"answered {self.answered} question(s) in {self.seconds:.2f}s{rate}; mean prompt "
                f"{self.prompt_tokens / n:.0f} tokens, mean completion {self.completion_tokens / n:.0f} tokens, "
                f"mean latency {self.latency_s / n:.2f}s")
        if self.repetition:
            text += f"; {self.repetition} stopped by the repetition guard"
        if self.length:
            text += f"; {self.length} hit --max-new-tokens"
        return text


def ask(documents: Iterable[tuple[dict, list[dict]]], backend: Backend, questions: list[Question], *,
        template: Template | None = None, as_text: bool = False, ordered: bool = True,
        policy: log.ErrorPolicy | None = None, summary: Summary | None = None) -> Iterator[dict]:
    """Answer records for `questions` about `documents`. Failed questions go to `policy`."""
    policy = policy or log.ErrorPolicy("fail")
    template = template or default_template(as_text)
    summary = summary if summary is not None else Summary()
    jobs = build_jobs(documents, Pairing(questions), template, as_text, policy)
    run = None
    start = time.perf_counter()
    try:
        for job, result in backend.generate(jobs, ordered=ordered):
            if isinstance(result, Exception):
                policy.record_failed(result)
                continue
            if run is None:  # after the first answer: a server's model name is known by then
                run = {**backend.describe(), "template": template.describe(), "as_text": as_text}
            rec = answer_record(job, result, run)
            summary.add(rec)
            yield rec
    finally:
        summary.seconds = time.perf_counter() - start
