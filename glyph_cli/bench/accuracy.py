"""`glyph bench accuracy`: a task suite through a model backend, scored, per length bucket, resumable.

Each task is asked once per arm: an arm is a render config (the context as page images, the
instruction and question as text, as Glyph is evaluated) or the plain-text baseline (the suite's
own text prompt). Results are appended to a JSONL file one line per (task, arm), flushed and synced
as each answer arrives; a rerun skips the (task, arm) pairs whose recorded parameters (model,
sampling, render config, tokenizer) match, and refuses a file made with other parameters. A line
torn by a crash is dropped on the next run.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import orjson

from glyph_cli import log
from glyph_cli.bench.scoring import score_task
from glyph_cli.errors import GlyphError, InputError, UsageError
from glyph_cli.streams.documents import Document
from glyph_cli.streams.io import dumps, iter_objects
from glyph_cli.typeset.config import RenderConfig

RESULT_VERSION = 1
TEXT_ARM = "text"


@dataclass(frozen=True)
class Arm:
    label: str
    cfg: RenderConfig | None  # None: the text baseline

    def describe(self) -> dict:
        if self.cfg is None:
            return {"label": self.label, "mode": "text"}
        return {"label": self.label, "mode": "pages", "config_sha256": self.cfg.sha256()}


def read_tasks(paths: Iterable[str]) -> list[dict]:
    """Task records (docs/BENCH.md) from JSONL files, checked for the fields scoring needs."""
    tasks: list[dict] = []
    seen: set[str] = set()
    for path in paths:
        for rec, source, line in iter_objects(path, "task file"):
            missing = [k for k in ("id", "text", "metric", "answers", "question") if k not in rec]
            if missing:
                raise InputError(source, line, f"not a task record: no {', '.join(missing)}",
                                 "make task files with `glyph bench tasks`")
            if str(rec["id"]) in seen:
                raise InputError(source, line, f"task id {rec['id']!r} appears twice")
            seen.add(str(rec["id"]))
            tasks.append(rec)
    return tasks


def length_bucket(task: dict) -> int:
    """The suite's length bucket: the target of a generated task, else the next power of two of
    K tokens at or above its measured length."""
    if task.get("target_length"):
        return int(task["target_length"])
    length = int(task.get("length") or 0)
    bucket = 1024
    while bucket < length:
        bucket *= 2
    return bucket


def params_sha(backend: dict, arm: Arm, tokenizer: str) -> str:
    blob = json.dumps({"backend": backend, "arm": arm.describe(), "tokenizer": tokenizer}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _result_line(path: Path, number: int, line: bytes) -> dict:
    """One results line, checked: a line that parses but is not a whole result is an error, never
    silently ignored (its item would be asked again, a duplicate)."""
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError:
        rec = None
    if (not isinstance(rec, dict) or rec.get("type") != "result" or not isinstance(rec.get("key"), str)
            or not isinstance(rec.get("params_sha256"), str)):
        raise InputError(str(path), number, "not a results line (damaged, or another file)",
                         "repair or remove that line, or use a new --results file")
    return rec


class ResultsFile:
    """The append-only results JSONL: what is done, and a safe way to add to it."""

    def __init__(self, path: Path):
        self.path = path
        self.done: dict[str, dict] = {}
        if path.exists():
            self._load()

    def _load(self) -> None:
        raw = self.path.read_bytes()
        good = len(raw)
        lines = raw.split(b"\n")
        if raw and not raw.endswith(b"\n"):
            # A crash mid-line: keep every whole line, drop the torn one.
            good = len(raw) - len(lines[-1])
            log.warn(f"{self.path}: dropping an incomplete last line left by an interrupted run")
            lines = lines[:-1]
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            rec = _result_line(self.path, number, line)
            self.done[rec["key"]] = rec
        if good != len(raw):
            with open(self.path, "r+b") as fh:
                fh.truncate(good)

    def check(self, key: str, sha: str) -> bool:
        """True if this (task, arm) is already done with these parameters; an error if done with others."""
        rec = self.done.get(key)
        if rec is None:
            return False
        if rec["params_sha256"] != sha:
            raise UsageError(f"{self.path} holds a result for {key} made with other parameters "
                             f"(model, sampling, render config or tokenizer)",
                             "use a new --results file for a different run")
        return True

    def append(self, records: Iterable[dict]) -> Iterator[dict]:
        with open(self.path, "ab") as fh:
            for rec in records:
                fh.write(dumps(rec))
                fh.flush()
                os.fsync(fh.fileno())
                self.done[rec["key"]] = rec
                yield rec


class AccuracyRun:
    def __init__(self, backend, arms: list[Arm], tokenizer: str = "qwen2.5"):
        from glyph_cli.tokens.text import get_tokenizer
        from glyph_cli.typeset.job import make_renderer

        self.backend = backend
        self.arms = arms
        self.tok = get_tokenizer(tokenizer)
        self.renderers = {a.label: make_renderer(a.cfg, tokenizer) for a in arms if a.cfg is not None}
        self.backend_desc = backend.describe()

    def shas(self) -> dict[str, str]:
        return {a.label: params_sha(self.backend_desc, a, self.tok.name) for a in self.arms}

    def _jobs(self, todo: list[tuple[dict, Arm]]):
        from glyph_cli.models.backend import Job
        from glyph_cli.models.prompts import Part

        for index, (task, arm) in enumerate(todo):
            meta = {"task": task, "arm": arm.label}
            if arm.cfg is None:
                parts = [Part("text", task.get("instruction", "") + task["text"] + task["question"])]
                meta.update(pages=0, visual_tokens=None)
                pages = 0
            else:
                records = list(self.renderers[arm.label].render(Document(id=str(task["id"]), text=task["text"])))
                head, page_recs = records[0], records[1:]
                parts = []
                if task.get("instruction", "").strip():
                    parts.append(Part("text", task["instruction"].strip()))
                parts += [Part("image", p["image"]) for p in page_recs]
                parts.append(Part("text", task["question"].strip()))
                pages = head["pages"]
                meta.update(pages=pages, visual_tokens=head["visual_tokens"])
            yield Job(index, f"{task['id']}|{arm.label}", str(task["id"]), task["question"], parts,
                      "text" if arm.cfg is None else "pages", pages, meta)

    def run(self, tasks: list[dict], results: ResultsFile, policy: log.ErrorPolicy) -> Iterator[dict]:
        """Answer and score every (task, arm) not already in `results`; yields the new result lines."""
        from glyph_cli.models.parse import split_thinking
        from glyph_cli.tokens.visual import DEFAULT_FAMILY

        shas = self.shas()
        todo = [(t, a) for t in tasks for a in self.arms if not results.check(f"{t['id']}|{a.label}", shas[a.label])]
        skipped = len(tasks) * len(self.arms) - len(todo)
        if skipped:
            log.info(f"resuming: {skipped} answer(s) already in {results.path}")
        context_tokens: dict[str, int] = {}

        def scored() -> Iterator[dict]:
            for job, gen in self.backend.generate(self._jobs(todo), ordered=False):
                task, arm = job.meta["task"], job.meta["arm"]
                if isinstance(gen, Exception):
                    policy.record_failed(GlyphError(f"task {task['id']} ({arm}): {gen}"))
                    continue
                tid = str(task["id"])
                if tid not in context_tokens:
                    context_tokens[tid] = self.tok.count(task["text"])
                answer = split_thinking(gen.raw, gen.reasoning).answer
                visual = job.meta["visual_tokens"]
                yield {
                    "type": "result", "v": RESULT_VERSION, "key": f"{tid}|{arm}", "id": tid, "arm": arm,
                    "mode": job.mode, "suite": task.get("suite"), "task": task.get("task"),
                    "bucket": length_bucket(task), "length": task.get("length"),
                    "context_tokens": context_tokens[tid], "tokenizer": self.tok.name,
                    "pages": job.meta["pages"], "visual_tokens": visual,
                    "compression": (round(context_tokens[tid] / visual[DEFAULT_FAMILY], 4)
                                    if visual and visual.get(DEFAULT_FAMILY) else None),
                    "answer": answer, "raw": gen.raw, "finish": gen.finish,
                    "score": score_task(task, answer), "answers": task["answers"],
                    "prompt_tokens": gen.prompt_tokens, "completion_tokens": gen.completion_tokens,
                    "latency_s": round(gen.latency_s, 4), "params_sha256": shas[arm],
                }

        yield from results.append(scored())


def summarise(results: Iterable[dict], arms: list[str]) -> list[dict]:
    """Score (mean x 100) and mean compression per (suite, task, bucket, arm), then per (suite, bucket, arm)."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        if r["arm"] not in arms:
            continue
        groups.setdefault((r["suite"], r["task"], r["bucket"], r["arm"]), []).append(r)
        groups.setdefault((r["suite"], "all", r["bucket"], r["arm"]), []).append(r)
    order = {a: i for i, a in enumerate(arms)}
    out = []
    for (suite, task, bucket, arm), rows in sorted(groups.items(), key=lambda kv: (
            kv[0][0], kv[0][1] == "all", kv[0][1], kv[0][2], order[kv[0][3]])):
        ratios = [r["compression"] for r in rows if r["compression"] is not None]
        out.append({"type": "summary", "suite": suite, "task": task, "bucket": bucket, "arm": arm, "n": len(rows),
                    "score": round(100 * statistics.fmean(r["score"] for r in rows), 2),
                    "compression": round(statistics.fmean(ratios), 3) if ratios else None})
    return out


def markdown_table(summaries: list[dict]) -> str:
    lines = ["| suite | task | length | arm | n | score | compression (mean over tasks) |", "|---|---|---|---|---|---|---|"]
    for s in summaries:
        comp = "-" if s["compression"] is None else f"{s['compression']:.2f}x"
        lines.append(f"| {s['suite']} | {s['task']} | {s['bucket']} | {s['arm']} | {s['n']} | {s['score']:.2f} | {comp} |")
    return "\n".join(lines) + "\n"


def load_results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if line.strip():
            out.append(_result_line(path, number, line))
    return out
