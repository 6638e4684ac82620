"""LongBench (v1 and LongBench-E) from the user's local copy of its public data files.

Each dataset is a JSONL file (`narrativeqa.jsonl`, `qasper_e.jsonl`, ...) of rows with `input`,
`context`, `answers`, `length`, `dataset`, `language`, `all_classes` and `_id`. The official prompt of
the dataset (glyph_cli/data/longbench.json, from LongBench's config) is split at its {context}: the
part before is the instruction, the part after (with {input} filled in) the question, so the context
alone is rendered. Generation budgets are LongBench's; scoring is its per-dataset metric.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable, Iterator


from glyph_cli.bench.scoring import LONGBENCH_METRICS
from glyph_cli.bench.tasks import Counter, Task
from glyph_cli.errors import InputError, UsageError
from glyph_cli.streams.io import iter_objects

REQUIRED = ("input", "context", "answers")


@lru_cache(maxsize=1)
def config() -> dict:
    return json.loads(resources.files("glyph_cli.data").joinpath("longbench.json").read_text(encoding="utf-8"))


def dataset_of(path: str, row: dict) -> str:
    name = row.get("dataset") or Path(path).name.split(".")[0].removesuffix("_e")
    return str(name)


def task_from_row(row: dict, dataset: str, source: str, line: int, count: Counter | None = None) -> Task:
    missing = [k for k in REQUIRED if k not in row]
    if missing:
        raise InputError(source, line, f"not a LongBench row: no {', '.join(missing)}")
    if dataset not in LONGBENCH_METRICS:
        raise InputError(source, line, f"unknown LongBench dataset {dataset!r}",
                         f"the datasets are {', '.join(LONGBENCH_METRICS)}")
    template = config()["prompts"][dataset]
    before, after = template.split("{context}")
    answers = row["answers"]
    if isinstance(answers, str):
        answers = [answers]
    task = Task(
        id=f"longbench-{dataset}-{row.get('_id') or line}",
        suite="longbench", task=dataset, context=row["context"],
        instruction=before.replace("{input}", row["input"]),
        question=after.replace("{input}", row["input"]),
        answers=list(answers), metric="longbench", max_new_tokens=config()["max_new_tokens"][dataset],
        details={"dataset": dataset, "all_classes": row.get("all_classes") or [], "language": row.get("language"),
                 "longbench_length": row.get("length"), "_id": row.get("_id")},
    )
    if count is not None:
        task.length = count(task.prompt_text())
    return task


def load(paths: Iterable[str], count: Counter | None = None, datasets: Iterable[str] | None = None,
         limit: int | None = None) -> Iterator[Task]:
    """LongBench tasks from JSONL files, or every `*.jsonl` in a directory; `limit` is per dataset."""
    wanted = set(datasets) if datasets else None
    files: list[str] = []
    for path in paths:
        p = Path(path)
        files += sorted(str(f) for f in p.glob("*.jsonl")) if p.is_dir() else [str(path)]
    if not files:
        raise UsageError("no LongBench files given", "name the dataset .jsonl files or the folder holding them")
    per_dataset: dict[str, int] = {}
    for path in files:
        for row, source, line in iter_objects(path, "LongBench file"):
            dataset = dataset_of(path, row)
            if wanted is not None and dataset not in wanted:
                continue
            if limit is not None and per_dataset.get(dataset, 0) >= limit:
                continue
            per_dataset[dataset] = per_dataset.get(dataset, 0) + 1
            yield task_from_row(row, dataset, source, line, count)

