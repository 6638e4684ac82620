"""Training examples cut from pages' exact spans (`glyph train data`).

Every page record carries `span`, the characters of its document's text it shows, so targets are
exact, never OCR'd back:
- ocr: one page -> exactly the text it shows;
- interleave: a document cut into runs at page boundaries; each run but the last is shown as its
  page or as its text (seeded), the last run's text is the target;
- generate: the first pages -> the text of the page after them;
- instruct: a document's pages + a question -> the answer (after a `<think>` block when the
  record has one), with OCR examples of the same document mixed in at a set ratio.

An example is a plain dict (the train-example record, `EXAMPLE_VERSION`): `parts` is the user
turn as `glyph ask` builds it from the prompt template, with images as indexes into `images`
(PNG bytes), and `target` is what the model must write. Documents stream through one at a time.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from glyph_cli import log
from glyph_cli.errors import InputError, UsageError
from glyph_cli.models.prompts import Part, Template, default_template
from glyph_cli.streams.pages import PNG_DATA_URL

EXAMPLE_VERSION = 1
TASKS = ("ocr", "interleave", "generate", "instruct")

# The questions the pre-training tasks ask; they go through the same template as `glyph ask`.
OCR_QUESTION = "Write out all the text shown in the pages, exactly as it appears."
CONTINUE_QUESTION = "Continue the text from where the context ends."


@dataclass
class DataOptions:
    tasks: tuple[str, ...] = ("ocr",)
    seed: int = 0
    ocr_ratio: float = 0.0  # with instruct: the share of OCR examples in the output
    max_target_chars: int = 4000  # interleave/generate targets are cut here (at a word when possible)
    template: Template | None = None
    style_sampling: bool = False
    style_max_dpi: int = 150
    tokenizer: str = "qwen2.5"
    questions: list = field(default_factory=list)  # glyph_cli.models.ask.Question, for instruct

    def __post_init__(self) -> None:
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown or not self.tasks:
            raise UsageError(f"--task must be among {', '.join(TASKS)}, not {', '.join(unknown) or 'nothing'}")
        if not 0 <= self.ocr_ratio < 1:
            raise UsageError("--ocr-ratio must lie in [0, 1)")
        if self.ocr_ratio and "instruct" not in self.tasks:
            raise UsageError("--ocr-ratio mixes OCR into instruct data: add --task instruct")
        if "instruct" in self.tasks and not self.questions:
            raise UsageError("--task instruct needs --questions FILE (JSONL of doc, question, answer)")


def page_bytes(page: dict) -> bytes:
    url = page["image"]
    if not url.startswith(PNG_DATA_URL):
        raise InputError(f"page {page.get('doc')!r}:{page.get('index')}", None, "page image is not a PNG data URL")
    return base64.b64decode(url[len(PNG_DATA_URL):])


def page_text(doc: dict, page: dict) -> str:
    start, end = page["span"]
    return doc["text"][start:end]


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ")
    return head[:space] if space > limit // 2 else head


def _example(ex_id: str, task: str, doc: dict, parts: list[Part], images: list[bytes], target: str,
             meta: dict | None = None) -> dict:
    # Parts name images by index; text parts keep their text.
    encoded, n = [], 0
    for p in parts:
        if p.kind == "image":
            encoded.append({"kind": "image", "value": str(n)})
            n += 1
        else:
            encoded.append({"kind": "text", "value": p.value})
    if n != len(images):
        raise AssertionError("every image part needs its image")
    return {"type": "train_example", "v": EXAMPLE_VERSION, "id": ex_id, "task": task, "doc": str(doc["id"]),
            "parts": encoded, "images": images, "target": target,
            "config_sha256": doc.get("config_sha256"), "meta": meta or {}}


class ExampleBuilder:
    """Turns (doc record, page records) into examples, with a seeded generator per document."""

    def __init__(self, options: DataOptions):
        self.o = options
        self.template = options.template or default_template(as_text=False)
        self.pairing = None
        if "instruct" in options.tasks:
            from glyph_cli.models.ask import Pairing

            self.pairing = Pairing(options.questions)
        self._renderers: dict[str, object] = {}
        self.configs: dict[str, dict] = {}  # config sha -> config, for the manifest
        self.counts: dict[str, int] = {t: 0 for t in TASKS}
        self._ocr_credit = 0.0  # OCR examples owed to the instruct mix
        self._mixed = 0

    def _rng(self, doc_id: str, what: str) -> random.Random:
        return random.Random(f"{self.o.seed}:{what}:{doc_id}")

    def restyle(self, doc: dict, pages: list[dict]) -> tuple[dict, list[dict]]:
        """The document re-rendered with its sampled style (--style-sampling)."""
        from glyph_cli.streams.documents import Document
        from glyph_cli.train.styles import sample_config
        from glyph_cli.typeset.job import make_renderer, render_records

        cfg = sample_config(self.o.seed, str(doc["id"]), max_dpi=self.o.style_max_dpi)
        sha = cfg.sha256()
        renderer = self._renderers.get(sha)
        if renderer is None:
            if len(self._renderers) > 16:  # each holds fonts and tables; styles rarely repeat
                self._renderers.clear()
            renderer = self._renderers[sha] = make_renderer(cfg, self.o.tokenizer)
        records = render_records(renderer, Document(str(doc["id"]), doc["text"], doc.get("meta") or {}))
        if isinstance(records, Exception):
            raise records
        return records[0], records[1:]

    def examples(self, doc: dict, pages: list[dict]) -> Iterator[dict]:
        if not isinstance(doc.get("text"), str):
            raise InputError(f"document {doc.get('id')!r}", None, "carries no text",
                             "training targets come from the document's text: render it with glyph render")
        if self.o.style_sampling:
            doc, pages = self.restyle(doc, pages)
        if doc.get("config_sha256") and doc.get("config"):
            self.configs.setdefault(doc["config_sha256"], doc["config"])
        if not pages:
            return
        doc_id = str(doc["id"])
        for task in self.o.tasks:
            for ex in getattr(self, f"_{task}")(doc_id, doc, pages):
                self.counts[ex["task"]] += 1
                yield ex

    def _ocr_one(self, doc_id: str, doc: dict, page: dict) -> dict:
        parts = self.template.parts(OCR_QUESTION, images=["page"])
        return _example(f"{doc_id}:ocr:{page['index']}", "ocr", doc, parts, [page_bytes(page)],
                        page_text(doc, page), {"page": page["index"], "span": page["span"]})

    def _ocr(self, doc_id: str, doc: dict, pages: list[dict]) -> Iterator[dict]:
        for page in pages:
            yield self._ocr_one(doc_id, doc, page)

    def _interleave(self, doc_id: str, doc: dict, pages: list[dict]) -> Iterator[dict]:
        if len(pages) < 2:
            return
        rng = self._rng(doc_id, "interleave")
        shown = pages[:-1]
        as_image = [rng.random() < 0.5 for _ in shown]
        as_image[0] = True  # at least one page is seen as an image
        # The template's context slot holds the runs in document order: pages where shown as pages,
        # the run's text otherwise.
        parts: list[Part] = []
        images: list[bytes] = []
        for page, image in zip(shown, as_image):
            if image:
                parts.append(Part("image", "page"))
                images.append(page_bytes(page))
            else:
                parts.append(Part("text", page_text(doc, page)))
        parts = self.template.parts(CONTINUE_QUESTION, context=parts)
        target = _cut(page_text(doc, pages[-1]), self.o.max_target_chars)
        yield _example(f"{doc_id}:interleave", "interleave", doc, parts, images, target,
                       {"runs": ["page" if i else "text" for i in as_image] + ["target"]})

    def _generate(self, doc_id: str, doc: dict, pages: list[dict]) -> Iterator[dict]:
        if len(pages) < 2:
            return
        k = self._rng(doc_id, "generate").randint(1, len(pages) - 1)
        parts = self.template.parts(CONTINUE_QUESTION, images=["page"] * k)
        target = _cut(page_text(doc, pages[k]), self.o.max_target_chars)
        yield _example(f"{doc_id}:generate", "generate", doc, parts, [page_bytes(p) for p in pages[:k]], target,
                       {"pages_shown": k})

    def _instruct(self, doc_id: str, doc: dict, pages: list[dict]) -> Iterator[dict]:
        rng = self._rng(doc_id, "ocr-mix")
        share = self.o.ocr_ratio / (1 - self.o.ocr_ratio)  # OCR examples per instruct example
        for qid, q in self.pairing.take(doc_id):
            answer = q.meta.get("answer")
            if not isinstance(answer, str):
                raise InputError(q.source, q.line, "no 'answer' string", "instruct data needs the answer to train on")
            thinking = q.meta.get("thinking")
            target = f"<think>{thinking}</think>{answer}" if isinstance(thinking, str) else answer
            parts = self.template.parts(q.text, images=["page"] * len(pages))
            refs = q.meta.get("answers") if isinstance(q.meta.get("answers"), list) else [answer]
            yield _example(qid, "instruct", doc, parts, [page_bytes(p) for p in pages], target,
                           {"question": q.text, "answers": [str(a) for a in refs]})
            # Carry the fraction over, so the mix holds the ratio over the whole set.
            self._ocr_credit += share
            while self._ocr_credit >= 1:
                self._ocr_credit -= 1
                self._mixed += 1
                ex = self._ocr_one(doc_id, doc, pages[rng.randrange(len(pages))])
                yield {**ex, "id": f"{ex['id']}:mix{self._mixed}"}

    def unclaimed(self) -> list:
        return self.pairing.unclaimed() if self.pairing else []


def build_examples(documents: Iterable[tuple[dict, list[dict]]], builder: ExampleBuilder,
                   policy: log.ErrorPolicy) -> Iterator[dict]:
    for doc, pages in documents:
        try:
            yield from builder.examples(doc, pages)
        except InputError as exc:
            policy.record_failed(exc)
    for q in builder.unclaimed():
        policy.record_failed(InputError(q.source, q.line, f"question {q.qid!r}: document {q.doc!r} is not in the inputs"))
