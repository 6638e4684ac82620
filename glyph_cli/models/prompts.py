"""Prompts: one user turn holding the document's context and the question.

Glyph is served with one user message that holds every page as an image and then the question as
text; `--as-text` puts the document's text where the pages were, so both modes ask the same thing.
A template is plain text with two placeholders: `{context}` (exactly once: the pages, or the text)
and `{question}` (at least once). Other braces are left alone, so a template may quote JSON.

This module is the one prompt builder: `user_turn` assembles the parts of a user turn (text before
the context, the context as pages, text or a mix, text after it) for `glyph ask`, `glyph bench`,
`glyph search` and training examples, and `chat_messages` turns parts into the chat message every
backend and the training collator send (image parts as data URLs for an OpenAI-compatible server,
or as placeholders that a Hugging Face processor fills in).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

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

    def parts(self, question: str, *, images: list[str] | None = None, context_text: str | None = None,
              context: Sequence[Part] | None = None) -> list[Part]:
        """The user turn: the template with the context and the question filled in. The context is
        page images (`images`), the text (`context_text`), or any run of parts (`context`)."""
        before, after = self.text.split(CONTEXT)
        if context is None:
            context = [Part("image", url) for url in images] if images is not None else [Part("text", context_text or "")]
        return user_turn(before.replace(QUESTION, question), context, after.replace(QUESTION, question))


def default_template(as_text: bool) -> Template:
    return Template(TEXT_TEMPLATE if as_text else PAGES_TEMPLATE, "default")


def user_turn(before: str, context: Sequence[Part] | str, after: str) -> list[Part]:
    """The parts of one user turn: `before`, the context (parts, or plain text), `after`.

    Empty texts are dropped and neighbouring texts joined, so a text-only turn is one text part and
    a pages turn is [text?] images [text?], whatever the pieces were.
    """
    pieces = [Part("text", before)]
    pieces += [Part("text", context)] if isinstance(context, str) else list(context)
    pieces.append(Part("text", after))
    merged: list[Part] = []
    for part in pieces:
        if part.kind == "text" and not part.value:
            continue
        if merged and part.kind == "text" and merged[-1].kind == "text":
            merged[-1] = Part("text", merged[-1].value + part.value)
        else:
            merged.append(part)
    return merged


ImageForm = Literal["url", "placeholder"]


def chat_content(parts: Sequence[Part], images: ImageForm = "url") -> list[dict]:
    """A user turn's content list: `url` gives OpenAI-style `image_url` items (the data URL), and
    `placeholder` bare `{"type": "image"}` items that a Hugging Face processor fills in order."""
    if images not in ("url", "placeholder"):
        raise ValueError(f"unknown image form {images!r}")
    out: list[dict] = []
    for p in parts:
        if p.kind == "text":
            out.append({"type": "text", "text": p.value})
        elif images == "url":
            out.append({"type": "image_url", "image_url": {"url": p.value}})
        else:
            out.append({"type": "image"})
    return out


def chat_messages(parts: Sequence[Part], images: ImageForm = "url") -> list[dict]:
    """The conversation a backend sends: one user message holding the parts."""
    return [{"role": "user", "content": chat_content(parts, images)}]
