"""Hand-built page streams in the docs/FORMATS.md shape, for tests that need pages but not rendering."""

from __future__ import annotations

import io

import orjson

from glyph_cli.records import doc_record, page_record, png_data_url


def png_bytes(width: int = 56, height: int = 84, label: str = "") -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(image).text((2, 2), label, fill="black")
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def png_url(width: int = 56, height: int = 84, label: str = "") -> str:
    return png_data_url(png_bytes(width, height, label))


def doc_records(doc_id: str, text: str, pages: int, size: tuple[int, int] = (56, 84)) -> list[dict]:
    """A document's records, built by glyph_cli.records (so a page's sha256 is its PNG's)."""
    per = -(-len(text) // pages) if text else 0
    records = [doc_record(doc_id, text, pages=pages)]
    for i in range(pages):
        span = (min(i * per, len(text)), min((i + 1) * per, len(text)))
        records.append(page_record(doc_id, i, span, png_bytes(*size, label=f"{doc_id}/{i}"), width=size[0],
                                   height=size[1], dpi=72))
    return records


def page_stream(docs: list[tuple[str, str, int]]) -> bytes:
    """A page stream of (id, text, pages) documents."""
    records = [rec for d in docs for rec in doc_records(*d)]
    end = {"type": "end", "v": 1, "docs": len(docs), "pages": sum(r["type"] == "page" for r in records)}
    return b"".join(orjson.dumps(rec) + b"\n" for rec in records + [end])


def documents(docs: list[tuple[str, str, int]]) -> list[tuple[dict, list[dict]]]:
    """The same documents as (doc record, pages) pairs, as the page-stream reader yields them."""
    out = []
    for d in docs:
        records = doc_records(*d)
        out.append((records[0], records[1:]))
    return out
