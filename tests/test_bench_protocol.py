"""bench accuracy's protocols: glyph (the Glyph paper's evaluation) and ruler (RULER's own), the
"all" row as a mean of per-task scores, and provenance in results and reports."""

from __future__ import annotations

import json
import re

import pytest

from glyph_cli.bench import accuracy as acc
from glyph_cli.bench import protocol
from glyph_cli.bench.tasks import ruler
from glyph_cli.errors import UsageError
from glyph_cli.models import backend as backend_api

WORDS = lambda s: len(s.split())  # noqa: E731


def _record(name: str, length: int = 1200, index: int = 0) -> dict:
    return json.loads(json.dumps(ruler.generate(name, length, WORDS, index=index).to_record("words")))


class SamplingEcho(backend_api.Backend):
    """Records, per job, the decoding settings it was asked with; answers with the references."""

    name = "echo"

    def __init__(self):
        self.sampling = backend_api.Sampling()
        self.seen = []

    def describe(self):
        return {"backend": "echo", "model": "echo-1", "sampling": self.sampling.to_dict()}

    def generate(self, jobs, ordered=True):
        for job in jobs:
            self.seen.append((job, self.sampling))
            answers = job.meta["task"]["answers"]
            yield job, backend_api.Generation(raw="<think>no idea</think>" + " ".join(answers))


def test_ruler_protocol_prompt_has_the_fewshot_example_and_the_answer_prefix():
    vt = _record("vt")
    text = protocol.RULER.parts(vt, None, WORDS)
    assert len(text) == 1 and text[0].kind == "text"
    example = ruler.fewshot(vt, WORDS)
    assert text[0].value == example + vt["instruction"] + vt["text"] + vt["question"] + vt["answer_prefix"]
    # RULER's vt example: a solved 3-letter chain task of at most 500 tokens, then a blank line
    assert example.startswith(ruler.VT_INSTRUCTION) and example.endswith("\n\n")
    names = example.split("they are: ")[1].split()
    assert len(names) == 5 and all(re.fullmatch(r"[A-Z]{3}", n) for n in names)
    assert WORDS(example) <= ruler.VT_EXAMPLE_TOKENS + 5
    assert ruler.fewshot(vt, WORDS) == example  # the same record, the same example
    pages = protocol.RULER.parts(vt, ["data:image/png;base64,AA", "data:image/png;base64,BB"], WORDS)
    assert [p.kind for p in pages] == ["text", "image", "image", "text"]
    assert pages[0].value == example + vt["instruction"].strip()
    assert pages[-1].value == vt["question"].strip() + vt["answer_prefix"]
    cwe = _record("cwe", 2048)
    shot = ruler.fewshot(cwe, WORDS)
    assert shot.startswith(ruler.CWE_INSTRUCTION) and shot.endswith("\n")
    assert len(re.findall(r"\d+\. \w+", shot.split("are:")[1])) == 10
    assert "are:" in protocol.RULER.parts(cwe, None, WORDS)[0].value.split(cwe["text"])[0]
    assert ruler.fewshot(_record("niah_single_1"), WORDS) == ""


def test_glyph_protocol_prompt_is_the_papers():
    vt = _record("vt")
    text = protocol.GLYPH.parts(vt, None)
    assert [p.value for p in text] == [vt["instruction"] + vt["text"] + vt["question"]]
    pages = protocol.GLYPH.parts(vt, ["data:image/png;base64,AA"])
    assert [(p.kind, p.value) for p in pages] == [("text", vt["instruction"].strip()), ("image", "data:image/png;base64,AA"),
                                                 ("text", vt["question"].strip())]


def test_decoding_per_protocol():
    budgets = {name: protocol.RULER.sampling(_record(name)).max_new_tokens for name in ("niah_single_1", "vt", "cwe", "fwe")}
    assert budgets == {"niah_single_1": 128, "vt": 30, "cwe": 120, "fwe": 50}  # RULER's tokens_to_generate
    r = protocol.RULER.sampling(_record("vt"))
    assert r.greedy and r.repetition_penalty == 1.0 and r.repeat_window == 0
    g = protocol.GLYPH.sampling(_record("vt"))
    assert g.greedy and g.repetition_penalty == 1.1 and g.max_new_tokens == 8192
    assert protocol.RULER.sampling(_record("vt"), max_new_tokens=64).max_new_tokens == 64
    with pytest.raises(UsageError, match="unknown protocol"):
        protocol.get("longbench")


def _tasks(tmp_path, names=("niah_single_1", "vt")):
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps(_record(n, index=i)) + "\n" for n in names for i in range(2)))
    return acc.read_tasks([str(path)])


