"""Token accounting: what a page costs each VLM family, what its text costs a tokenizer.

Importing this package loads neither a tokenizer nor transformers; `get_tokenizer` loads on first use.
"""

from glyph_cli.tokens.text import DEFAULT_TOKENIZER, TextTokenizer, get_tokenizer
from glyph_cli.tokens.visual import (
    DEFAULT_FAMILY,
    FAMILIES,
    compression_ratio,
    page_visual_tokens,
    visual_tokens,
)

__all__ = [
    "DEFAULT_FAMILY",
    "DEFAULT_TOKENIZER",
    "FAMILIES",
    "TextTokenizer",
    "compression_ratio",
    "get_tokenizer",
    "page_visual_tokens",
    "visual_tokens",
]
