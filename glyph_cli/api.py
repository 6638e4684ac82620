"""glyph's public Python API: thin typed wrappers over the library code the CLI runs.

Everything here is what `glyph render | pack | unpack | ask` do, without a shell:

    import glyph_cli
    for page in glyph_cli.render("Some long text ...", dpi=96):
        page.image().save(f"page-{page.index}.png")

Same input and config give the same bytes as `glyph render` (a test compares them). docs/API.md
documents every name. Heavy libraries load on first use, never at `import glyph_cli`.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Union

from glyph_cli.errors import UsageError
from glyph_cli.streams.documents import Document
from glyph_cli.typeset.config import RenderConfig, resolve_config

if TYPE_CHECKING:
    from PIL.Image import Image

    from glyph_cli.models.backend import Backend

__all__ = ["Page", "Renderer", "render", "count_text_tokens", "visual_tokens", "compression", "open_bundle",
           "Bundle", "BundleWriter", "ask", "make_backend", "RenderConfig", "Document"]

DocumentLike = Union[str, Document, Mapping[str, Any]]


# -- pages ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One typeset page: where it sits in its document, its size and token cost, its PNG."""

    doc: str
    index: int
    span: tuple[int, int]  # characters [start, end) of the document's text on this page
    width: int
    height: int
    dpi: float
    visual_tokens: dict[str, int]  # per VLM family
    png: bytes = field(repr=False)
    sha256: str = ""
    text: str = field(default="", repr=False)  # the document's text within `span`
    config_sha256: str = ""

    def image(self) -> Image:
        """The page as a PIL image (decoded now; the PNG bytes stay the source of truth)."""
        import io

        from PIL import Image as PILImage

        img = PILImage.open(io.BytesIO(self.png))
        img.load()
        return img

    def record(self) -> dict:
        """The page-stream record `glyph render` writes for this page."""
        from glyph_cli.records import page_record

        return page_record(self.doc, self.index, self.span, self.png, width=self.width, height=self.height,
                           dpi=self.dpi, visual_tokens=dict(self.visual_tokens))

    @classmethod
    def from_record(cls, record: Mapping[str, Any], doc: Mapping[str, Any] | None = None) -> Page:
        """A Page from a page-stream record (and its doc record, for the page text and config hash)."""
        from glyph_cli.streams.pages import page_png

        start, end = record["span"]
        text = doc.get("text") if doc else None
        return cls(doc=record["doc"], index=record["index"], span=(start, end), width=record["width"],
                   height=record["height"], dpi=record["dpi"], visual_tokens=dict(record["visual_tokens"]),
                   png=page_png(record), sha256=record.get("sha256", ""),
                   text=text[start:end] if isinstance(text, str) else "",
                   config_sha256=(doc or {}).get("config_sha256", ""))


def pages_of(doc: Mapping[str, Any], pages: Iterable[Mapping[str, Any]]) -> Iterator[Page]:
    for record in pages:
        yield Page.from_record(record, doc)


# -- documents ------------------------------------------------------------------------------------


def as_document(item: DocumentLike, number: int) -> Document:
    """A Document from a string (id `doc-N`), a Document, or a mapping `{"id", "text", ...meta}`
    read as `glyph render` reads a JSONL line."""
    if isinstance(item, Document):
        return item
    if isinstance(item, str):
        return Document(id=f"doc-{number}", text=item, meta={}, source="<api>", line=number)
    if isinstance(item, Mapping):
        import orjson

        from glyph_cli.errors import InputError
        from glyph_cli.streams.documents import parse_record

        parsed = parse_record(orjson.dumps(dict(item)), "<api>", number, "text", "id")
        if isinstance(parsed, InputError):
            raise parsed
        return parsed
    raise UsageError(f"document {number}: expected a str, a Document or a mapping with 'text', "
                     f"not {type(item).__name__}")


def as_documents(text_or_documents: DocumentLike | Iterable[DocumentLike]) -> Iterator[Document]:
    if isinstance(text_or_documents, (str, Document, Mapping)):
        text_or_documents = [text_or_documents]
    for number, item in enumerate(text_or_documents):
        yield as_document(item, number)


