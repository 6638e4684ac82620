"""The records glyph's stages pass each other, in code: builders and validators (docs/FORMATS.md).

- page stream, version 1 (`glyph render`, `glyph unpack`): per document a `doc` record, then its
  `page` records, and one `end` record last in the stream;
- bundle index lines (`glyph ls`): `bundle`, `doc`, `page`, `config` and `end` lines;
- answer records, version 1 (`glyph ask`).

Builders fix the field order (unpack writes back the very line render wrote, so order is part of the
format). Validators raise `RecordError` saying which field is wrong; callers that know where the
record came from turn it into an InputError naming file:line (`check_at`). A page record's `sha256`
is always the sha256 of its PNG bytes, and `config_sha256` is always `config_sha256(config)`.

This module sits at the bottom: it imports nothing of glyph's but errors.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from glyph_cli.errors import InputError

STREAM_VERSION = 1  # doc, page and end records of a page stream
ANSWER_VERSION = 1
PNG_DATA_URL = "data:image/png;base64,"
RECORD_TYPES = ("doc", "page", "end", "answer")
FINISH_REASONS = ("stop", "length", "repetition")
ANSWER_MODES = ("pages", "text")


class RecordError(ValueError):
    """A record that breaks its schema; the message names the field."""


# -- canonical forms --------------------------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8 (not \\u escapes): the one form glyph hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def config_sha256(config: dict) -> str:
    """The `config_sha256` of a resolved render config (as a dict, `RenderConfig.to_dict()`)."""
    return hashlib.sha256(canonical_json(config)).hexdigest()


def png_sha256(png: bytes) -> str:
    """A page record's `sha256`: of the PNG bytes, never of the data URL."""
    return hashlib.sha256(png).hexdigest()


def png_data_url(png: bytes) -> str:
    import pybase64  # SIMD base64: ~10x the standard library's on a page's PNG, the same text

    return PNG_DATA_URL + pybase64.b64encode_as_string(png)


def page_png(page: dict) -> bytes:
    """The PNG bytes of a page record (ValueError when its image is not a PNG data URL)."""
    url = page.get("image", "")
    if not isinstance(url, str) or not url.startswith(PNG_DATA_URL):
        raise ValueError("page image is not a PNG data URL")
    return base64.b64decode(url[len(PNG_DATA_URL):], validate=True)


# -- builders ---------------------------------------------------------------------------------------


def doc_record(doc_id: str, text: str, *, meta: dict | None = None, pages: int, text_tokens: int | None = None,
               tokenizer: str | None = None, visual_tokens: dict | None = None, config: dict | None = None,
               fonts: list | None = None, missing_glyphs: dict | None = None, tool: dict | None = None) -> dict:
    """A page stream's doc record. The rendered-only fields are left out when not given (a document
    read for the text baseline is not rendered: it has `pages` 0 and no config)."""
    rec: dict = {"type": "doc", "v": STREAM_VERSION, "id": doc_id, "meta": meta if meta is not None else {},
                 "text": text, "chars": len(text)}
    if text_tokens is not None:
        rec["text_tokens"] = text_tokens
    if tokenizer is not None:
        rec["tokenizer"] = tokenizer
    rec["pages"] = pages
    if visual_tokens is not None:
        rec["visual_tokens"] = visual_tokens
    if config is not None:
        rec["config"] = config
        rec["config_sha256"] = config_sha256(config)
    if fonts is not None:
        rec["fonts"] = fonts
    if missing_glyphs is not None:
        rec["missing_glyphs"] = missing_glyphs
    if tool is not None:
        rec["tool"] = tool
    check(rec)
    return rec


def page_record(doc_id: str, index: int, span: tuple[int, int] | list[int], png: bytes, *, width: int,
                height: int, dpi: float, visual_tokens: dict | None = None) -> dict:
    """A page stream's page record for the PNG `png` (its sha256 and data URL are computed here)."""
    rec: dict = {"type": "page", "v": STREAM_VERSION, "doc": doc_id, "index": index, "span": [span[0], span[1]],
                 "width": width, "height": height, "dpi": dpi}
    if visual_tokens is not None:
        rec["visual_tokens"] = visual_tokens
    rec["sha256"] = png_sha256(png)
    rec["image"] = png_data_url(png)
    check(rec)
    return rec


def end_record(docs: int, pages: int) -> dict:
    """The record written last in every page stream: a stream without it was truncated."""
    rec = {"type": "end", "v": STREAM_VERSION, "docs": docs, "pages": pages}
    check(rec)
    return rec


def answer_record(*, qid: str, doc: str, question: str, answer: str, thinking: str | None, raw: str,
                  finish: str, prompt_tokens: int | None, completion_tokens: int | None, latency_s: float,
                  ttft_s: float | None, attempts: int, mode: str, pages: int | None, meta: dict,
                  run: dict | None) -> dict:
    """One answer of `glyph ask` (docs/FORMATS.md, docs/ASK.md)."""
    rec = {"type": "answer", "v": ANSWER_VERSION, "id": qid, "doc": doc, "question": question, "answer": answer,
           "thinking": thinking, "raw": raw, "finish": finish, "prompt_tokens": prompt_tokens,
           "completion_tokens": completion_tokens, "latency_s": round(latency_s, 4),
           "ttft_s": None if ttft_s is None else round(ttft_s, 4), "attempts": attempts, "mode": mode,
           "pages": pages, "meta": meta, "run": run}
    check(rec)
    return rec


# bundle index lines (`glyph ls`, the bundle's index member): the stream record's summary fields
INDEX_DOC_FIELDS = ("chars", "text_tokens", "tokenizer", "pages", "visual_tokens", "config_sha256")
INDEX_PAGE_FIELDS = ("index", "span", "width", "height", "dpi", "visual_tokens")


