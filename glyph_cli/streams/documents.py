"""Input documents: JSONL records or plain text files, from files, stdin, .gz or .zst.

A document is `{"id": ..., "text": ..., ...}`; every other field is kept as metadata. Readers never
raise on a bad record: they yield an `InputError` in its place so the caller applies the user's
`--on-error` policy and nothing after the bad record is lost.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Literal

import orjson

from glyph_cli.errors import InputError, UsageError
from glyph_cli.streams.io import STDIO, display_name, iter_lines, open_binary

InputFormat = Literal["auto", "jsonl", "text"]
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}


@dataclass
class Document:
    id: str
    text: str
    meta: dict = field(default_factory=dict)
    source: str = ""
    line: int | None = None


def _strip_compression(name: str) -> str:
    for ext in (".gz", ".zst", ".zstd"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def format_of(path: str, fmt: InputFormat) -> InputFormat:
    if fmt != "auto" or path == STDIO:
        return fmt
    return "jsonl" if Path(_strip_compression(path)).suffix.lower() in JSONL_SUFFIXES else "text"


def _record_id(value: object) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def parse_record(
    raw: bytes, source: str, line: int, text_field: str, id_field: str
) -> Document | InputError:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if b"\\ud8" in raw.lower() or b"\\udc" in raw.lower() or _bad_utf8(raw):
            return InputError(source, line, f"invalid UTF-8 or lone surrogate ({exc})",
                              "re-encode the file as UTF-8")
        return InputError(source, line, f"malformed JSON: {exc}", "each line must be one JSON object")
    if not isinstance(obj, dict):
        return InputError(source, line, f"expected a JSON object, got {type(obj).__name__}",
                          "each line must be one JSON object")
    if text_field not in obj:
        keys = ", ".join(sorted(obj)[:8]) or "none"
        return InputError(source, line, f"no {text_field!r} field (fields: {keys})",
                          "name the text field with --text-field")
    text = obj.pop(text_field)
    if not isinstance(text, str):
        return InputError(source, line, f"field {text_field!r} is {type(text).__name__}, not a string")
    raw_id = obj.pop(id_field, None)
    doc_id = _record_id(raw_id)
    if raw_id is not None and doc_id is None:
        return InputError(source, line, f"field {id_field!r} must be a non-empty string or integer")
    if doc_id is None:
        doc_id = f"{Path(source).name}:{line}"
    return Document(id=doc_id, text=text, meta=obj, source=source, line=line)


def _bad_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _read_jsonl(path: str, text_field: str, id_field: str) -> Iterator[Document | InputError]:
    source = display_name(path)
    with open_binary(path) as fh:
        for number, raw in enumerate(iter_lines(fh), start=1):
            if not raw.strip():
                continue
            yield parse_record(raw, source, number, text_field, id_field)


def _read_text(path: str) -> Iterator[Document | InputError]:
    source = display_name(path)
    with open_binary(path) as fh:
        data = fh.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield InputError(source, None, f"invalid UTF-8 at byte {exc.start}", "re-encode the file as UTF-8")
        return
    if text.startswith("\ufeff"):
        text = text[1:]
    doc_id = "stdin" if path == STDIO else _strip_compression(os.path.basename(path))
    yield Document(id=doc_id, text=text, meta={"source": source}, source=source, line=None)


def _sniff_stdin_format() -> InputFormat:
    import sys

    head = sys.stdin.buffer.peek(64)[:64] if hasattr(sys.stdin.buffer, "peek") else b""
    return "jsonl" if head.lstrip().startswith(b"{") else "text"


def read_documents(
    paths: Iterable[str],
    *,
    fmt: InputFormat = "auto",
    text_field: str = "text",
    id_field: str = "id",
) -> Iterator[Document | InputError]:
    """Documents from every path in order; `-` is stdin (JSONL or text, sniffed when auto)."""
    paths = list(paths) or [STDIO]
    if paths.count(STDIO) > 1:
        raise UsageError("stdin ('-') can be named only once")
    for path in paths:
        kind = format_of(path, fmt)
        if kind == "auto":
            kind = _sniff_stdin_format()
        if kind == "jsonl":
            yield from _read_jsonl(path, text_field, id_field)
        else:
            yield from _read_text(path)
