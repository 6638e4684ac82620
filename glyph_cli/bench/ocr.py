"""Reading rendered pages back without a VLM: OCR readers and the character error rate of a page.

The reference of a page is the exact slice of its document that the page shows (its `span`), made
to look like what is drawn, because a reader can only be asked to read what is on the page:

- soft hyphens and zero-width characters are removed (the typesetter drops them);
- with newline markers, each newline becomes the marker text (by default `\\n` between spaces),
  because the page shows the marker where the text has a newline;
- all runs of whitespace, on both sides, become one space and the ends are stripped: where a line
  wraps is layout, not content, and no reader reports runs of spaces faithfully.

CER = Levenshtein distance(reference, OCR text) / len(reference). A document's CER is the sum of its
pages' distances over the sum of their reference lengths (each character weighs the same).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Protocol

from glyph_cli.errors import GlyphError, UsageError

_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_SPACE = re.compile(r"\s+")

READERS = ("tesseract", "rapidocr")


def levenshtein(a: str, b: str) -> int:
    """Edit distance (unit insert, delete, substitute), by rapidfuzz."""
    try:
        from rapidfuzz.distance import Levenshtein
    except ImportError:
        raise UsageError("reading pages back scores them with rapidfuzz, which is not installed",
                         "pip install 'glyph-cli[bench]'") from None
    return Levenshtein.distance(a, b)


def normalize_ocr(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def page_reference(text: str, span: tuple[int, int] | list[int], newline: str = "break",
                   marker_text: str = " \\n ") -> str:
    """What a page shows, as text a reader should return (see the module docstring)."""
    piece = _INVISIBLE.sub("", text[span[0]:span[1]])
    if newline == "marker":
        piece = piece.replace("\r\n", "\n").replace("\n", marker_text)
    return normalize_ocr(piece)


@dataclass
class PageScore:
    edits: int
    ref_chars: int

    @property
    def cer(self) -> float:
        return self.edits / self.ref_chars if self.ref_chars else float(self.edits > 0)


def score_page(reference: str, ocr_text: str) -> PageScore:
    return PageScore(levenshtein(reference, normalize_ocr(ocr_text)), len(reference))


class Reader(Protocol):
    name: str

    def read(self, png: bytes) -> str: ...

    def version(self) -> str: ...


class TesseractReader:
    """The `tesseract` command: one page as one uniform block of text (--psm 6), English model."""

    name = "tesseract"

    def __init__(self, lang: str = "eng", psm: int = 6):
        self.exe = shutil.which("tesseract")
        if self.exe is None:
            raise UsageError("--reader tesseract: the tesseract command is not installed",
                             "install it (Debian: apt-get install tesseract-ocr) or use --reader rapidocr")
        self.lang = lang
        self.psm = psm
        # One thread per page: tesseract's OpenMP threads fight each other and slow small pages down.
        self.env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def read(self, png: bytes) -> str:
        proc = subprocess.run([self.exe, "-", "-", "--psm", str(self.psm), "-l", self.lang], input=png,
                              capture_output=True, env=self.env, timeout=600)
        if proc.returncode != 0:
            raise GlyphError(f"tesseract failed (exit {proc.returncode}): {proc.stderr.decode(errors='replace')[-300:]}")
        return proc.stdout.decode("utf-8", errors="replace")

    def version(self) -> str:
        out = subprocess.run([self.exe, "--version"], capture_output=True, text=True).stdout
        return out.splitlines()[0].strip() if out else "tesseract"


class RapidOcrReader:
    """RapidOCR (PP-OCR models shipped inside its wheel, run by onnxruntime).

    Its text-direction classifier is off: on rendered pages it flips upright lines and garbles them.
    Lines are put back in reading order by their boxes: top to bottom, then left to right.
    """

    name = "rapidocr"

    def __init__(self, max_side: int = 4000):
        try:
            from rapidocr import RapidOCR
        except ImportError:
            raise UsageError("--reader rapidocr needs the rapidocr and onnxruntime packages",
                             "pip install 'glyph-cli[ocr]'") from None
        self.engine = RapidOCR(params={"Global.use_cls": False, "Global.max_side_len": max_side,
                                       "Global.log_level": "error"})

    def read(self, png: bytes) -> str:
        import io

        import numpy as np
        from PIL import Image

        image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        result = self.engine(image)
        boxes = getattr(result, "boxes", None)
        texts = getattr(result, "txts", None)
        if boxes is None or texts is None:
            return ""
        return "\n".join(_reading_order(list(boxes), list(texts)))

    def version(self) -> str:
        from importlib.metadata import version

        return f"rapidocr {version('rapidocr')}"


def _reading_order(boxes: list, texts: list[str]) -> list[str]:
    """Group detected boxes into lines (vertical centres closer than half a box height), then order."""
    items = []
    for box, text in zip(boxes, texts):
        ys = [float(p[1]) for p in box]
        xs = [float(p[0]) for p in box]
        items.append(((min(ys) + max(ys)) / 2, max(ys) - min(ys), min(xs), text))
    items.sort(key=lambda t: (t[0], t[2]))
    lines: list[list[tuple]] = []
    for item in items:
        if lines and abs(item[0] - lines[-1][0][0]) < max(item[1], lines[-1][0][1]) / 2:
            lines[-1].append(item)
        else:
            lines.append([item])
    return [" ".join(t[3] for t in sorted(line, key=lambda t: t[2])) for line in lines]


def make_reader(name: str) -> Reader:
    if name == "tesseract":
        return TesseractReader()
    if name == "rapidocr":
        return RapidOcrReader()
    raise UsageError(f"unknown reader {name!r}", f"choose one of {', '.join(READERS)}")
