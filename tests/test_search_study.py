"""The search loop on a synthetic objective: it finds the known optimum, caches, and resumes after a kill."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from glyph_cli.errors import UsageError
from glyph_cli.search.study import best, candidates, history, load_study, parse_budget, run_search
from tests.search_synthetic import OPTIMUM, Synthetic, settings

SCRIPT = Path(__file__).with_name("search_synthetic.py")


def test_finds_the_known_optimum(tmp_path):
    objective = Synthetic()
    study = run_search(settings(tmp_path / "s.journal", 80, population=10), lambda: objective)
    rows = candidates(study)
    top = best(rows)
    assert abs(top["params"]["dpi"] - OPTIMUM["dpi"]) <= 12
    assert abs(top["params"]["font_size"] - OPTIMUM["font_size"]) <= 0.5
    assert top["score"] > 1.09  # the optimum scores 1.1 (weights 1 and 0.1)
    # the base config went first; duplicates were told their old values, never measured again
    assert rows[0]["base"] and rows[0]["params"] == {"dpi": 72, "font_size": 9.0}
    distinct = {r["config_sha256"] for r in rows}
    assert objective.calls == len(distinct) == sum(r["cached_from"] is None for r in rows)


def test_existing_study_needs_resume_and_the_same_settings(tmp_path):
    journal = tmp_path / "s.journal"
    run_search(settings(journal, 3), lambda: Synthetic())
    with pytest.raises(UsageError, match="--resume"):
        run_search(settings(journal, 3), lambda: Synthetic())
    other = settings(journal, 3, population=4)
    with pytest.raises(UsageError, match="population"):
        run_search(other, lambda: Synthetic(), resume=True)


def test_resume_after_kill_repeats_the_uninterrupted_history(tmp_path):
    whole = tmp_path / "whole" / "s.journal"
    whole.parent.mkdir()
    subprocess.run([sys.executable, str(SCRIPT), str(whole), "24"], check=True, timeout=120)

    cut = tmp_path / "cut" / "s.journal"
    cut.parent.mkdir()
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(cut), "24", "13", str(marker)])
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.kill()  # SIGKILL in the middle of an evaluation
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert 12 <= len(history(load_study(str(cut)))) < 24  # 12 evaluations, maybe a few cache hits
    subprocess.run([sys.executable, str(SCRIPT), str(cut), "24"], check=True, timeout=120)
    expected = history(load_study(str(whole)))
    assert len(expected) == 24
    assert history(load_study(str(cut))) == expected


def test_budget_parsing():
    assert parse_budget(["50"]) == (50, None)
    assert parse_budget(["90s", "7"]) == (7, 1.5)
    with pytest.raises(UsageError):
        parse_budget(["ten"])


def test_a_space_of_invalid_points_stops_instead_of_filling_the_journal(tmp_path, monkeypatch):
    from glyph_cli.errors import ConfigError, GlyphError
    from glyph_cli.search import study as study_mod

    monkeypatch.setattr(study_mod, "MAX_CONSECUTIVE_INVALID", 6)
    s = settings(tmp_path / "s.journal", 1000)

    def never(params):
        raise ConfigError("text colour #000000 on #000000 has contrast 1.00")

    monkeypatch.setattr(s.space, "to_config", never)
    objective = Synthetic()
    with pytest.raises(GlyphError, match="6 sampled configs in a row were invalid .*contrast 1.00"):
        run_search(s, lambda: objective)
    assert objective.calls == 0
    assert len(history(load_study(str(tmp_path / "s.journal")))) == 6
