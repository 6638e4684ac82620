"""Every kind of input a model stage reads, as (doc record, its page records) per document.

- a page stream (`glyph render` output, a file or stdin): read as it stands;
- a page bundle (`glyph pack` output): unpacked as it is read, one document in memory at a time;
- input documents to render on the fly, when a render config is given (`--preset`, `--render-config`);
  with `text_only` they are not rendered at all: the text baseline needs only the doc's text.

Consumers see one shape whatever the source.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from glyph_cli import log
from glyph_cli.errors import GlyphError, InputError
from glyph_cli.streams.documents import Document, read_documents
from glyph_cli.streams.io import STDIO
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


def _page_streams(paths: list[str]) -> Iterator[tuple[dict, list[dict]]]:
    """Page streams and page bundles (`glyph pack` output), each input by what it holds."""
    from glyph_cli.bundle.pack import input_is_bundle
    from glyph_cli.bundle.unpack import Unpacker

    for path in paths or [STDIO]:
        if input_is_bundle(path):
            yield from Unpacker(path).documents()
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
        yield from _page_streams(paths)
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
