"""The released Glyph renderer's pipeline, rebuilt from its description for a same-machine baseline:
reportlab lays out Paragraphs (30 source lines each, joined by the newline marker) into a PDF,
poppler's pdftoppm rasterises it at the target dpi, pages are saved as RGB PNGs (Pillow, default
settings), with the same width / last-page crops. Needs `pip install reportlab` and poppler-utils;
used only by benchmarks, never by glyph itself."""

from __future__ import annotations

import io
import re
import subprocess
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image

FONT_FILE = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def render_pages(text: str, dpi: int = 72, font_file: str = FONT_FILE) -> list[bytes]:
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    if "BaselineFont" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("BaselineFont", font_file))
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=(595, 842), leftMargin=10, rightMargin=10, topMargin=10, bottomMargin=10)
    style = ParagraphStyle("glyph", fontName="BaselineFont", fontSize=9, leading=10)
    text = escape(text.replace("\u00ad", "").replace("\u200b", "").replace("\t", "    "))
    text = re.sub(r" {2,}", lambda m: "&nbsp;" * len(m.group()), text)
    lines = text.split("\n")
    marker = '<font color="#FF0000"> \\n </font>'
    story = [Paragraph(marker.join(lines[i:i + 30]), style) for i in range(0, len(lines), 30)]
    doc.build(story)
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "doc.pdf"
        pdf.write_bytes(buf.getvalue())
        subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(Path(tmp) / "p")], check=True)
        files = sorted(Path(tmp).glob("p-*.png"))
        out = []
        for i, f in enumerate(files):
            im = Image.open(f).convert("RGB")
            grey = np.asarray(im.convert("L"))
            ink_cols = np.where((grey < 250).any(axis=0))[0]
            right = min(im.width, int(ink_cols.max()) + 1 + round(10 * dpi / 72)) if len(ink_cols) else im.width
            bottom = im.height
            if i == len(files) - 1:
                ink_rows = np.where((grey < 250).any(axis=1))[0]
                if len(ink_rows):
                    bottom = min(im.height, int(ink_rows.max()) + 1 + round(10 * dpi / 72))
            im = im.crop((0, 0, right, bottom))
            png = io.BytesIO()
            im.save(png, "PNG")
            out.append(png.getvalue())
    return out
