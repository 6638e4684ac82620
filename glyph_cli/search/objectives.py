"""The two objectives of a candidate config: compression, and accuracy as a reader sees the pages.

Compression is exact: text tokens of the validation set / visual tokens of all its rendered pages,
in the chosen VLM family. Accuracy comes from a reader:

- an OCR engine (tesseract, rapidocr): character accuracy = 1 - edits / reference characters over
  every page, each page scored against the exact span of text it shows (glyph_cli.bench.ocr). A CPU
  proxy for what a VLM can read;
- a VLM behind an OpenAI-compatible server: the mean score of a task suite (`glyph bench tasks`),
  each task's context rendered as pages, the question as text, scored with the suite's metric.

An objective is built inside the process that evaluates (a factory is what crosses processes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from glyph_cli.errors import GlyphError
from glyph_cli.streams.documents import Document
from glyph_cli.typeset.config import RenderConfig


@dataclass
class Measurement:
    accuracy: float
    compression: float
    pages: int = 0
    text_tokens: int = 0
    visual_tokens: int = 0
    render_s: float = 0.0
    read_s: float = 0.0
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "compression": self.compression, "pages": self.pages,
                "text_tokens": self.text_tokens, "visual_tokens": self.visual_tokens,
                "render_s": round(self.render_s, 4), "read_s": round(self.read_s, 4), **self.detail}


class Objective(Protocol):
    def describe(self) -> dict: ...

    def evaluate(self, cfg: RenderConfig) -> Measurement: ...


class _Rendering:
    """Renders documents under any config, counting each text's tokens once (they do not depend on it)."""

    def __init__(self, family: str, tokenizer: str):
        from glyph_cli.tokens.text import get_tokenizer
        from glyph_cli.tokens.visual import visual_tokens

        self.family = family
        self.tok = get_tokenizer(tokenizer)
        visual_tokens(family, 28, 28)  # an unknown family fails here, before any work
        self._counts: dict[str, int] = {}

    def count(self, text: str) -> int:
        n = self._counts.get(text)
        if n is None:
            n = self._counts[text] = self.tok.count(text)
        return n

    def renderer(self, cfg: RenderConfig):
        from glyph_cli.tokens.visual import visual_tokens
        from glyph_cli.typeset.render import Renderer

        family = self.family
        return Renderer(cfg, self.count, self.tok.name, lambda w, h: {family: visual_tokens(family, w, h)})


class OcrObjective:
    """Compression and OCR character accuracy on a validation set of documents."""

    def __init__(self, docs: list[Document], reader: str = "tesseract", family: str = "glm4v",
                 tokenizer: str = "qwen2.5"):
        from glyph_cli.bench import ocr

        if not docs:
            raise GlyphError("the validation set is empty")
        self.docs = docs
        self.rendering = _Rendering(family, tokenizer)
        self.reader = ocr.make_reader(reader)

    def describe(self) -> dict:
        import hashlib

        texts = hashlib.sha256("\0".join(d.text for d in self.docs).encode()).hexdigest()
        return {"reader": self.reader.name, "family": self.rendering.family, "tokenizer": self.rendering.tok.name,
                "docs": len(self.docs), "chars": sum(len(d.text) for d in self.docs), "texts_sha256": texts}

    def evaluate(self, cfg: RenderConfig) -> Measurement:
        from glyph_cli.bench import ocr
        from glyph_cli.streams.pages import page_png

        renderer = self.rendering.renderer(cfg)
        render_s = read_s = 0.0
        text_tokens = visual = pages = edits = ref_chars = 0
        for doc in self.docs:
            started = time.perf_counter()
            records = list(renderer.render(doc))
            render_s += time.perf_counter() - started
            head = records[0]
            text_tokens += head["text_tokens"]
            visual += head["visual_tokens"][self.rendering.family]
            pages += head["pages"]
            started = time.perf_counter()
            for page in records[1:]:
                reference = ocr.page_reference(doc.text, page["span"], cfg.newline, cfg.marker_text)
                score = ocr.score_page(reference, self.reader.read(page_png(page)))
                edits += score.edits
                ref_chars += score.ref_chars
            read_s += time.perf_counter() - started
        accuracy = max(0.0, 1.0 - edits / ref_chars) if ref_chars else 0.0
        return Measurement(round(accuracy, 6), round(text_tokens / visual, 6) if visual else 0.0, pages,
                           text_tokens, visual, render_s, read_s, {"edits": edits, "ref_chars": ref_chars})


