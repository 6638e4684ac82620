"""glyph: visual-text compression as a Unix toolchain, and the Python API under it (docs/API.md).

The API names load on first use (PEP 562), so `import glyph_cli` costs no torch, transformers,
Pango, Ray or pyarrow: `glyph --help` and a notebook's first import stay fast.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `from typing import ...`: `glyph` installs its signal handlers after this import

__version__ = "0.1.0"

_API = ("Page", "Renderer", "render", "count_text_tokens", "visual_tokens", "compression", "open_bundle",
        "Bundle", "BundleWriter", "ask", "make_backend", "RenderConfig", "Document")

__all__ = ["__version__", *_API]

if TYPE_CHECKING:
    from glyph_cli.api import (Bundle, BundleWriter, Document, Page, RenderConfig, Renderer, ask, compression,
                               count_text_tokens, make_backend, open_bundle, render, visual_tokens)


def __getattr__(name: str):
    if name in _API:
        from glyph_cli import api

        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'glyph_cli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
