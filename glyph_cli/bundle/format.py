"""Names, versions and limits of the bundle format (docs/BUNDLE.md is the prose version of this file)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import orjson

FORMAT = "glyph-bundle"
VERSION = 1

HEADER_NAME = "glyph-bundle.json"
INDEX_NAME = "glyph-index.jsonl"

# Stored page forms: "bands" (pixels re-laid for zstd, PNG rebuilt on read) or "png" (the bytes as is).
PAGE_STORES = ("bands", "png")

_MEMBER_RE = re.compile(r"d(\d{6,})/(?:doc\.(json|txt)|p(\d{5,})\.(json|bands|png))")


def doc_key(n: int) -> str:
    return f"d{n:06d}"


def doc_json_name(n: int) -> str:
    return f"{doc_key(n)}/doc.json"


def doc_text_name(n: int) -> str:
    return f"{doc_key(n)}/doc.txt"


def page_name(n: int, index: int, ext: str) -> str:
    return f"{doc_key(n)}/p{index:05d}.{ext}"


@dataclass(frozen=True)
class MemberName:
    """A parsed member name: what it is and which document/page it belongs to."""

    kind: str  # header, index, doc, text, page, pixels
    doc: int = -1
    page: int = -1
    ext: str = ""


def parse_member_name(name: str) -> MemberName | None:
    """The member a name denotes, or None for any name a glyph writer never produces.

    Only canonical names pass (no leading `/`, no `..`, no extra zeros), which is what makes
    extraction by name safe: a name that parses is a relative path inside one `dNNNNNN/` folder.
    """
    if name == HEADER_NAME:
        return MemberName("header")
    if name == INDEX_NAME:
        return MemberName("index")
    m = _MEMBER_RE.fullmatch(name)
    if not m:
        return None
    n = int(m.group(1))
    if m.group(2):
        parsed = MemberName("doc" if m.group(2) == "json" else "text", n)
        canonical = doc_json_name(n) if parsed.kind == "doc" else doc_text_name(n)
    else:
        index, ext = int(m.group(3)), m.group(4)
        parsed = MemberName("page" if ext == "json" else "pixels", n, index, ext)
        canonical = page_name(n, index, ext)
    return parsed if canonical == name else None


@dataclass(frozen=True)
class Limits:
    """What a reader accepts before it allocates. Bundles are untrusted input.

    The defaults are far above anything glyph renders (an A4 page at 600 dpi is 35 Mpx) and far
    below what would exhaust a machine.
    """

    max_json_bytes: int = 16 << 20  # one doc/page record or index line
    max_text_bytes: int = 1 << 30  # one document's text
    max_side: int = 20000  # pixels, either side of a page
    max_pixels: int = 100_000_000  # width x height of a page
    max_raw_bytes: int = 256 << 20  # a page's uncompressed scanlines
    max_png_bytes: int = 64 << 20  # a page stored as PNG bytes
    max_index_bytes: int = 1 << 30
    # Expansion guard against decompression bombs: past `ratio_floor` decompressed bytes, the
    # bundle may not expand more than `max_ratio` times its compressed size. Real bundles expand
    # ~20-60x; a blank page ~2500x.
    max_ratio: int = 4000
    ratio_floor: int = 64 << 20


DEFAULT_LIMITS = Limits()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_digest(record: dict, field: str, value: object) -> str:
    """sha256 of a record's JSON with `field` set to `value` (its descriptor without the digest).

    Stored records carry it as the descriptor's last key, `meta`: with the checksum of the text or
    the PNG it covers every byte `unpack` emits and everything a page is rebuilt from.
    """
    saved = record[field]
    record[field] = value
    try:
        return sha256_hex(orjson.dumps(record))
    finally:
        record[field] = saved