# -- rendering ------------------------------------------------------------------------------------


def _config(config: RenderConfig | str | os.PathLike | Mapping | None, preset: str | None,
            overrides: Mapping[str, Any]) -> RenderConfig:
    if isinstance(config, RenderConfig):
        if preset not in (None, "glyph") or overrides:
            return resolve_config(None, None, {**config.to_dict(), **overrides})
        return config
    if isinstance(config, Mapping):
        return resolve_config(preset, None, {**config, **overrides})
    return resolve_config(preset, config, dict(overrides))


class Renderer:
    """One typesetter, fonts and tables set up once, reused for every call.

    `config` is a RenderConfig, a mapping of config keys, a JSON config file, or None for `preset`;
    keyword overrides win (the same keys as `glyph render --set`).
    """

    def __init__(self, config: RenderConfig | str | os.PathLike | Mapping | None = None, *,
                 preset: str | None = "glyph", tokenizer: str = "qwen2.5", **overrides: Any):
        from glyph_cli.typeset.job import make_renderer

        self.config = _config(config, preset, overrides)
        self.tokenizer = tokenizer
        self._renderer = make_renderer(self.config, tokenizer)

    @property
    def config_sha256(self) -> str:
        return self._renderer.config_sha256

    def records(self, text_or_documents: DocumentLike | Iterable[DocumentLike]) -> Iterator[dict]:
        """The page stream `glyph render` writes: per document its doc record, then its page records."""
        for doc in as_documents(text_or_documents):
            yield from self._renderer.render(doc)

    def documents(self, text_or_documents: DocumentLike | Iterable[DocumentLike]) -> Iterator[tuple[dict, list[Page]]]:
        """(doc record, its pages) per document; one document's pages in memory at a time."""
        doc: dict | None = None
        pages: list[Page] = []
        for rec in self.records(text_or_documents):
            if rec["type"] == "doc":
                if doc is not None:
                    yield doc, pages
                doc, pages = rec, []
            else:
                pages.append(Page.from_record(rec, doc))
        if doc is not None:
            yield doc, pages

    def render(self, text_or_documents: DocumentLike | Iterable[DocumentLike]) -> Iterator[Page]:
        """Pages of every document, in order, as they are drawn."""
        doc: dict | None = None
        for rec in self.records(text_or_documents):
            if rec["type"] == "doc":
                doc = rec
            else:
                yield Page.from_record(rec, doc)

    __call__ = render


def render(text_or_documents: DocumentLike | Iterable[DocumentLike], preset: str | None = "glyph",
           *, config: RenderConfig | str | os.PathLike | Mapping | None = None, tokenizer: str = "qwen2.5",
           **config_overrides: Any) -> Iterator[Page]:
    """Typeset text (or documents) into pages, streaming. For many calls build one Renderer."""
    return Renderer(config, preset=preset, tokenizer=tokenizer, **config_overrides).render(text_or_documents)


# -- token accounting -----------------------------------------------------------------------------


def count_text_tokens(text: str, tokenizer: Any = "qwen2.5") -> int:
    """Text tokens of `text` under a tokenizer name/directory (as `--tokenizer`) or a TextTokenizer."""
    from glyph_cli.tokens.text import get_tokenizer

    tok = get_tokenizer(tokenizer) if isinstance(tokenizer, (str, os.PathLike)) else tokenizer
    return tok.count(text) if hasattr(tok, "count") else len(tok.encode(text))


def visual_tokens(width: int, height: int, family: str | None = None) -> int:
    """Tokens a width x height px page costs one VLM family (default: Glyph's GLM-4.1V)."""
    from glyph_cli.tokens.visual import DEFAULT_FAMILY, visual_tokens as family_tokens

    return family_tokens(family or DEFAULT_FAMILY, width, height)


