"""The word list behind RULER's keys and word lists (glyph_cli/data/bench_words.md says where it comes from)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def words() -> tuple[str, ...]:
    text = resources.files("glyph_cli.data").joinpath("bench_words.txt").read_text(encoding="utf-8")
    return tuple(line for line in text.splitlines() if line)
