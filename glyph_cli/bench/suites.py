"""Building a task suite (RULER generated, MRCR and LongBench loaded) as task records for a file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Iterator

from glyph_cli.bench.tasks import Task
from glyph_cli.errors import UsageError

SUITES = ("ruler", "mrcr", "longbench")
# RULER's usual lengths are powers of two: "4k" is 4096 tokens.
_LENGTH = re.compile(r"^\s*(\d+)\s*([kKmM]?)\s*$")


def parse_lengths(values: Iterable[str]) -> list[int]:
    """`4k,8k 16384` -> [4096, 8192, 16384] (k = 1024, m = 1024 * 1024)."""
    out: list[int] = []
    for value in values:
        for piece in str(value).split(","):
            if not piece.strip():
                continue
            m = _LENGTH.match(piece)
            if not m:
                raise UsageError(f"length {piece!r} is not a number of tokens", "write 4096, 4k or 128k")
            n = int(m.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2).lower()]
            if n <= 0:
                raise UsageError(f"length {piece!r} must be positive")
            out.append(n)
    return out


def split_names(values: Iterable[str]) -> list[str]:
    return [p.strip() for v in values for p in str(v).split(",") if p.strip()]


SUITES = ("ruler", "mrcr", "longbench")


def build(suite: str, *, inputs: list[str], tokenizer: str, tasks: list[str], lengths: list[int], samples: int,
          seed: int, essay: str | None, haystack: str | None, datasets: list[str], limit: int | None,
          max_length: int | None, fewshot_room: bool = False) -> Iterator[Task]:
    from glyph_cli.tokens.text import get_tokenizer

    if suite not in SUITES:
        raise UsageError(f"unknown bench suite {suite!r}", f"choose from {', '.join(SUITES)}")
    count = get_tokenizer(tokenizer).count
    if suite == "ruler":
        from glyph_cli.bench.tasks import ruler

        if inputs:
            raise UsageError("RULER tasks are generated, not read from files", "drop the file arguments")
        names = tasks or list(ruler.TASKS)
        unknown = [n for n in names if n not in ruler.TASKS]
        if unknown:
            raise UsageError(f"unknown RULER task(s): {', '.join(unknown)}", f"choose from {', '.join(ruler.TASKS)}")
        if not lengths:
            raise UsageError("RULER needs --length (tokens per task), e.g. --length 4k,8k")
        return ruler.generate_suite(names, lengths, samples, count, seed=seed, haystack=haystack,
                                    essay=_essay(essay, names, haystack), fewshot_room=fewshot_room)
    if not inputs:
        raise UsageError(f"{suite} is read from your local copy of its public files", "name them as arguments")
    if suite == "mrcr":
        from glyph_cli.bench.tasks import mrcr

        return mrcr.load(inputs, count=count, max_length=max_length, limit=limit)
    if suite == "longbench":
        from glyph_cli.bench.tasks import longbench

        return longbench.load(inputs, count=count, datasets=datasets or None, limit=limit)
    raise UsageError(f"unknown suite {suite!r}", f"choose one of {', '.join(SUITES)}")


def _essay(path: str | None, names: list[str], haystack: str | None):
    """The essay haystack: the named file, or glyph's embedded sample text when one is needed."""
    from glyph_cli.bench.tasks import ruler

    if path is not None:
        p = Path(path)
        try:
            return ruler.Essay(p.read_text(encoding="utf-8"), p.name)
        except OSError as exc:
            raise UsageError(f"--essay {path}: cannot read: {exc.strerror}") from None
    needs = haystack == "essay" or (haystack is None and any(
        isinstance(ruler.TASKS[n], ruler.NiahSpec) and ruler.TASKS[n].haystack == "essay" for n in names))
    if not needs:
        return None
    from glyph_cli.typeset.job import sample_path

    return ruler.Essay(sample_path().read_text(encoding="utf-8"), "glyph-sample")