def compression(text: str | int, pages: Iterable[Page] | int, *, family: str | None = None,
                tokenizer: Any = "qwen2.5") -> float:
    """Text tokens per visual token: `text` is the text or its token count, `pages` the pages or
    their total visual-token count."""
    from glyph_cli.tokens.visual import DEFAULT_FAMILY, compression_ratio

    family = family or DEFAULT_FAMILY
    text_tokens = text if isinstance(text, int) else count_text_tokens(text, tokenizer)
    if isinstance(pages, int):
        vis = pages
    else:
        vis = sum(p.visual_tokens[family] if family in p.visual_tokens else visual_tokens(p.width, p.height, family)
                  for p in pages)
    return compression_ratio(text_tokens, vis)


# -- bundles --------------------------------------------------------------------------------------


class Bundle:
    """A bundle (`glyph pack` output) or a page stream, read lazily: nothing is read until iterated,
    and one document is in memory at a time."""

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        if self.path != "-" and not Path(self.path).is_file():
            raise UsageError(f"{self.path}: no such file")

    def _pairs(self, pages: bool = True) -> Iterator[tuple[dict, list[dict]]]:
        from glyph_cli.inputs import page_pairs

        return page_pairs([self.path], pages=pages)

    def records(self) -> Iterator[dict]:
        """The page stream, record for record what `glyph unpack` writes."""
        for doc, pages in self._pairs():
            yield doc
            yield from pages

    def documents(self) -> Iterator[tuple[dict, list[Page]]]:
        """(doc record, its pages) per document."""
        for doc, pages in self._pairs():
            yield doc, list(pages_of(doc, pages))

    def pages(self) -> Iterator[Page]:
        for doc, pages in self._pairs():
            yield from pages_of(doc, pages)

    def texts(self) -> Iterator[tuple[str, str]]:
        """(document id, text) per document; a bundle's pages are not rebuilt."""
        for doc, _pages in self._pairs(pages=False):
            yield doc["id"], doc["text"]

    def listing(self) -> Iterator[dict]:
        """The index lines `glyph ls --json` prints (bundles only; reads the index, not the pages)."""
        from glyph_cli.bundle.listing import list_bundle

        return list_bundle(self.path)

    def __iter__(self) -> Iterator[Page]:
        return self.pages()


def open_bundle(path: str | os.PathLike) -> Bundle:
    return Bundle(path)


