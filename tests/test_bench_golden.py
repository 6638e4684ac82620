"""glyph's scorers against the values the reference implementations give on the same inputs
(tests/data/golden_scores.json, made by benchmarks/golden_scores.py from LongBench's, RULER's and
Glyph's own evaluation code)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from glyph_cli.bench import scoring as s

GOLDEN = json.loads((Path(__file__).parent / "data" / "golden_scores.json").read_text(encoding="utf-8"))


def _id(row: dict) -> str:
    return f"{row.get('dataset') or row.get('metric', 'mrcr')}:{(row.get('prediction') or row.get('response', ''))[:24]!r}"


@pytest.mark.parametrize("row", GOLDEN["longbench"], ids=_id)
def test_longbench_scores_equal_the_official_code(row):
    assert s.LONGBENCH_METRICS[row["dataset"]].__name__ == row["metric"]
    metric = s.LONGBENCH_METRICS[row["dataset"]]
    pred = row["prediction"]
    if row["dataset"] in s.FIRST_LINE_DATASETS:
        pred = pred.lstrip("\n").split("\n")[0]
    mine = [metric(pred, gt, all_classes=row["all_classes"]) for gt in row["answers"]]
    assert mine == pytest.approx(row["per_answer"], abs=1e-9)
    score = s.longbench_score(row["dataset"], row["prediction"], row["answers"], row["all_classes"])
    assert round(100 * score, 2) == row["scorer"]
    record = {"metric": "longbench", "answers": row["answers"],
              "details": {"dataset": row["dataset"], "all_classes": row["all_classes"]}}
    assert s.score_task(record, row["prediction"]) == pytest.approx(score)


@pytest.mark.parametrize("row", GOLDEN["ruler"], ids=_id)
def test_ruler_scores_equal_rulers_and_glyphs_code(row):
    record = {"metric": row["metric"], "answers": row["references"], "details": {}}
    mine = s.score_task(record, row["prediction"])
    assert mine == pytest.approx(row["glyph_recall"], abs=1e-12)
    assert round(100 * mine, 2) == row["ruler_score"]


def test_ruler_suite_score_is_the_mean_over_items():
    for metric, expected in GOLDEN["ruler_aggregate"].items():
        rows = [r for r in GOLDEN["ruler"] if r["metric"] == metric]
        mine = statistics.fmean(s.score_task({"metric": metric, "answers": r["references"], "details": {}},
                                             r["prediction"]) for r in rows)
        assert round(100 * mine, 2) == expected


@pytest.mark.parametrize("row", GOLDEN["mrcr"], ids=_id)
def test_mrcr_grade_equals_glyphs_grading(row):
    record = {"metric": "mrcr", "answers": [row["answer"]],
              "details": {"random_string_to_prepend": row["random_string_to_prepend"]}}
    assert s.score_task(record, row["response"]) == pytest.approx(row["grade"], abs=1e-12)


def test_the_golden_set_covers_every_metric_and_the_edge_cases():
    assert {r["metric"] for r in GOLDEN["longbench"]} == {f.__name__ for f in s.LONGBENCH_METRICS.values()}
    preds = [r["prediction"] for r in GOLDEN["longbench"]]
    assert "" in preds and any("\n" in p for p in preds) and any("北京" in p for p in preds)
    assert any(len(r["answers"]) > 1 for r in GOLDEN["longbench"])
