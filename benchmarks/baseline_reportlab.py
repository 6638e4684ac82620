"""The released Glyph renderer, for same-machine comparisons. Used only by benchmarks.

Two things live here:
- `Released`: the released code itself, imported from a checkout of thu-coai/Glyph whose path the
  user gives (`scripts/word2png_function.py`, its `text_to_images`: reportlab -> PDF -> pdf2image /
  poppler -> PNG files). Nothing of it is copied into glyph.
- `released_lines`: glyph's own reading of what that code lays out, written from its public code:
  the same story (escaped text, runs of 2+ spaces as &nbsp;, 30 source lines per Paragraph joined by
  <br/>, a SimpleDocTemplate with the config's margins), built with reportlab, and the PDF's text read
  back per page and line with poppler's pdftotext. It gives the released line and page breaks.

Needs reportlab, pdf2image and poppler-utils (pdftotext, pdftoppm).
"""

from __future__ import annotations

import importlib.util
import io
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape


def released_config(release_dir: Path, dpi: int = 72) -> dict:
    import json

    cfg = json.loads((release_dir / "config" / "config_en.json").read_text())
    cfg["font-path"] = str(release_dir / "config" / "Verdana.ttf")
    cfg["dpi"] = dpi
    return cfg


class Released:
    """The released `text_to_images`, imported from its own directory."""

    def __init__(self, release_dir: Path):
        path = release_dir / "scripts" / "word2png_function.py"
        if not path.is_file():
            raise SystemExit(f"{path} not found: pass --release DIR, a checkout of thu-coai/Glyph")
        spec = importlib.util.spec_from_file_location("glyph_released_word2png", path)
        self.module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = self.module
        spec.loader.exec_module(self.module)
        self.release_dir = release_dir

    def render(self, text: str, out_dir: str, uid: str, dpi: int = 72, **overrides) -> list[str]:
        cfg = {**released_config(self.release_dir, dpi), **overrides}
        return self.module.text_to_images(text=text, output_dir=out_dir, config_dict=cfg, unique_id=uid)


_WS_RE = re.compile(r"[\s\u00a0]+")


def norm(line: str) -> str:
    return _WS_RE.sub(" ", line).strip()


def released_lines(text: str, font_file: str, margin: float = 10, font_size: float = 9,
                   leading: float = 10) -> list[list[str]]:
    """Per page, the non-empty lines the released layout draws (whitespace normalised). As the
    released code does, a text holding a CJK ideograph (U+4E00-U+9FFF) is wrapped with
    wordWrap="CJK"."""
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    name = "GlyphCmp" + Path(font_file).stem
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, font_file))
    style = ParagraphStyle("cmp", parent=getSampleStyleSheet()["Normal"], fontName=name, fontSize=font_size,
                           leading=leading, alignment=0,
                           wordWrap="CJK" if re.search("[\u4e00-\u9fff]", text) else None)
    body = escape(text.replace("\u00ad", "").replace("\u200b", ""))
    body = re.sub(r" {2,}", lambda m: "&nbsp;" * len(m.group()), body)
    parts = body.split("\n")
    story = [Paragraph("<br/>".join(parts[i:i + 30]), style) for i in range(0, len(parts), 30)]
    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=(595, 842), leftMargin=margin, rightMargin=margin, topMargin=margin,
                      bottomMargin=margin).build(story)
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "doc.pdf"
        pdf.write_bytes(buf.getvalue())
        out = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(pdf), "-"], check=True,
                             capture_output=True).stdout.decode("utf-8")
    pages = out.split("\f")
    if pages and not pages[-1].strip():
        pages.pop()
    return [[norm(ln) for ln in p.split("\n") if norm(ln)] for p in pages]
