"""Hand-built page streams in the docs/FORMATS.md shape, for tests that need pages but not rendering."""

from __future__ import annotations

import hashlib
import io

import orjson

from glyph_cli.streams.pages import png_data_url


def png_url(width: int = 56, height: int = 84, label: str = "") -> str:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(image).text((2, 2), label, fill="black")
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return png_data_url(buf.getvalue())


def doc_records(doc_id: str, text: str, pages: int, size: tuple[int, int] = (56, 84)) -> list[dict]:
    per = -(-len(text) // pages) if text else 0
    records = [{"type": "doc", "v": 1, "id": doc_id, "meta": {}, "text": text, "chars": len(text), "pages": pages}]
    for i in range(pages):
        url = png_url(*size, label=f"{doc_id}/{i}")
        records.append({"type": "page", "v": 1, "doc": doc_id, "index": i,
                        "span": [min(i * per, len(text)), min((i + 1) * per, len(text))],
                        "width": size[0], "height": size[1], "dpi": 72,
                        "sha256": hashlib.sha256(url.encode()).hexdigest(), "image": url})
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