class BundleWriter:
    """Writes a bundle as `glyph pack` does: to a path (atomically, on close) or a binary stream.

        with BundleWriter("docs.glyph") as out:
            for doc, pages in renderer.documents(texts):
                out.add(doc, pages)
    """

    def __init__(self, target: str | os.PathLike | IO[bytes], *, level: int = 3, long: int = 0, threads: int = 0,
                 pages: str = "bands", frame_mib: int = 64, on_duplicate: str = "error", prove: bool = False):
        from glyph_cli.bundle.pack import Packer
        from glyph_cli.bundle.writer import BundleWriter as Writer, PackOptions
        from glyph_cli.streams.io import AtomicFile

        options = PackOptions(level=level, long=long, threads=threads, pages=pages, frame_mib=frame_mib, prove=prove).check()
        self._stack = contextlib.ExitStack()
        if isinstance(target, (str, os.PathLike)):
            self.path: str | None = str(target)
            out = self._stack.enter_context(AtomicFile(target))
        else:
            self.path, out = None, target
        self._packer = Packer(Writer(out, options), on_duplicate)
        self._count = 0
        self.size: int | None = None

    def write(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Add page-stream records (doc, then its pages), e.g. from Renderer.records()."""
        def numbered():
            for rec in records:
                self._count += 1
                yield dict(rec), "<api>", self._count

        self._packer.add_stream(0, numbered())

    def add(self, doc: Mapping[str, Any], pages: Iterable[Page | Mapping[str, Any]]) -> None:
        """Add one document: its doc record and its pages (Page objects or page records)."""
        self.write([doc, *(p.record() if isinstance(p, Page) else p for p in pages)])

    def close(self) -> int:
        """Finish the bundle; returns its size in bytes."""
        if self.size is None:
            self.size = self._packer.finish().bytes
            self._stack.close()
        return self.size

    @property
    def docs(self) -> int:
        return self._packer.writer.docs

    @property
    def pages(self) -> int:
        return self._packer.writer.pages

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._stack.__exit__(exc_type, exc, tb)


# -- asking a model -------------------------------------------------------------------------------


def make_backend(name: str, **options: Any) -> Backend:
    """A model backend by name: `openai` (base_url, model, concurrency, ...) or `transformers`
    (model = a local directory, device, dtype, ...). `sampling` may be a Sampling or a dict.
    The one place the API turns a name into a backend."""
    from glyph_cli.models.backend import Sampling

    sampling = options.pop("sampling", None)
    if isinstance(sampling, Mapping):
        sampling = Sampling(**sampling)
    sampling = sampling or Sampling()
    if name == "openai":
        from glyph_cli.models.openai_backend import DEFAULT_BASE_URL, OpenAIBackend

        return OpenAIBackend(options.pop("base_url", DEFAULT_BASE_URL), options.pop("model", None),
                             sampling=sampling, **options)
    if name == "transformers":
        from glyph_cli.models.transformers_backend import TransformersBackend

        if not options.get("model"):
            raise UsageError("the transformers backend needs model=DIR (a local model directory)")
        return TransformersBackend.load(options.pop("model"), sampling=sampling, **options)
    raise UsageError(f"unknown backend {name!r}", "openai or transformers")


def _pairs(pages_or_documents: Any, renderer: Renderer | None) -> Iterator[tuple[dict, list[dict]]]:
    """(doc record, page records) from a Bundle, Pages, (doc, pages) pairs, or documents to render."""
    if isinstance(pages_or_documents, Bundle):
        yield from pages_or_documents._pairs()
        return
    if isinstance(pages_or_documents, (str, Document, Mapping)):
        pages_or_documents = [pages_or_documents]
    items = iter(pages_or_documents)
    current: dict | None = None
    pages: list[dict] = []
    for item in items:
        if isinstance(item, Page):  # pages of one or more documents, in order
            if current is None or current["id"] != item.doc:
                if current is not None:
                    yield current, pages
                current, pages = {"type": "doc", "id": item.doc, "pages": 0, "meta": {}}, []
            pages.append(item.record())
            current["pages"] = len(pages)
        elif isinstance(item, tuple) and len(item) == 2:
            doc, doc_pages = item
            yield dict(doc), [p.record() if isinstance(p, Page) else dict(p) for p in doc_pages]
        else:
            renderer = renderer or Renderer()
            for doc, doc_pages in renderer.documents([item]):
                yield doc, [p.record() for p in doc_pages]
    if current is not None:
        yield current, pages


def ask(pages_or_documents: Any, questions: str | Iterable[str | Mapping[str, Any]], *,
        backend: str | Backend = "openai", renderer: Renderer | None = None, as_text: bool = False,
        ordered: bool = True, **backend_options: Any) -> Iterator[dict]:
    """Answer records (as `glyph ask` writes them) for `questions` about documents.

    `pages_or_documents`: a Bundle, Pages, (doc record, pages) pairs, or texts/documents (rendered
    with `renderer`, default the glyph preset). `questions`: a string or strings asked of every
    document, or mappings `{"id", "doc", "question", ...}` each asked of its document. `backend`: a
    name for make_backend (with `backend_options`) or a Backend; a backend built here is closed at the end.
    """
    from glyph_cli.models.ask import Question, ask as ask_questions

    if isinstance(questions, str):
        questions = [questions]
    asked: list[Question] = []
    for i, q in enumerate(questions):
        if isinstance(q, str):
            asked.append(Question(f"q{i}", q))
        else:
            q = dict(q)
            text = q.pop("question")
            asked.append(Question(str(q.pop("id", f"q{i}")), text, q.pop("doc", None), q, "<api>", i))
    engine = make_backend(backend, **backend_options) if isinstance(backend, str) else backend
    try:
        yield from ask_questions(_pairs(pages_or_documents, renderer), engine, asked, as_text=as_text, ordered=ordered)
    finally:
        if isinstance(backend, str):
            engine.close()
