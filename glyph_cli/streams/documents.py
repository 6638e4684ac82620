"""Input documents: JSONL records or plain text files, from files, stdin, .gz or .zst.

A document is `{"id": ..., "text": ..., ...}`; every other field is kept as metadata. Readers never
raise on a bad record: they yield an `InputError` in its place so the caller applies the user's
`--on-error` policy and nothing after the bad record is lost.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Literal

import orjson

from glyph_cli.errors import InputError, UsageError
from glyph_cli.streams.io import LIMITS, STDIO, display_name, iter_lines, line_too_long, open_binary

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
                              "pass --encoding or --errors replace, or re-encode the file as UTF-8")
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


def _recode(raw: bytes, encoding: str, errors: str) -> bytes:
    if encoding.lower().replace("-", "") in ("utf8", "utf8sig") and errors == "strict":
        return raw
    return raw.decode(encoding, errors).encode("utf-8", "surrogatepass")


def _read_jsonl(path: str, text_field: str, id_field: str, encoding: str = "utf-8",
                errors: str = "strict") -> Iterator[Document | InputError]:
    source = display_name(path)
    with open_binary(path) as fh:
        for number, raw in enumerate(iter_lines(fh), start=1):
            if raw is None:
                yield line_too_long(source, number)
                continue
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte-order mark
            if not raw.strip():
                continue
            if number == 1 and _binary_kind(raw):
                yield InputError(source, None, f"is a binary file ({_binary_kind(raw)}), not JSONL",
                                 "convert it to text first (for a PDF: pdftotext)")
                return
            try:
                raw = _recode(raw, encoding, errors)
            except UnicodeDecodeError as exc:
                yield InputError(source, number, f"not valid {encoding} at byte {exc.start} of the line",
                                 "pass --encoding, or --errors replace")
                continue
            yield parse_record(raw, source, number, text_field, id_field)


_PACKAGE_DATA = Path(__file__).resolve().parent.parent / "data"


def _binary_kind(head: bytes) -> str | None:
    """What a binary input is, from its first bytes; None for anything that may be text."""
    for magic, kind in ((b"%PDF", "PDF"), (b"\x89PNG", "PNG"), (b"PK\x03\x04", "ZIP/Office"),
                        (b"\x1f\x8b", "gzip without a .gz name"), (b"\x28\xb5\x2f\xfd", "zstd without a .zst name")):
        if head.startswith(magic):
            return kind
    if b"\x00" in head[:8192] and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "it holds NUL bytes"
    return None


def text_id(path: str) -> str:
    """A plain-text input's id: its path as given, normalised, without a compression suffix, so files
    of the same name in different folders (two app.log) get different ids."""
    if path == STDIO:
        return "stdin"
    p = Path(path)
    if p.is_absolute():
        resolved = p.resolve()
        if resolved.parent == _PACKAGE_DATA:  # the embedded sample
            return _strip_compression(p.name)
        with contextlib.suppress(ValueError):
            p = resolved.relative_to(Path.cwd().resolve())
    return _strip_compression(os.path.normpath(str(p)))


def _read_text(path: str, encoding: str = "utf-8", errors: str = "strict") -> Iterator[Document | InputError]:
    source = display_name(path)
    limit = LIMITS.max_text_bytes
    with open_binary(path) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        yield InputError(source, None, f"text file is over {limit} bytes", "raise the bound with --max-text-mb")
        return
    kind = _binary_kind(data)
    if kind and encoding.lower().replace("-", "") in ("utf8", "utf8sig"):
        yield InputError(source, None, f"is a binary file ({kind}), not text",
                         "convert it to text first (for a PDF: pdftotext)")
        return
    try:
        text = data.decode(encoding, errors)
    except UnicodeDecodeError as exc:
        yield InputError(source, None, f"not valid {encoding} at byte {exc.start}",
                         "pass --encoding (e.g. latin-1), or --errors replace")
        return
    except LookupError:
        raise UsageError(f"--encoding {encoding!r}: unknown encoding") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    yield Document(id=text_id(path), text=text, meta={"source": source}, source=source, line=None)


def _sniff_stdin_format() -> InputFormat:
    import sys

    head = sys.stdin.buffer.peek(64)[:64] if hasattr(sys.stdin.buffer, "peek") else b""
    return "jsonl" if head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{") else "text"


def read_documents(
    paths: Iterable[str],
    *,
    fmt: InputFormat = "auto",
    text_field: str = "text",
    id_field: str = "id",
    encoding: str = "utf-8",
    errors: str = "strict",
) -> Iterator[Document | InputError]:
    """Documents from every path in order; `-` is stdin (JSONL or text, sniffed when auto)."""
    paths = list(paths) or [STDIO]
    if paths.count(STDIO) > 1:
        raise UsageError("stdin ('-') can be named only once")
    for path in paths:
        kind = format_of(path, fmt)
        if kind == "auto":
            kind = _sniff_stdin_format()
        if errors not in ("strict", "replace"):
            raise UsageError(f"--errors must be strict or replace, not {errors!r}")
        if kind == "jsonl":
            yield from _read_jsonl(path, text_field, id_field, encoding, errors)
        else:
            yield from _read_text(path, encoding, errors)