def test_ruler_run_asks_each_budget_group_with_its_settings_and_records_the_protocol(tmp_path):
    tasks = _tasks(tmp_path)
    echo = SamplingEcho()
    arms = [acc.Arm(acc.TEXT_ARM, None)]
    store = acc.ResultsFile(tmp_path / "r.jsonl")
    new = list(acc.AccuracyRun(echo, arms, "qwen2.5", "ruler").run(tasks, store, _policy()))
    assert {(j.meta["task"]["task"], s.max_new_tokens, s.repetition_penalty) for j, s in echo.seen} == {
        ("niah_single_1", 128, 1.0), ("vt", 30, 1.0)}
    assert all(r["protocol"] == "ruler" for r in new)
    # RULER scores the whole output: the echo's thinking block stays in the scored text
    assert all(r["answer"].startswith("<think>") and r["score"] == 1.0 for r in new)
    lines = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert lines[0]["type"] == "provenance" and lines[0]["protocol"] == "ruler"
    assert lines[0]["model"] == "echo-1" and lines[0]["glyph"] and lines[0]["time_utc"]
    # the same file cannot be continued under the other protocol
    with pytest.raises(UsageError, match="other parameters"):
        list(acc.AccuracyRun(SamplingEcho(), arms, "qwen2.5", "glyph").run(tasks, acc.ResultsFile(tmp_path / "r.jsonl"),
                                                                           _policy()))


def _policy():
    from glyph_cli import log

    return log.ErrorPolicy("fail")


def _result(task: str, score: float, i: int, suite: str = "ruler") -> dict:
    return {"type": "result", "key": f"{task}{i}|a", "arm": "a", "suite": suite, "task": task, "bucket": 4096,
            "score": score, "compression": 2.0, "params_sha256": "x"}


def test_all_row_is_the_mean_of_per_task_scores_not_of_pooled_items():
    rows = [_result("niah_single_1", 1.0, i) for i in range(3)] + [_result("vt", 0.0, 0)]
    summary = {s["task"]: s for s in acc.summarise(rows, ["a"], "ruler")}
    assert summary["niah_single_1"]["score"] == 100.0 and summary["vt"]["score"] == 0.0
    assert summary["all"]["score"] == 50.0  # pooled over the 4 items it would be 75
    assert summary["all"]["n"] == 4 and summary["all"]["tasks"] == 2
    assert {s["protocol"] for s in summary.values()} == {"ruler"}
    # Glyph's RULER average leaves out the two uuid tasks, as its post_api_ruler.py does
    rows.append(_result("niah_single_3", 0.0, 0))
    glyph_all = next(s for s in acc.summarise(rows, ["a"], "glyph") if s["task"] == "all")
    ruler_all = next(s for s in acc.summarise(rows, ["a"], "ruler") if s["task"] == "all")
    assert glyph_all["score"] == 50.0 and ruler_all["score"] == pytest.approx(33.33)
    table = acc.markdown_table(acc.summarise(rows, ["a"], "glyph"), "glyph")
    assert "mean of the per-task scores" in table and "niah_single_3" in table.split("\n\n")[-1]


def test_bench_accuracy_ruler_protocol_through_the_cli(glyph, tmp_path):
    from fake_openai_server import FakeServer

    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(_record(n, 1500)) + "\n" for n in ("niah_single_1", "vt")))
    server = FakeServer().start()
    try:
        report = tmp_path / "report"
        proc = glyph("bench", "accuracy", str(tasks), "-r", str(tmp_path / "r.jsonl"), "--base-url", server.base_url,
                     "--text-only", "--protocol", "ruler", "--report", str(report))
        assert proc.returncode == 0, proc.stderr
        assert b"1 vt/cwe task(s) were sized without RULER's in-context example" in proc.stderr
        bodies = {r["question"]: r["body"] for r in server.requests}
    finally:
        server.stop()
    assert sorted(b["max_tokens"] for b in bodies.values()) == [30, 128]
    assert all(b["repetition_penalty"] == 1.0 and b["temperature"] == 0.0 for b in bodies.values())
    vt_text = next(q for q in bodies if "variable" in q)
    assert vt_text.startswith(ruler.VT_INSTRUCTION) and vt_text.count(ruler.VT_INSTRUCTION) == 2  # example + task
    assert vt_text.endswith("they are: ")
    out = proc.stdout.decode()
    assert "protocol: ruler" in out and f"server: openai {server.base_url}" in out and "model: fake-glyph" in out
    assert (report / "table.md").read_text() == out
    first = json.loads((report / "summary.jsonl").read_text().splitlines()[0])
    assert first["type"] == "provenance" and first["protocol"] == "ruler"


def test_tasks_sized_for_the_ruler_protocol_count_the_example_as_ruler_does(glyph):
    from glyph_cli.tokens.text import get_tokenizer

    out = glyph("bench", "tasks", "ruler", "-t", "vt,cwe,niah_single_1", "-l", "4k", "--protocol", "ruler",
                check=True).stdout
    count = get_tokenizer("qwen2.5").count
    for rec in (json.loads(line) for line in out.splitlines()):
        prompt = protocol.RULER.parts(rec, None, count)[0].value  # what the ruler protocol sends
        assert count(prompt) + rec["max_new_tokens"] == rec["length"], rec["id"]
        assert 0.98 * 4096 <= rec["length"] <= 4096
        if rec["task"] != "niah_single_1":
            assert rec["details"]["sized_for"] == "ruler" and rec["details"]["fewshot_tokens"] > 200
