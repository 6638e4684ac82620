"""A cheap synthetic objective for the search loop's tests, with a known optimum, and a runner script.

accuracy = 1 - ((dpi - 96) / 255)^2 and compression = 1 - ((font_size - 10) / 7)^2, so every positive
weighting of the two is best at dpi 96, font size 10 pt.

    python tests/search_synthetic.py JOURNAL BUDGET [HANG_AT MARKER]

runs an NSGA-II search (seed 0) on the narrowed space; with HANG_AT it writes MARKER when it starts
evaluating that many-th evaluation and then sleeps, so a test can kill it mid-evaluation.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from glyph_cli.search.objectives import Measurement  # noqa: E402
from glyph_cli.search.space import SearchSpace  # noqa: E402
from glyph_cli.search.study import SearchSettings, run_search  # noqa: E402
from glyph_cli.typeset.config import resolve_config  # noqa: E402

OPTIMUM = {"dpi": 96, "font_size": 10.0}


class Synthetic:
    def __init__(self, hang_at: int | None = None, marker: str | None = None):
        self.calls = 0
        self.hang_at = hang_at
        self.marker = marker

    def describe(self) -> dict:
        return {"reader": "synthetic"}

    def evaluate(self, cfg) -> Measurement:
        self.calls += 1
        if self.hang_at is not None and self.calls == self.hang_at:
            Path(self.marker).write_text("evaluating")
            time.sleep(60)
        acc = 1 - ((cfg.dpi - 96) / 255) ** 2
        comp = 1 - ((cfg.font_size - 10) / 7) ** 2
        return Measurement(round(acc, 6), round(comp, 6), pages=1)


def space(tmp: Path) -> SearchSpace:
    """Only dpi and font size searched (the rest fixed at the preset)."""
    path = tmp / "space.json"
    others = ["page_size", "font", "line_gap", "alignment", "margin_x", "margin_y", "first_line_indent",
              "letter_spacing", "horizontal_scale", "theme", "newline", "crop"]
    path.write_text(json.dumps({name: None for name in others}))
    return SearchSpace.build(resolve_config("glyph"), path)


def settings(journal: Path, budget: int, proposer: str = "nsga", population: int = 8, llm=None) -> SearchSettings:
    return SearchSettings(storage=str(journal), space=space(journal.parent), objective={"reader": "synthetic"},
                          proposer=proposer, population=population, seed=0, budget_trials=budget, llm=llm)


if __name__ == "__main__":
    journal, budget = Path(sys.argv[1]), int(sys.argv[2])
    hang_at = int(sys.argv[3]) if len(sys.argv) > 3 else None
    marker = sys.argv[4] if len(sys.argv) > 4 else None
    objective = Synthetic(hang_at, marker)
    run_search(settings(journal, budget), lambda: objective, resume=journal.exists())