def index_doc_line(n: int, record: dict, **extra: Any) -> dict:
    """The index line of document number `n`, from its (stream or stored) doc record."""
    line = {"type": "doc", "n": n, "id": record.get("id"), "meta": record.get("meta", {})}
    for key in INDEX_DOC_FIELDS:
        if key in record:
            line[key] = record[key]
    line.update(extra)
    return line


def index_page_line(n: int, record: dict, **extra: Any) -> dict:
    """The index line of a page of document number `n`, from its page record."""
    line = {"type": "page", "n": n}
    for key in INDEX_PAGE_FIELDS:
        if key in record:
            line[key] = record[key]
    line.update(extra)
    return line


# -- validation -------------------------------------------------------------------------------------

_INT = "an integer"
_NUM = "a number"
_STR = "a string"
_OBJ = "an object"


def _is(value: Any, kind: str) -> bool:
    if kind == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == _NUM:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == _STR:
        return isinstance(value, str)
    if kind == _OBJ:
        return isinstance(value, dict)
    raise AssertionError(kind)


# (field, kind, required)
_SCHEMAS: dict[str, list[tuple[str, str, bool]]] = {
    "doc": [("id", _STR, True), ("meta", _OBJ, False), ("text", _STR, True), ("chars", _INT, False),
            ("text_tokens", _INT, False), ("tokenizer", _STR, False), ("pages", _INT, True),
            ("visual_tokens", _OBJ, False), ("config", _OBJ, False), ("config_sha256", _STR, False),
            ("missing_glyphs", _OBJ, False), ("tool", _OBJ, False)],
    "page": [("doc", _STR, True), ("index", _INT, True), ("width", _INT, False), ("height", _INT, False),
             ("dpi", _NUM, False), ("visual_tokens", _OBJ, False), ("sha256", _STR, False), ("image", _STR, True)],
    "end": [("docs", _INT, True), ("pages", _INT, True)],
    "answer": [("id", _STR, True), ("doc", _STR, True), ("question", _STR, True), ("answer", _STR, True),
               ("raw", _STR, True), ("finish", _STR, True), ("attempts", _INT, True), ("mode", _STR, True),
               ("meta", _OBJ, True), ("latency_s", _NUM, True)],
}
_VERSIONS = {"doc": STREAM_VERSION, "page": STREAM_VERSION, "end": STREAM_VERSION, "answer": ANSWER_VERSION}


def check(rec: Any, expect: str | tuple[str, ...] | None = None) -> dict:
    """`rec`, after checking it against its type's schema; RecordError names what is wrong.

    Checks field presence, types and the cheap invariants (non-negative counts, a span inside the
    text's range, `chars == len(text)`); it does not decode a page's image (see `check_png`).
    """
    if not isinstance(rec, dict):
        raise RecordError("a record must be a JSON object")
    kind = rec.get("type")
    allowed = (expect,) if isinstance(expect, str) else (expect or RECORD_TYPES)
    if kind not in allowed:
        raise RecordError(f"record type {kind!r} where {' or '.join(allowed)} was expected")
    version = rec.get("v")
    if version != _VERSIONS[kind]:
        raise RecordError(f"{kind} record version {version!r} is not supported (this glyph reads "
                          f"{_VERSIONS[kind]})")
    for name, what, required in _SCHEMAS[kind]:
        if name not in rec:
            if required:
                raise RecordError(f"{kind} record has no `{name}`")
            continue
        if not _is(rec[name], what):
            raise RecordError(f"{kind} record's `{name}` must be {what}, not {type(rec[name]).__name__}")
    for name in ("pages", "chars", "text_tokens", "docs", "index", "width", "height", "attempts"):
        if kind != "answer" and _is(rec.get(name), _INT) and rec[name] < 0:
            raise RecordError(f"{kind} record's `{name}` must not be negative")
    if kind == "doc":
        if "chars" in rec and rec["chars"] != len(rec["text"]):
            raise RecordError(f"doc record's `chars` ({rec['chars']}) is not the length of its text "
                              f"({len(rec['text'])})")
        if "config_sha256" in rec and "config" in rec and rec["config_sha256"] != config_sha256(rec["config"]):
            raise RecordError("doc record's `config_sha256` is not the sha256 of its config's canonical JSON")
    elif kind == "page":
        span = rec.get("span")
        if span is not None and not (isinstance(span, list) and len(span) == 2 and all(_is(s, _INT) for s in span)
                                     and 0 <= span[0] <= span[1]):
            raise RecordError("page record's `span` must be [start, end] with 0 <= start <= end")
    elif kind == "answer":
        if rec["finish"] not in FINISH_REASONS:
            raise RecordError(f"answer record's `finish` must be one of {', '.join(FINISH_REASONS)}")
        if rec["mode"] not in ANSWER_MODES:
            raise RecordError(f"answer record's `mode` must be one of {', '.join(ANSWER_MODES)}")
    return rec


def check_png(page: dict) -> bytes:
    """The page's PNG bytes, after checking that its `sha256` (when present) is theirs."""
    try:
        png = page_png(page)
    except ValueError as exc:
        raise RecordError(str(exc)) from None
    claimed = page.get("sha256")
    if claimed is not None and claimed != png_sha256(png):
        raise RecordError("page record's `sha256` is not the sha256 of its PNG (the page stream is damaged)")
    return png


def check_at(rec: Any, source: str, line: int | None, expect: str | tuple[str, ...] | None = None) -> dict:
    """`check`, with a failure reported as an InputError naming source:line."""
    try:
        return check(rec, expect)
    except RecordError as exc:
        raise InputError(source, line, str(exc)) from None
