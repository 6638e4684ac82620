"""OpenAI MRCR (multi-round co-reference) from the user's local copy of its public files.

The dataset (openai/mrcr: 2needle / 4needle / 8needle, parquet) has one row per task: `prompt`, a
JSON list of chat messages ending with the user's request ("Prepend <prefix> to the 2nd poem about
tapirs..."), the `answer`, the `random_string_to_prepend`, and `n_needles`, `desired_msg_index`,
`total_messages`, `n_chars`. A JSONL export of the same rows works too.

As in Glyph, the conversation before the last message is the context, written out with "User:" and
"Assistant:" markers and rendered; the last message stays text. Scored by MRCR's grade(): see
glyph_cli.bench.scoring.mrcr_score.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import orjson

from glyph_cli.bench.tasks import Counter, Task
from glyph_cli.errors import InputError, UsageError
from glyph_cli.streams.io import display_name, iter_objects

ROLES = {"user": "User", "assistant": "Assistant", "system": "System"}
MAX_NEW_TOKENS = 8192  # Glyph's evaluation budget; MRCR answers are whole poems and posts
REQUIRED = ("prompt", "answer", "random_string_to_prepend")


def _rows(path: str) -> Iterator[tuple[dict, int]]:
    name = str(path)
    if name.endswith(".parquet"):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise UsageError(f"{name}: reading parquet needs pyarrow",
                             "pip install pyarrow, or export the rows to JSONL") from None
        table = pq.read_table(name)
        for number, row in enumerate(table.to_pylist(), start=1):
            yield row, number
        return
    for row, _source, number in iter_objects(path, "MRCR file"):
        yield row, number


def conversation_text(messages: list[dict]) -> str:
    return "\n\n".join(f"{ROLES.get(m['role'], m['role'].title())}: {m['content']}" for m in messages)


def task_from_row(row: dict, source: str, line: int, count: Counter | None = None) -> Task:
    missing = [k for k in REQUIRED if k not in row]
    if missing:
        raise InputError(source, line, f"not an MRCR row: no {', '.join(missing)}")
    messages = row["prompt"]
    if isinstance(messages, str):
        try:
            messages = orjson.loads(messages)
        except orjson.JSONDecodeError as exc:
            raise InputError(source, line, f"prompt is not a JSON list of messages: {exc}") from None
    if (not isinstance(messages, list) or len(messages) < 2
            or not all(isinstance(m, dict) and "role" in m and "content" in m for m in messages)):
        raise InputError(source, line, "prompt must be a list of {role, content} messages")
    if messages[-1]["role"] != "user":
        raise InputError(source, line, "the last message of an MRCR prompt must be the user's request")
    needles = row.get("n_needles")
    context = conversation_text(messages[:-1])
    task = Task(
        id=f"mrcr-{needles}needle-{Path(source).stem}-{line:05d}",
        suite="mrcr", task=f"{needles}needle", context=context,
        instruction="", question="\n\n" + conversation_text(messages[-1:]),
        answers=[row["answer"]], metric="mrcr", max_new_tokens=MAX_NEW_TOKENS,
        details={k: row.get(k) for k in ("random_string_to_prepend", "n_needles", "desired_msg_index",
                                         "total_messages", "n_chars")},
    )
    if count is not None:
        task.length = count(task.prompt_text())
    return task


def load(paths: Iterable[str], count: Counter | None = None, max_length: int | None = None,
         limit: int | None = None) -> Iterator[Task]:
    """MRCR tasks from local files, optionally only those of at most `max_length` tokens."""
    produced = 0
    for path in paths:
        source = display_name(path)
        for row, line in _rows(path):
            task = task_from_row(row, source, line, count)
            if max_length is not None and task.length is not None and task.length > max_length:
                continue
            yield task
            produced += 1
            if limit is not None and produced >= limit:
                return
