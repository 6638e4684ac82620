"""The search space: the base config is a point of it, snapping, constraints, the user file."""

from __future__ import annotations

import json

import pytest

from glyph_cli.errors import ConfigError
from glyph_cli.search.space import SearchSpace, contrast_ratio
from glyph_cli.typeset.config import resolve_config


def test_the_base_config_is_a_point_of_the_space():
    base = resolve_config("glyph")
    space = SearchSpace.build(base)
    assert space.to_config(space.base_params()) == base
    wide = SearchSpace.build(resolve_config("glyph", overrides={"margin_x": 5.5, "dpi": 400}))
    assert wide.params["margin_x"].low == 5.5 and wide.params["dpi"].high == 400  # widened to hold the base


def test_line_height_is_font_size_plus_gap_and_themes_bring_colours():
    space = SearchSpace.build(resolve_config("glyph"))
    params = {**space.base_params(), "font_size": 12.0, "line_gap": 0.5, "theme": "dark", "crop": False}
    cfg = space.to_config(params)
    assert (cfg.font_size, cfg.line_height) == (12.0, 12.5)
    assert cfg.bg_color == "#1E1E1E" and not cfg.auto_crop_width and not cfg.auto_crop_last_page


def test_snap_clips_rounds_and_refuses():
    space = SearchSpace.build(resolve_config("glyph"))
    dpi = space.params["dpi"]
    assert dpi.snap(1000) == (300, True) and dpi.snap(96) == (96, False)
    assert space.params["font_size"].snap(10.26) == (10.5, True)
    assert space.params["alignment"].snap("Justify") == ("justify", True)
    for param, value in (("dpi", "lots"), ("alignment", "diagonal"), ("dpi", float("nan"))):
        with pytest.raises(ValueError):
            space.params[param].snap(value)


def test_unreadable_colours_are_refused():
    assert contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21)
    with pytest.raises(ConfigError, match="contrast"):
        SearchSpace.build(resolve_config("glyph", overrides={"fg_color": "#777777", "bg_color": "#888888"}))


def test_user_file_narrows_fixes_drops_and_adds(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps({"dpi": {"low": 60, "high": 120}, "theme": "document", "letter_spacing": None,
                                "space_after": {"type": "float", "low": 0, "high": 4, "step": 0.5}}))
    space = SearchSpace.build(resolve_config("glyph"), path)
    assert (space.params["dpi"].low, space.params["dpi"].high) == (60, 120)
    assert "theme" not in space.params and space.fixed == {"theme": "document"}
    assert "letter_spacing" not in space.params and "space_after" in space.params
    path.write_text('{"colour": 3}')
    with pytest.raises(ConfigError, match="colour"):
        SearchSpace.build(resolve_config("glyph"), path)
    path.write_text('{"dpi": {"low": 1')
    with pytest.raises(ConfigError, match=r"space.json:1"):
        SearchSpace.build(resolve_config("glyph"), path)


@pytest.mark.parametrize("preset", ["glyph", "glyph-marker"])
def test_points_sampled_from_the_space_are_valid_configs(preset):
    # The released flow (the glyph preset's wrap=words) draws no justify, indent, letter spacing or
    # inline marker: a point asking for one must fall back to Pango's flow, not fail as a trial.
    import optuna

    space = SearchSpace.build(resolve_config(preset))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    wraps = set()
    for _ in range(60):
        trial = study.ask(space.distributions())
        cfg = space.to_config(trial.params)
        wraps.add(cfg.wrap)
        if cfg.alignment == "justify" or cfg.newline == "marker" or cfg.letter_spacing or cfg.first_line_indent:
            assert cfg.wrap == "pango"
        study.tell(trial, 0.0)
    assert "pango" in wraps
