"""Every kind of input a stage reads, told apart here and only here (`input_kind`), and given as
(doc record, its page records) per document:

- a page stream (`glyph render` output, a file or stdin): read as it stands;
- a page bundle (`glyph pack` output): unpacked as it is read, one document in memory at a time;
- input documents to render on the fly, when a render config is given (`--preset`, `--config`);
  with `text_only` they are not rendered at all: the text baseline needs only the doc's text.

Consumers see one shape whatever the source.
"""

from __future__ import annotations

import re
import sys
from typing import Iterable, Iterator

from glyph_cli import log
from glyph_cli.errors import GlyphError, InputError
from glyph_cli.streams.documents import Document, read_documents
from glyph_cli.streams.io import STDIO, iter_lines, open_binary
from glyph_cli.records import doc_record
from glyph_cli.streams.pages import iter_documents
from glyph_cli.typeset.config import RenderConfig  # inputs.py sits above streams, typeset and bundle


def text_record(doc: Document) -> dict:
    """A doc record for a document that is not rendered: just what the text baseline needs."""
    return doc_record(doc.id, doc.text, meta=doc.meta, pages=0)


def rendered(docs: Iterable[Document], cfg: RenderConfig, tokenizer: str,
             policy: log.ErrorPolicy) -> Iterator[tuple[dict, list[dict]]]:
    from glyph_cli.typeset.job import make_renderer, render_records

    renderer = make_renderer(cfg, tokenizer)
    for doc in docs:
        records = render_records(renderer, doc)
        if isinstance(records, GlyphError):
            policy.record_failed(records)
            continue
        yield records[0], records[1:]


BUNDLE, PAGES, DOCUMENTS = "bundle", "pages", "documents"
_RECORD_START = re.compile(rb'\s*\{\s*"type"\s*:\s*"(doc|page)"')


def _first_record_is_glyphs(head: bytes) -> bool:
    """Whether the first line of `head` is a doc or page record (glyph writes "type" first)."""
    line = head.lstrip().split(b"\n", 1)[0]
    try:
        import orjson

        first = orjson.loads(line)
    except ValueError:  # not JSON, or a line longer than what was read: its first key decides
        return bool(_RECORD_START.match(line))
    return isinstance(first, dict) and first.get("type") in ("doc", "page")


def input_kind(path: str) -> str:
    """BUNDLE, PAGES (a page stream) or DOCUMENTS (JSONL or text to render): what `path` holds.
    Stdin is peeked at, not consumed."""
    from glyph_cli.bundle.pack import input_is_bundle

    if input_is_bundle(path):
        return BUNDLE
    if path == STDIO:
        stdin = sys.stdin.buffer
        head = stdin.peek(1 << 16) if hasattr(stdin, "peek") else b""
        return PAGES if _first_record_is_glyphs(head) else DOCUMENTS
    if str(path).endswith((".txt", ".md")):
        return DOCUMENTS
    with open_binary(path) as fh:
        for raw in iter_lines(fh):
            if raw is None:  # a first line over the line limit: never a page stream's
                return DOCUMENTS
            if raw.strip():
                return PAGES if _first_record_is_glyphs(raw) else DOCUMENTS
    return DOCUMENTS


def refuse_non_bundle(path: str) -> None:
    """A BundleError saying what `path` holds when it is plainly not a bundle (it does not start with
    a zstd frame): a page stream or documents is not a damaged bundle. A bundle damaged after its
    first bytes is left to the bundle reader, which says what is damaged."""
    from glyph_cli.bundle.frames import ZSTD_MAGIC
    from glyph_cli.errors import BundleError
    from glyph_cli.streams.io import display_name

    if path == STDIO:
        if sys.stdin.isatty():  # `glyph ls` typed alone: reading the keyboard would wait forever
            from glyph_cli.errors import UsageError

            raise UsageError("no bundle given: name a bundle file, or redirect stdin from one (< x.glyph)")
        stdin = sys.stdin.buffer
        if not hasattr(stdin, "peek"):
            return
        head = stdin.peek(4)[:4]
    else:
        try:
            with open(path, "rb") as fh:
                head = fh.read(4)
        except OSError:
            return  # the reader reports a missing or unreadable file in its own words
    if head.startswith(ZSTD_MAGIC):
        return
    if not head:  # even a bundle of no documents has its header, index and footer
        raise BundleError(f"{display_name(path)}: not a glyph bundle (it is empty)",
                          "`glyph pack` writes bundles; an interrupted copy leaves an empty file")
    kind = input_kind(path)
    what = {PAGES: "it holds a page stream (glyph render output): `glyph pack` makes a bundle of it",
            DOCUMENTS: "it holds documents: `glyph render | glyph pack` makes a bundle of them"}[kind]
    raise BundleError(f"{display_name(path)}: not a glyph bundle (not the start of a zstd frame); {what}")


