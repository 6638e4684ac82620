"""The page stream: the JSONL that `glyph render` and `glyph unpack` write (docs/FORMATS.md).

A stream is, per document, one `doc` record followed by exactly `pages` `page` records in index
order, and last an `end` record `{"type": "end", "v": 1, "docs": N, "pages": M}` that its producer
writes only when it finished. Readers check that shape, so a truncated or interleaved stream (one cut
at a document boundary included) is an error naming the input, never a silently short one. Streams
may be concatenated (`cat a.jsonl b.jsonl`): each end record closes the documents since the previous.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from glyph_cli.errors import InputError
from glyph_cli.records import PNG_DATA_URL, STREAM_VERSION, end_record, page_png, png_data_url  # noqa: F401 (re-exported)
from glyph_cli.streams.io import STDIO, display_name, iter_objects


def _check_version(rec: dict, source: str, line: int) -> None:
    v = rec.get("v")
    if v != STREAM_VERSION:
        raise InputError(source, line, f"page stream version {v!r} is not supported (this glyph reads {STREAM_VERSION})",
                         "upgrade glyph or re-render")


def iter_records(paths: Iterable[str]) -> Iterator[tuple[dict, str, int]]:
    """Every doc and page record of every stream, checked for shape, with where it came from. End
    records are checked and consumed, not yielded."""
    for path in list(paths) or [STDIO]:
        source = display_name(path)
        expect_pages = 0
        doc_id = None
        next_index = 0
        line = 0
        docs = pages = 0  # since the last end record
        ended = False
        for rec, source, line in iter_objects(path, "page stream"):
            kind = rec.get("type")
            if kind == "doc":
                _check_version(rec, source, line)
                if next_index < expect_pages:
                    raise InputError(source, line, f"document {doc_id!r} ended after {next_index} of "
                                     f"{expect_pages} pages", "the stream was truncated or interleaved")
                pages_value = rec.get("pages", 0)
                if not isinstance(pages_value, int) or isinstance(pages_value, bool) or pages_value < 0:
                    raise InputError(source, line, f"doc record has no valid page count ({pages_value!r})")
                doc_id, expect_pages, next_index = rec.get("id"), pages_value, 0
                docs += 1
                ended = False
            elif kind == "page":
                if doc_id is None or rec.get("doc") != doc_id or ended:
                    raise InputError(source, line, f"page of document {rec.get('doc')!r} outside its document",
                                     "a page stream holds a doc record and then its pages")
                if rec.get("index") != next_index or next_index >= expect_pages:
                    raise InputError(source, line, f"page index {rec.get('index')!r} of {doc_id!r} out of order "
                                     f"(expected {next_index} of {expect_pages})")
                next_index += 1
                pages += 1
            elif kind == "end":
                _check_version(rec, source, line)
                if next_index < expect_pages:
                    raise InputError(source, line, f"document {doc_id!r} ended after {next_index} of "
                                     f"{expect_pages} pages", "the stream was truncated or interleaved")
                if rec.get("docs") != docs or rec.get("pages") != pages:
                    raise InputError(source, line, f"end record says {rec.get('docs')!r} document(s) and "
                                     f"{rec.get('pages')!r} page(s); the stream holds {docs} and {pages}",
                                     "records were lost or added between its producer and here")
                docs = pages = 0
                ended = True
                doc_id = None
                continue
            else:
                raise InputError(source, line, "not a page-stream record (no type doc/page/end)",
                                 "feed the output of glyph render or glyph unpack")
            yield rec, source, line
        if not ended:
            where = f"after line {line}" if line else "(it is empty)"
            raise InputError(source, None, f"page stream is truncated: no end record {where}",
                             "its producer was stopped or failed: rerun glyph render or glyph unpack")


def iter_documents(paths: Iterable[str]) -> Iterator[tuple[dict, list[dict]]]:
    """(doc record, its page records) per document. Holds one document's pages at a time."""
    doc: dict | None = None
    pages: list[dict] = []
    for rec, _source, _line in iter_records(paths):
        if rec["type"] == "doc":
            if doc is not None:
                yield doc, pages
            doc, pages = rec, []
        else:
            pages.append(rec)
    if doc is not None:
        yield doc, pages
