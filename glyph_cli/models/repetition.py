"""The runaway-repetition guard.

A model that falls into a loop repeats the same few tokens until the length limit, which at
Glyph's 8,192 new tokens ties up a GPU for minutes and yields nothing useful. The guard watches the
tail of the output and stops generation once the last `window` units (tokens, or characters for a
server that streams text) are one short unit repeated at least `min_repeats` times. The record is
then finished with `finish: "repetition"` so an evaluation can count it.
"""

from __future__ import annotations

from typing import Sequence

# A server streams characters, not tokens: English averages about four characters per token.
CHARS_PER_TOKEN = 4


def repeating_tail(seq: Sequence, window: int, min_repeats: int = 4) -> int:
    """The period of the repetition filling the last `window` items of `seq`, or 0 if none.

    The tail is periodic with period p when every item equals the one p places before it; a unit
    of p <= window / min_repeats items then repeats at least `min_repeats` times. Slice comparison
    keeps this in C: about window / min_repeats comparisons of `window` items per call.
    """
    if window <= 0 or len(seq) < window:
        return 0
    tail = seq[len(seq) - window:]
    for period in range(1, window // min_repeats + 1):
        if tail[period:] == tail[:-period]:
            return period
    return 0


class TextGuard:
    """The guard for a reply that arrives as text chunks: it keeps only the tail it needs."""

    def __init__(self, window_tokens: int, min_repeats: int = 4, every: int = 32):
        self.window = window_tokens * CHARS_PER_TOKEN
        self.min_repeats = min_repeats
        self.every = every  # characters between checks: a loop is caught a few chunks late at worst
        self._tail = ""
        self._unchecked = 0

    def feed(self, chunk: str) -> bool:
        """Add the next chunk; True once the text ends in a runaway repetition."""
        if self.window <= 0 or not chunk:
            return False
        self._tail = (self._tail + chunk)[-self.window:]
        self._unchecked += len(chunk)
        if self._unchecked < self.every:
            return False
        self._unchecked = 0
        return repeating_tail(self._tail, self.window, self.min_repeats) > 0
