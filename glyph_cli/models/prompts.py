"""Prompts: one user turn holding the document's context and the question.

Glyph is served with one user message that holds every page as an image and then the question as
text; `--as-text` puts the document's text where the pages were, so both modes ask the same thing.
A template is plain text with two placeholders: `{context}` (exactly once: the pages, or the text)
and `{question}` (at least once). Other braces are left alone, so a template may quote JSON.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from glyph_cli.errors import UsageError

CONTEXT = "{context}"
QUESTION = "{question}"

# Glyph's served format: the pages, then the question with nothing in between.
PAGES_TEMPLATE = "{context}{question}"
# The text baseline needs a separator, or the question runs into the document's last word.
TEXT_TEMPLATE = "{context}\n\n{question}"

PartKind = Literal["image", "text"]


@dataclass(frozen=True)
class Part:
    kind: PartKind
    value: str  # a `data:image/png;base64,...` URL for images, the text otherwise


@dataclass(frozen=True)
class Template:
    text: str
    source: str  # "default", or the file it was read from

    @classmethod
    def load(cls, path: str | Path) -> "Template":
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--template {path}: cannot read: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise UsageError(f"--template {path}: not UTF-8 text") from None
        return cls.checked(text.removesuffix("\n"), str(path))

    @classmethod
    def checked(cls, text: str, source: str) -> "Template":
        if text.count(CONTEXT) != 1:
            raise UsageError(f"template {source}: needs {CONTEXT} exactly once (found {text.count(CONTEXT)})",
                             "it marks where the pages, or the text with --as-text, go")
        if QUESTION not in text:
            raise UsageError(f"template {source}: needs {QUESTION}")
        return cls(text, source)

    def describe(self) -> dict:
        return {"source": self.source, "sha256": hashlib.sha256(self.text.encode()).hexdigest()}

    def parts(self, question: str, *, images: list[str] | None = None, context_text: str | None = None) -> list[Part]:
        """The user turn: the template with the context (images or text) and the question filled in."""
        before, after = self.text.split(CONTEXT)
        parts = _text_parts(before.replace(QUESTION, question))
        if images is not None:
            parts += [Part("image", url) for url in images]
        else:
            parts += _text_parts(context_text or "")
        parts += _text_parts(after.replace(QUESTION, question))
        return _merge_text(parts)


def default_template(as_text: bool) -> Template:
    return Template(TEXT_TEMPLATE if as_text else PAGES_TEMPLATE, "default")


def _text_parts(text: str) -> list[Part]:
    return [Part("text", text)] if text else []


def _merge_text(parts: list[Part]) -> list[Part]:
    merged: list[Part] = []
    for part in parts:
        if merged and part.kind == "text" and merged[-1].kind == "text":
            merged[-1] = Part("text", merged[-1].value + part.value)
        else:
            merged.append(part)
    return merged
