"""`glyph search` through the real entry point: the OCR reader on a tiny validation set, the best
config that `glyph render --config` takes unchanged, `glyph search show`, bad usage."""

from __future__ import annotations

import json
import shutil

import orjson
import pytest

from conftest import run_glyph

TEXT = ("The licenses for most software are designed to take away your freedom to share and change it.\n"
        "By contrast, this license is intended to guarantee your freedom to share and change free software.\n")


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")
def test_ocr_search_writes_a_best_config_that_renders(tmp_path):
    (tmp_path / "val.txt").write_text(TEXT * 3)
    # a small space: dpi and font size searched, everything else held at the preset
    space = {k: None for k in ("page_size", "font", "line_gap", "alignment", "margin_x", "margin_y",
                               "first_line_indent", "letter_spacing", "horizontal_scale", "theme", "newline")}
    space.update(dpi={"low": 60, "high": 100}, crop=True)
    (tmp_path / "space.json").write_text(json.dumps(space))
    proc = run_glyph("search", "run", "val.txt", "--study", "s.journal", "--space", "space.json", "--budget", "3",
                     "--population", "2", "--report", "report", cwd=tmp_path, check=True)
    front = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert front and all(r["type"] == "candidate" for r in front)
    assert all(0 < r["accuracy"] <= 1 and r["compression"] > 0 for r in front)
    assert all(r["metrics"]["ref_chars"] > 0 and r["metrics"]["read_s"] > 0 for r in front)
    assert b"3 candidates" in proc.stderr
    for name in ("report.md", "trials.jsonl", "front.jsonl", "best.json", "pareto.png", "progress.png"):
        assert (tmp_path / "report" / name).is_file(), name
    best = json.loads((tmp_path / "s.best.json").read_text())
    rendered = run_glyph("render", "--config", "s.best.json", "val.txt", cwd=tmp_path, check=True)
    head = orjson.loads(rendered.stdout.splitlines()[0])
    assert head["config"] == best  # taken unchanged: the same resolved config, key for key
    shown = run_glyph("search", "show", "s.journal", cwd=tmp_path, check=True)
    assert shown.stdout == proc.stdout
    table = run_glyph("search", "show", "s.journal", "--format", "table", cwd=tmp_path, check=True)
    assert b"(base)" in table.stdout and b"(best)" in table.stdout
    again = run_glyph("search", "run", "val.txt", "--study", "s.journal", "--space", "space.json", cwd=tmp_path)
    assert again.returncode == 2 and b"--resume" in again.stderr


def test_bad_usage_exits_2(tmp_path):
    assert run_glyph("search", "run", "--proposer", "genie", cwd=tmp_path).returncode == 2
    assert run_glyph("search", "run", "--proposer", "llm", cwd=tmp_path).returncode == 2
    assert run_glyph("search", "run", "--budget", "soon", cwd=tmp_path).returncode == 2
    (tmp_path / "space.json").write_text('{"dpi": {"low": 9, "high": 5}}')
    proc = run_glyph("search", "run", "--space", "space.json", cwd=tmp_path)
    assert proc.returncode == 2 and b"space.json" in proc.stderr
    assert run_glyph("search", "show", "missing.journal", cwd=tmp_path).returncode == 2