def document_count(paths: list[str]) -> int | None:
    """How many documents `paths` hold, where that is known without reading them: bundle files,
    from their index. None when any input is stdin, a page stream or documents (or the index is
    missing or damaged: the read itself then says so)."""
    from glyph_cli.bundle.reader import file_index

    total = 0
    for path in paths or [STDIO]:
        if path == STDIO or input_kind(path) != BUNDLE:
            return None
        try:
            end = next((line for line in file_index(path) or () if line.get("type") == "end"), None)
        except (GlyphError, OSError, ValueError):
            return None
        if end is None or not isinstance(end.get("docs"), int):
            return None
        total += end["docs"]
    return total


def page_pairs(paths: list[str], pages: bool = True) -> Iterator[tuple[dict, list[dict]]]:
    """(doc record, page records) of page streams and page bundles, each input by what it holds;
    `pages=False` spares a bundle rebuilding its pages (the lists are then empty)."""
    from glyph_cli.bundle.unpack import Unpacker

    for path in paths or [STDIO]:
        if input_kind(path) == BUNDLE:
            yield from Unpacker(path).documents(pages=pages)
            continue
        started = False
        try:
            for pair in iter_documents([path]):
                started = True
                yield pair
        except InputError as exc:
            if not started:  # most likely input documents given where pages were expected
                exc.hint = ("feed the output of glyph render or a bundle from glyph pack, or pass -p/--preset "
                            "to render input documents on the fly")
            raise


def texts(paths: list[str], policy: log.ErrorPolicy, text_field: str = "text",
          id_field: str = "id") -> Iterator[Document]:
    """The documents of any inputs: input documents as read, and the texts of page streams and
    bundles (for stages that render them again). Bad input documents go to `policy`."""
    for path in paths or [STDIO]:
        if input_kind(path) != DOCUMENTS:
            for doc, _pages in page_pairs([path], pages=False):
                yield Document(id=str(doc["id"]), text=doc["text"], meta=doc.get("meta") or {}, source=path)
            continue
        for item in read_documents([path], text_field=text_field, id_field=id_field):
            if isinstance(item, InputError):
                policy.record_failed(item)
                continue
            yield item


def iter_inputs(paths: Iterable[str], *, render: RenderConfig | None = None, text_only: bool = False,
                policy: log.ErrorPolicy | None = None, tokenizer: str = "qwen2.5", input_format: str = "auto",
                text_field: str = "text", id_field: str = "id") -> Iterator[tuple[dict, list[dict]]]:
    """(doc record, pages) per document of `paths` (`-` or none: stdin).

    Without `render` the inputs are page streams. With it they are input documents, rendered with
    that config, or only read when `text_only`. Bad documents go to `policy`.
    """
    policy = policy or log.ErrorPolicy("fail")
    paths = list(paths)
    if render is None:
        yield from page_pairs(paths)
        return

    def documents() -> Iterator[Document]:
        for item in read_documents(paths, fmt=input_format, text_field=text_field, id_field=id_field):
            if isinstance(item, InputError):
                policy.record_failed(item)
            else:
                yield item

    if text_only:
        for doc in documents():
            yield text_record(doc), []
    else:
        yield from rendered(documents(), render, tokenizer, policy)
