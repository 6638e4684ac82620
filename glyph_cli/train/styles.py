"""A seeded sampler of render configs, for `glyph train data --style-sampling`.

Glyph's pre-training saw many rendering styles, drawn from the search space its genetic search
later moved in (GLYPH_NOTES). That space is declared once, in `glyph_cli.search.space`; this module
only draws points from it: each parameter uniformly on its grid, except dpi, which goes to one of the
favourite resolutions (72, 80, 96, 100, 110, 120, 144, 150) seven times in ten, and each other
parameter keeps the base config's value (the `glyph` preset: the released style) four times in ten,
so plain pages stay common while every parameter varies. A point that breaks a
constraint (unreadable colours, a text block that does not fit) is drawn again. Points with left
alignment, no indent and no letter spacing keep the released renderer's layout (wrap=words); the
others use Pango's flow, as `glyph render --preset glyph --align justify` does.

Each draw comes from `random.Random(f"{seed}:{key}")`, so one document's style depends only on the
seed and the document, not on the order documents arrive in.
"""

from __future__ import annotations

import functools
import random

from glyph_cli.errors import ConfigError
from glyph_cli.typeset.config import RenderConfig, resolve_config

FAVOURITE_DPI = (72, 80, 96, 100, 110, 120, 144, 150)
MAX_DRAWS = 100
KEEP_BASE = 0.4


@functools.lru_cache(maxsize=1)
def default_space():
    from glyph_cli.search.space import SearchSpace

    return SearchSpace.build(resolve_config("glyph"))


def sample_config(seed: int, key: str, max_dpi: int = 300, space=None) -> RenderConfig:
    """One style for the document `key`, a point of `space` (the search's default space over the
    `glyph` preset). `max_dpi` bounds the draw (high dpi means many visual tokens)."""
    space = space or default_space()
    rng = random.Random(f"{seed}:{key}")
    base = space.base_params()
    last = None
    for _ in range(MAX_DRAWS):
        params = {}
        for name, param in space.params.items():
            if name == "dpi" and param.kind != "choice":
                high = min(int(param.high), max_dpi)
                low = min(int(param.low), high)
                favourites = [d for d in FAVOURITE_DPI if low <= d <= high] or [high]
                params[name] = rng.choice(favourites) if rng.random() < 0.7 else rng.randint(low, high)
            elif rng.random() < KEEP_BASE:
                params[name] = base[name]
            else:
                params[name] = param.sample(rng)
        try:
            return space.to_config(params)
        except ConfigError as exc:
            last = exc
    raise ConfigError(f"no valid style in {MAX_DRAWS} draws from the search space (the last: {last})")
