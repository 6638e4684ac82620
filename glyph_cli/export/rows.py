"""Page rows: what every export format holds per page, built from a doc record and its pages."""

from __future__ import annotations

from typing import Iterable, Iterator

from glyph_cli.streams.pages import page_png

COLUMNS = ("doc", "index", "span", "text", "width", "height", "dpi", "visual_tokens", "sha256",
           "config_sha256", "image")


def page_rows(documents: Iterable[tuple[dict, list[dict]]]) -> Iterator[dict]:
    """One row per page: ids, span, the page's text (its span of the document's text), size, token
    cost per VLM family, checksums, and the PNG bytes under `image`."""
    for doc, pages in documents:
        text = doc.get("text") if isinstance(doc.get("text"), str) else ""
        for page in pages:
            start, end = page["span"]
            yield {"doc": str(page["doc"]), "index": page["index"], "span": [start, end], "text": text[start:end],
                   "width": page["width"], "height": page["height"], "dpi": float(page["dpi"]),
                   "visual_tokens": dict(page.get("visual_tokens") or {}), "sha256": page.get("sha256", ""),
                   "config_sha256": doc.get("config_sha256", ""), "image": page_png(page)}
