"""`glyph bench accuracy`: a task suite through a model backend, scored, per length bucket, resumable.

Each task is asked once per arm: an arm is a render config (the context as page images, the
instruction and question as text, as Glyph is evaluated) or the plain-text baseline (the suite's
own text prompt). Results are appended to a JSONL file one line per (task, arm), flushed and synced
as each answer arrives; a rerun skips the (task, arm) pairs whose recorded parameters (model,
sampling, protocol, render config, tokenizer) match, and refuses a file made with other
parameters. A line torn by a crash is dropped on the next run. Each run that adds to the file
first appends a provenance line (model, server, glyph version, protocol, time).

How the prompt is built, decoded and scored is the run's protocol (glyph_cli/bench/protocol.py).
The "all" row of a summary is the mean of the per-task scores of its (suite, length, arm), not a
mean over the pooled items, so a task with more items does not weigh more.
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
from glyph_cli.bench import protocol as protocols
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


def params_sha(backend: dict, arm: Arm, tokenizer: str, protocol: str = "glyph", sampling: dict | None = None) -> str:
    blob = json.dumps({"backend": backend, "arm": arm.describe(), "tokenizer": tokenizer, "protocol": protocol,
                       "sampling": sampling}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _result_line(path: Path, number: int, line: bytes) -> dict:
    """One results line, checked: a line that parses but is not a whole result is an error, never
    silently ignored (its item would be asked again, a duplicate)."""
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError:
        rec = None
    if isinstance(rec, dict) and rec.get("type") == "provenance":
        return rec
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
        self.provenance: list[dict] = []
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
            if rec["type"] == "provenance":
                self.provenance.append(rec)
            else:
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
                             f"(model, sampling, protocol, render config or tokenizer)",
                             "use a new --results file for a different run")
        return True

    def append(self, records: Iterable[dict], provenance: dict | None = None) -> Iterator[dict]:
        """Append result lines as they come; the provenance line goes in front of the first one."""
        with open(self.path, "ab") as fh:
            for rec in records:
                if provenance is not None:
                    fh.write(dumps(provenance))
                    self.provenance.append(provenance)
                    provenance = None
                fh.write(dumps(rec))
                fh.flush()
                os.fsync(fh.fileno())
                self.done[rec["key"]] = rec
                yield rec


def _use_sampling(backend, sampling) -> None:
    """Point the backend at one group's decoding settings (the openai and transformers backends read
    `sampling` for every request, so groups run one after another share one loaded model)."""
    if getattr(backend, "sampling", None) != sampling:
        backend.sampling = sampling


class AccuracyRun:
    def __init__(self, backend, arms: list[Arm], tokenizer: str = "qwen2.5",
                 protocol: protocols.Protocol | str = protocols.GLYPH, max_new_tokens: int | None = None):
        from glyph_cli.tokens.text import get_tokenizer
        from glyph_cli.typeset.job import make_renderer

        self.backend = backend
        self.arms = arms
        self.tok = get_tokenizer(tokenizer)
        self.renderers = {a.label: make_renderer(a.cfg, tokenizer) for a in arms if a.cfg is not None}
        self.protocol = protocols.get(protocol) if isinstance(protocol, str) else protocol
        self.max_new_tokens = max_new_tokens
        # Decoding settings are the protocol's, per task; the rest describes the backend.
        self.backend_desc = {k: v for k, v in backend.describe().items() if k != "sampling"}

    def provenance(self, task_files: list[str] | None = None) -> dict:
        from glyph_cli.bench import provenance

        return provenance.record("accuracy", backend=self.backend_desc, protocol=self.protocol.name,
                                 protocol_settings=self.protocol.describe(), tokenizer=self.tok.name,
                                 max_new_tokens=self.max_new_tokens, task_files=task_files or [],
                                 arms=[a.describe() for a in self.arms])

    def sampling(self, task: dict):
        return self.protocol.sampling(task, self.max_new_tokens)

    def sha(self, task: dict, arm: Arm) -> str:
        return params_sha(self.backend_desc, arm, self.tok.name, self.protocol.name, self.sampling(task).to_dict())

    def _jobs(self, todo: list[tuple[dict, Arm]]):
        from glyph_cli.models.backend import Job

        for index, (task, arm) in enumerate(todo):
            meta = {"task": task, "arm": arm.label}
            if arm.cfg is None:
                parts = self.protocol.parts(task, None, self.tok.count)
                meta.update(pages=0, visual_tokens=None)
                pages = 0
            else:
                records = list(self.renderers[arm.label].render(Document(id=str(task["id"]), text=task["text"])))
                head, page_recs = records[0], records[1:]
                parts = self.protocol.parts(task, [p["image"] for p in page_recs], self.tok.count)
                pages = head["pages"]
                meta.update(pages=pages, visual_tokens=head["visual_tokens"])
            yield Job(index, f"{task['id']}|{arm.label}", str(task["id"]), task["question"], parts,
                      "text" if arm.cfg is None else "pages", pages, meta)

    def run(self, tasks: list[dict], results: ResultsFile, policy: log.ErrorPolicy,
            task_files: list[str] | None = None) -> Iterator[dict]:
        """Answer and score every (task, arm) not already in `results`; yields the new result lines.

        Tasks are asked in groups of equal decoding settings (the ruler protocol gives each task
        family its own budget), one group after another, through the same backend."""
        from glyph_cli.tokens.visual import DEFAULT_FAMILY

        todo = [(t, a) for t in tasks for a in self.arms if not results.check(f"{t['id']}|{a.label}", self.sha(t, a))]
        skipped = len(tasks) * len(self.arms) - len(todo)
        if skipped:
            log.info(f"resuming: {skipped} answer(s) already in {results.path}")
        if self.protocol.fewshot:
            unsized = sum(1 for t in tasks if t.get("suite") == "ruler" and t.get("task") in ("vt", "cwe")
                          and (t.get("details") or {}).get("sized_for") != "ruler")
            if unsized:
                log.warn(f"{unsized} vt/cwe task(s) were sized without RULER's in-context example, so their "
                         f"{self.protocol.name}-protocol prompts run past their length by the example (300-1,100 "
                         f"tokens); `glyph bench tasks ruler --protocol ruler` sizes them as RULER does")
        groups: dict[object, list[tuple[dict, Arm]]] = {}
        for task, arm in todo:
            groups.setdefault(self.sampling(task), []).append((task, arm))
        context_tokens: dict[str, int] = {}

        def scored() -> Iterator[dict]:
            for sampling, group in groups.items():
                _use_sampling(self.backend, sampling)
                for job, gen in self.backend.generate(self._jobs(group), ordered=False):
                    task, arm = job.meta["task"], job.meta["arm"]
                    if isinstance(gen, Exception):
                        policy.record_failed(GlyphError(f"task {task['id']} ({arm}): {gen}"))
                        continue
                    tid = str(task["id"])
                    if tid not in context_tokens:
                        context_tokens[tid] = self.tok.count(task["text"])
                    answer = self.protocol.prediction(gen.raw, gen.reasoning)
                    visual = job.meta["visual_tokens"]
                    yield {
                        "type": "result", "v": RESULT_VERSION, "key": f"{tid}|{arm}", "id": tid, "arm": arm,
                        "mode": job.mode, "suite": task.get("suite"), "task": task.get("task"),
                        "protocol": self.protocol.name, "max_new_tokens": sampling.max_new_tokens,
                        "bucket": length_bucket(task), "length": task.get("length"),
                        "context_tokens": context_tokens[tid], "tokenizer": self.tok.name,
                        "pages": job.meta["pages"], "visual_tokens": visual,
                        "compression": (round(context_tokens[tid] / visual[DEFAULT_FAMILY], 4)
                                        if visual and visual.get(DEFAULT_FAMILY) else None),
                        "answer": answer, "raw": gen.raw, "finish": gen.finish,
                        "score": score_task(task, answer), "answers": task["answers"],
                        "prompt_tokens": gen.prompt_tokens, "completion_tokens": gen.completion_tokens,
                        "latency_s": round(gen.latency_s, 4), "params_sha256": self.sha(task, self.arm(arm)),
                    }

        yield from results.append(scored(), provenance=self.provenance(task_files))

    def arm(self, label: str) -> Arm:
        return next(a for a in self.arms if a.label == label)


def summarise(results: Iterable[dict], arms: list[str],
              protocol: protocols.Protocol | str = protocols.GLYPH) -> list[dict]:
    """Score (mean x 100) and mean compression per (suite, task, bucket, arm), then an "all" row per
    (suite, bucket, arm): the mean of those per-task scores (each task weighs the same, however
    many items it has; tasks the protocol leaves out of its average are left out), its compression
    the mean of the per-task means."""
    proto = protocols.get(protocol) if isinstance(protocol, str) else protocol
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        if r["arm"] not in arms:
            continue
        groups.setdefault((r["suite"], r["task"], r["bucket"], r["arm"]), []).append(r)
    order = {a: i for i, a in enumerate(arms)}
    per_task = []
    for (suite, task, bucket, arm), rows in groups.items():
        ratios = [r["compression"] for r in rows if r["compression"] is not None]
        per_task.append({"type": "summary", "protocol": proto.name, "suite": suite, "task": task, "bucket": bucket,
                         "arm": arm, "n": len(rows), "tasks": 1,
                         "score": round(100 * statistics.fmean(r["score"] for r in rows), 2),
                         "compression": round(statistics.fmean(ratios), 3) if ratios else None})
    alls: dict[tuple, list[dict]] = {}
    for s in per_task:
        if (s["suite"], s["task"]) not in proto.all_excludes:
            alls.setdefault((s["suite"], s["bucket"], s["arm"]), []).append(s)
    for (suite, bucket, arm), rows in alls.items():
        ratios = [r["compression"] for r in rows if r["compression"] is not None]
        per_task.append({"type": "summary", "protocol": proto.name, "suite": suite, "task": "all", "bucket": bucket,
                         "arm": arm, "n": sum(r["n"] for r in rows), "tasks": len(rows),
                         "score": round(statistics.fmean(r["score"] for r in rows), 2),
                         "compression": round(statistics.fmean(ratios), 3) if ratios else None})
    return sorted(per_task, key=lambda s: (s["suite"], s["task"] == "all", s["task"], s["bucket"], order[s["arm"]]))


def markdown_table(summaries: list[dict], protocol: protocols.Protocol | str | None = None) -> str:
    lines = ["| suite | task | length | arm | n | score | compression (mean over items) |", "|---|---|---|---|---|---|---|"]
    for s in summaries:
        comp = "-" if s["compression"] is None else f"{s['compression']:.2f}x"
        lines.append(f"| {s['suite']} | {s['task']} | {s['bucket']} | {s['arm']} | {s['n']} | {s['score']:.2f} | {comp} |")
    note = ("\nscore: mean x 100 of the task's items; all: the mean of the per-task scores (each task weighs "
            "the same, not pooled over items), its compression the mean of the per-task means")
    if protocol is not None:
        proto = protocols.get(protocol) if isinstance(protocol, str) else protocol
        if proto.all_excludes:
            note += f"; the {proto.name} protocol leaves {', '.join(t for _, t in sorted(proto.all_excludes))} out of all"
    return "\n".join(lines) + "\n" + note + ".\n"


def load_results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if line.strip():
            rec = _result_line(path, number, line)
            if rec["type"] == "result":
                out.append(rec)
    return out
