"""bench accuracy: prompts per arm, official scores, per-length summary, resume after interruption."""

from __future__ import annotations

import json

import pytest

from glyph_cli.bench import accuracy as acc
from glyph_cli.bench.tasks import ruler
from glyph_cli.errors import UsageError
from glyph_cli.models import backend as backend_api
from glyph_cli.typeset.config import resolve_config


class EchoBackend(backend_api.Backend):
    """Answers from the prompt it is given: the first expected answer when the question mentions
    'special magic', else nothing; records every job so tests can look at the prompts."""

    name = "echo"

    def __init__(self, fail_on: str | None = None, stop_after: int | None = None):
        self.jobs = []
        self.fail_on = fail_on
        self.stop_after = stop_after

    def describe(self) -> dict:
        return {"backend": "echo", "model": "echo-1", "sampling": {"max_new_tokens": 16}}

    def generate(self, jobs, ordered=True):
        for job in jobs:
            if self.stop_after is not None and len(self.jobs) >= self.stop_after:
                raise KeyboardInterrupt
            self.jobs.append(job)
            task = job.meta["task"]
            if self.fail_on and task["id"] == self.fail_on:
                yield job, RuntimeError("server said no")
                continue
            answer = " ".join(task["answers"]) if job.mode == "pages" else "no idea"
            yield job, backend_api.Generation(raw=f"<think>hmm</think>{answer}", prompt_tokens=10,
                                              completion_tokens=3, latency_s=0.01)

    def close(self) -> None:
        pass


def _tasks(tmp_path):
    words = lambda s: len(s.split())  # noqa: E731
    records = [ruler.generate(name, 1200, words, index=i).to_record("words")
               for name in ("niah_single_1", "vt") for i in range(2)]
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return acc.read_tasks([str(path)])


def _arms():
    return [acc.Arm("glyph@72dpi", resolve_config("glyph", None, {"dpi": 72})), acc.Arm(acc.TEXT_ARM, None)]


def test_prompts_scores_and_summary(tmp_path):
    tasks = _tasks(tmp_path)
    backend = EchoBackend()
    store = acc.ResultsFile(tmp_path / "results.jsonl")
    new = list(acc.AccuracyRun(backend, _arms()).run(tasks, store, _policy()))
    assert len(new) == 8
    pages_job = next(j for j in backend.jobs if j.mode == "pages")
    kinds = [p.kind for p in pages_job.parts]
    assert kinds[0] == "text" and kinds[-1] == "text" and set(kinds[1:-1]) == {"image"}
    assert pages_job.parts[-1].value == pages_job.meta["task"]["question"].strip()
    text_job = next(j for j in backend.jobs if j.mode == "text")
    task = text_job.meta["task"]
    assert [p.value for p in text_job.parts] == [task["instruction"] + task["text"] + task["question"]]
    by_arm = {r["arm"]: r for r in new if r["id"] == tasks[0]["id"]}
    assert by_arm["glyph@72dpi"]["score"] == 1.0 and by_arm["text"]["score"] == 0.0
    assert by_arm["glyph@72dpi"]["compression"] > 1 and by_arm["text"]["compression"] is None
    assert by_arm["glyph@72dpi"]["answer"] == tasks[0]["answers"][0]  # thinking stripped
    summary = acc.summarise(store.done.values(), ["glyph@72dpi", "text"])
    overall = {(s["task"], s["arm"]): s for s in summary if s["bucket"] == 1200}
    assert overall[("all", "glyph@72dpi")]["score"] == 100.0 and overall[("all", "glyph@72dpi")]["n"] == 4
    assert overall[("all", "text")]["score"] == 0.0
    table = acc.markdown_table(summary)
    assert "| ruler | niah_single_1 | 1200 | glyph@72dpi | 2 | 100.00 |" in table


def _policy(on_error="fail"):
    from glyph_cli import log

    return log.ErrorPolicy(on_error)


def test_resume_skips_finished_work_and_drops_a_torn_line(tmp_path):
    tasks = _tasks(tmp_path)
    path = tmp_path / "results.jsonl"
    store = acc.ResultsFile(path)
    with pytest.raises(KeyboardInterrupt):
        for _ in acc.AccuracyRun(EchoBackend(stop_after=3), _arms()).run(tasks, store, _policy()):
            pass
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["type"] for x in lines] == ["provenance", "result", "result", "result"]
    with open(path, "ab") as fh:
        fh.write(b'{"type": "result", "key": "half')  # a crash in the middle of a line
    backend = EchoBackend()
    store = acc.ResultsFile(path)
    new = list(acc.AccuracyRun(backend, _arms()).run(tasks, store, _policy()))
    assert len(new) == 5 and len(backend.jobs) == 5
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    results = [x for x in lines if x["type"] == "result"]
    assert len(results) == 8 and len({x["key"] for x in results}) == 8
    # each run that added answers says who made them, in front of its first answer
    assert [i for i, x in enumerate(lines) if x["type"] == "provenance"] == [0, 4]
    assert lines[4]["model"] == "echo-1" and lines[4]["protocol"] == "glyph" and lines[4]["glyph"]


def test_resume_refuses_results_made_with_other_parameters(tmp_path):
    tasks = _tasks(tmp_path)
    path = tmp_path / "results.jsonl"
    list(acc.AccuracyRun(EchoBackend(), _arms()).run(tasks, acc.ResultsFile(path), _policy()))

    class Other(EchoBackend):
        def describe(self):
            return {"backend": "echo", "model": "echo-2"}

    with pytest.raises(UsageError, match="other parameters"):
        list(acc.AccuracyRun(Other(), _arms()).run(tasks, acc.ResultsFile(path), _policy()))


def test_backend_failure_follows_the_error_policy(tmp_path):
    tasks = _tasks(tmp_path)
    policy = _policy("skip")
    new = list(acc.AccuracyRun(EchoBackend(fail_on=tasks[1]["id"]), _arms()).run(
        tasks, acc.ResultsFile(tmp_path / "r.jsonl"), policy))
    assert len(new) == 6 and policy.failed == 2


def test_length_buckets():
    assert acc.length_bucket({"target_length": 4096, "length": 4000}) == 4096
    assert acc.length_bucket({"length": 5000}) == 8192
    assert acc.length_bucket({"length": 100}) == 1024
