"""Page-stream records <-> their stored form in a bundle.

A stored doc record is the stream's doc record with `text` replaced by a descriptor (checksum and
size of the text member, checksum of the rest of the record); a stored page record has `image`
replaced by one (how the page is stored, the PNG's checksum and size, what rebuilding needs). Every
other field, and the field order, is kept, so `unpack` writes back the very line `render` wrote.
"""

from __future__ import annotations

from glyph_cli.bundle.format import Limits, record_digest, sha256_hex
from glyph_cli.bundle.pagecodec import (PageCodecError, PageEncoder, StoredPage, deflate_versions, read_ihdr,
                                        rebuild_png, reencode_png)
from glyph_cli.records import RecordError as SchemaError
from glyph_cli.records import PNG_DATA_URL, check, page_png, png_data_url

try:  # SIMD base64 (~20x the standard library's decoder on a page); the standard library where it is missing
    import pybase64 as _b64
except ImportError:  # pragma: no cover - a base dependency
    _b64 = None


class RecordError(ValueError):
    """A record that cannot be stored or restored; the message says what is wrong with it."""


class NotReproducible(RecordError):
    """A page whose pixels are intact but whose PNG bytes could not be made again exactly:
    the deflate encoder gave other bytes. `png` holds the same pixels in a fresh PNG."""

    def __init__(self, message: str, png: bytes):
        super().__init__(message)
        self.png = png


def store_doc(record: dict, data: bytes | bytearray | None = None) -> tuple[dict, bytes]:
    """(stored doc record, text bytes). The record is changed in place. `data`: the text's UTF-8
    bytes when the caller already has them (a bundle being merged), so they are not made again."""
    text = record.get("text")
    if not isinstance(text, str):
        raise RecordError("doc record has no `text`: a bundle keeps the source text so it is lossless "
                          "(glyph render always writes it)")
    try:
        check(record, "doc")
    except SchemaError as exc:
        raise RecordError(str(exc)) from None
    if data is None:
        data = text.encode("utf-8")
    desc = {"sha256": sha256_hex(data), "bytes": len(data)}
    desc["meta"] = record_digest(record, "text", desc)
    record["text"] = desc
    return record, data


def _page_png(record: dict) -> bytes:
    """records.page_png, faster: the fast decoder's result is taken only when encoding it again gives
    back the very characters of the record (canonical base64, which the standard library decodes to
    the same bytes); anything else goes through page_png, so every error and edge case is its."""
    url = record.get("image")
    if _b64 is not None and isinstance(url, str) and url.startswith(PNG_DATA_URL):
        data = url[len(PNG_DATA_URL):]
        try:
            png = _b64.b64decode(data, validate=True)
        except (ValueError, TypeError):
            png = None
        if png is not None and _b64.b64encode_as_string(png) == data:
            return png
    return page_png(record)


def store_page(record: dict, encoder: PageEncoder | None, pitch: float | None) -> tuple[dict, StoredPage]:
    """(stored page record, stored page). `encoder` None stores the PNG bytes as they are."""
    try:
        check(record, "page")
        png = _page_png(record)
    except ValueError as exc:
        raise RecordError(f"page {record.get('index')!r}: {exc}") from None
    digest = sha256_hex(png)
    claimed = record.get("sha256")
    if claimed is not None and claimed != digest:
        raise RecordError(f"page {record.get('index')!r}: its PNG does not match the record's sha256 "
                          "(the page stream is damaged)")
    try:
        stored = encoder.encode(png, pitch) if encoder is not None else None
    except PageCodecError as exc:
        raise RecordError(f"page {record.get('index')!r}: {exc}") from None
    if stored is None:
        stored = StoredPage("png", png, {})
    desc = {"store": stored.store, "sha256": digest, "bytes": len(png), **stored.params}
    desc["meta"] = record_digest(record, "image", desc)
    record["image"] = desc
    return record, stored


def store_as_png(record: dict, png: bytes) -> dict:
    """A stored page record re-described as holding its PNG bytes (for `pack --pages png`)."""
    image = record["image"]
    desc = {"store": "png", "sha256": image["sha256"], "bytes": image["bytes"]}
    desc["meta"] = record_digest(record, "image", desc)
    record["image"] = desc
    return record


def line_pitch(doc_record: dict) -> float | None:
    """Text line spacing in pixels from a doc record's render config, if it has one."""
    config = doc_record.get("config")
    if not isinstance(config, dict):
        return None
    try:
        return float(config["line_height"]) * float(config["dpi"]) / 72.0
    except (KeyError, TypeError, ValueError):
        return None


def descriptor(record: dict, field: str) -> dict:
    value = record.get(field)
    if not isinstance(value, dict) or not isinstance(value.get("sha256"), str) or not isinstance(value.get("meta"), str):
        raise RecordError(f"record's `{field}` descriptor is missing or damaged")
    return value


def check_meta(record: dict, field: str) -> dict:
    """The descriptor, after checking the record and the descriptor against its `meta` digest."""
    desc = descriptor(record, field)
    bare = {key: value for key, value in desc.items() if key != "meta"}
    if record_digest(record, field, bare) != desc["meta"]:
        raise RecordError("record fields do not match their checksum")
    return desc


def restore_png(record: dict, data: bytes, limits: Limits) -> bytes:
    """The page's PNG, exactly as rendered (checked against its sha256)."""
    desc = descriptor(record, "image")
    store = desc.get("store")

    def matches(png: bytes) -> bool:
        return len(png) == desc.get("bytes") and sha256_hex(png) == desc["sha256"]

    try:
        if store == "png":
            read_ihdr(data, limits)
            if not matches(data):
                raise RecordError("page image does not match its checksum")
            return data
        if store != "bands":
            raise RecordError(f"unknown page store {store!r}")
        # The sha256 covers the pixels too: their adler32 is checked only to tell damage (raises)
        # from a deflate that gave other bytes (the second rebuild).
        png = rebuild_png(data, desc, limits, check_pixels=False)
        if matches(png) or matches(png := rebuild_png(data, desc, limits)):
            return png
        raise NotReproducible(
            f"pixels intact, but {desc.get('deflate')} ({deflate_versions()}) did not give back the exact PNG bytes "
            "(the bundle header records the packer's versions)", reencode_png(data, desc, limits))
    except PageCodecError as exc:
        raise RecordError(str(exc)) from None


def restore_page(record: dict, png: bytes) -> dict:
    record["image"] = png_data_url(png)
    return record
