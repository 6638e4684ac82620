"""A seeded sampler of render configs, for `glyph train data --style-sampling`.

Glyph's pre-training saw many rendering styles, drawn from the search space its genetic search
later moved in (GLYPH_NOTES): dpi 45-300 with favourites, the common paper sizes, font size
7-14 pt, line height = font size + 0..3 pt, mostly left or justified, margins 10-40 pt, first-line
or hanging indents, horizontal scale 0.75-1.0, several themes, newline markers or real breaks.
This is only the sampler training needs; the search stage declares the same space for its own use,
and the two may share one declaration later.

Each draw comes from `random.Random(f"{seed}:{key}")`, so one document's style depends only on the
seed and the document, not on the order documents arrive in.
"""

from __future__ import annotations

import random

from glyph_cli.typeset.config import PAGE_SIZES, THEMES, RenderConfig, resolve_config

FAVOURITE_DPI = (72, 80, 96, 100, 110, 120, 144, 150)


def sample_config(seed: int, key: str, max_dpi: int = 300) -> RenderConfig:
    """One style for the document `key`. `max_dpi` bounds the draw (high dpi means many visual tokens)."""
    rng = random.Random(f"{seed}:{key}")
    favourites = [d for d in FAVOURITE_DPI if d <= max_dpi] or [max_dpi]
    dpi = rng.choice(favourites) if rng.random() < 0.7 else rng.randint(45, max(45, max_dpi))
    font_size = rng.choice([7, 7.5, 8, 8.5, 9, 9.5, 10, 10.5, 11, 12, 13, 14])
    indent = rng.choice([0, 0, 0, 12, -12])  # first-line or hanging
    overrides = {
        "page_size": rng.choice(sorted(PAGE_SIZES)),
        "dpi": dpi,
        "font_size": font_size,
        "line_height": font_size + rng.choice([0, 0.5, 1, 1.5, 2, 3]),
        "alignment": rng.choice(["left", "left", "left", "justify", "justify"]),
        "margin_x": rng.randint(10, 40),
        "margin_y": rng.randint(10, 40),
        "first_line_indent": indent,
        "left_indent": -indent if indent < 0 else 0,  # a hanging indent needs room on the left
        "horizontal_scale": round(rng.uniform(0.75, 1.0), 2),
        "theme": rng.choice(sorted(THEMES)),
        "newline": rng.choice(["break", "marker"]),
        "auto_crop_width": rng.random() < 0.5,
        "auto_crop_last_page": rng.random() < 0.8,
    }
    return resolve_config(None, None, overrides)