class TaskObjective:
    """Compression and the mean task score of a VLM reading the rendered contexts."""

    def __init__(self, tasks: list[dict], backend, family: str = "glm4v", tokenizer: str = "qwen2.5"):
        if not tasks:
            raise GlyphError("the validation task set is empty")
        self.tasks = tasks
        self.backend = backend
        self.rendering = _Rendering(family, tokenizer)

    def describe(self) -> dict:
        return {"reader": "vlm", "backend": self.backend.describe(), "family": self.rendering.family,
                "tokenizer": self.rendering.tok.name, "tasks": [str(t["id"]) for t in self.tasks]}

    def evaluate(self, cfg: RenderConfig) -> Measurement:
        from glyph_cli.bench.protocol import GLYPH
        from glyph_cli.bench.scoring import score_task
        from glyph_cli.models.backend import Job

        renderer = self.rendering.renderer(cfg)
        jobs = []
        text_tokens = visual = pages = 0
        started = time.perf_counter()
        for index, task in enumerate(self.tasks):
            records = list(renderer.render(Document(id=str(task["id"]), text=task["text"])))
            head = records[0]
            text_tokens += head["text_tokens"]
            visual += head["visual_tokens"][self.rendering.family]
            pages += head["pages"]
            parts = GLYPH.parts(task, [p["image"] for p in records[1:]])
            jobs.append(Job(index, str(task["id"]), str(task["id"]), task["question"], parts, "pages",
                            head["pages"], {"task": task}))
        render_s = time.perf_counter() - started
        started = time.perf_counter()
        scores = []
        for job, gen in self.backend.generate(jobs, ordered=True):
            if isinstance(gen, Exception):
                raise GlyphError(f"task {job.qid}: {gen}")
            scores.append(score_task(job.meta["task"], GLYPH.prediction(gen.raw, gen.reasoning)))
        read_s = time.perf_counter() - started
        return Measurement(round(sum(scores) / len(scores), 6), round(text_tokens / visual, 6) if visual else 0.0,
                           pages, text_tokens, visual, render_s, read_s, {"tasks": len(scores)})


@dataclass(frozen=True)
class OcrObjectiveFactory:
    """Builds an OcrObjective in the process that evaluates (picklable: paths and names only)."""

    inputs: tuple[str, ...]
    reader: str = "tesseract"
    family: str = "glm4v"
    tokenizer: str = "qwen2.5"

    def __call__(self) -> OcrObjective:
        from glyph_cli import log
        from glyph_cli.bench.compression import documents

        docs = list(documents(list(self.inputs), log.ErrorPolicy("fail")))
        return OcrObjective(docs, self.reader, self.family, self.tokenizer)


@dataclass(frozen=True)
class TaskObjectiveFactory:
    """Builds a TaskObjective (a VLM on an OpenAI-compatible server) in the process that evaluates."""

    task_files: tuple[str, ...]
    base_url: str
    model: str | None = None
    family: str = "glm4v"
    tokenizer: str = "qwen2.5"
    concurrency: int = 4
    max_new_tokens: int = 256
    timeout: float = 600.0
    retries: int = 5

    def __call__(self) -> TaskObjective:
        from glyph_cli.bench.accuracy import read_tasks
        from glyph_cli.models.backend import Sampling
        from glyph_cli.models.openai_backend import OpenAIBackend

        backend = OpenAIBackend(self.base_url, self.model, concurrency=self.concurrency, timeout=self.timeout,
                                retries=self.retries, sampling=Sampling(max_new_tokens=self.max_new_tokens))
        return TaskObjective(read_tasks(self.task_files), backend, self.family, self.tokenizer)
