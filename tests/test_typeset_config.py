import json

import pytest

from glyph_cli.errors import ConfigError
from glyph_cli.typeset.config import PRESETS, resolve_config

OFFICIAL_EN = {  # the official repository's config_en.json, key for key
    "page-size": "595,842", "dpi": 72, "margin-x": 10, "margin-y": 10, "font-path": "../config/Verdana.ttf",
    "font-size": 9, "line-height": 10, "font-color": "#000000", "alignment": "LEFT", "horizontal-scale": 1.0,
    "first-line-indent": 0, "left-indent": 0, "right-indent": 0, "space-after": 0, "space-before": 0,
    "border-width": 0, "border-padding": 0, "page-bg-color": "#FFFFFF", "para-bg-color": "#FFFFFF",
    "auto-crop-width": True, "auto-crop-last-page": True,
    "newline-markup": "<font color=\"#FF0000\"> \\n </font>",
}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_shipped_presets_are_valid(name):
    cfg = resolve_config(name)
    assert cfg.font_size <= cfg.line_height


def test_glyph_preset_is_the_released_best_config():
    cfg = resolve_config("glyph")
    assert cfg.page_size == (595.0, 842.0) and cfg.dpi == 72 and (cfg.margin_x, cfg.margin_y) == (10, 10)
    assert (cfg.font_size, cfg.line_height) == (9, 10) and cfg.alignment == "left"
    assert cfg.newline == "marker" and cfg.marker_color == "#FF0000"
    assert cfg.auto_crop_width and cfg.auto_crop_last_page
    assert [resolve_config(p).dpi for p in ("dpi72", "dpi96", "dpi120")] == [72, 96, 120]


def test_official_config_keys_load_unchanged(tmp_path):
    font = tmp_path / "fonts" / "Verdana.ttf"
    font.parent.mkdir()
    font.write_bytes(b"")  # existence is what config resolution checks; the engine reads the font
    cfg_dir = tmp_path / "config"
    cfg_dir.mkdir()
    official = dict(OFFICIAL_EN, **{"font-path": "../fonts/Verdana.ttf"})
    (cfg_dir / "config_en.json").write_text(json.dumps(official))
    cfg = resolve_config(None, cfg_dir / "config_en.json")
    assert cfg.font_path == str(font.resolve())
    assert cfg.page_size == (595, 842) and cfg.fg_color == "#000000" and cfg.bg_color == "#FFFFFF"
    assert cfg.newline == "marker" and cfg.marker_text == " \\n " and cfg.alignment == "left"


def test_official_config_with_missing_font_names_the_file(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps(OFFICIAL_EN))
    with pytest.raises(ConfigError, match="Verdana.ttf not found"):
        resolve_config(None, tmp_path / "c.json")


def test_br_markup_means_real_line_breaks(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"newline-markup": "<br/>"}))
    assert resolve_config("glyph", tmp_path / "c.json").newline == "break"


def test_flags_override_file_override_preset(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"dpi": 96, "font_size": 10, "line_height": 12}))
    cfg = resolve_config("glyph", tmp_path / "c.json", {"dpi": 120})
    assert (cfg.dpi, cfg.font_size, cfg.line_height) == (120, 10, 12)


def test_theme_sets_defaults_but_explicit_colours_win():
    assert resolve_config("glyph", overrides={"theme": "dark"}).bg_color == "#1E1E1E"
    assert resolve_config("glyph", overrides={"theme": "code"}).font == "DejaVu Sans Mono"
    assert resolve_config("glyph", overrides={"theme": "dark", "bg_color": "#000000"}).bg_color == "#000000"


def test_named_and_custom_page_sizes():
    assert resolve_config("glyph", overrides={"page_size": "letter"}).page_size == (612, 792)
    assert resolve_config("glyph", overrides={"page_size": "300x400"}).page_size == (300, 400)


@pytest.mark.parametrize("override, message", [
    ({"line_height": 8}, "cannot be below font_size"),
    ({"dpi": 5}, "dpi must be between"),
    ({"alignment": "diagonal"}, "alignment must be one of"),
    ({"bit_depth": 3}, "bit_depth"),
    ({"page_size": "A9"}, "neither a named size"),
    ({"fg_color": "red"}, "#RRGGBB"),
    ({"margin_x": 290}, "line width"),
    ({"font_size": "big"}, "font_size must be float"),
    ({"colour": 1}, "unknown config key"),
    ({"border-width": 2}, "not supported"),
])
def test_invalid_values_are_refused_with_a_clear_message(override, message):
    with pytest.raises(ConfigError, match=message):
        resolve_config("glyph", overrides=override)


def test_config_file_errors_name_file_and_line(tmp_path):
    (tmp_path / "bad.json").write_text('{\n  "dpi": 72,\n}')
    with pytest.raises(ConfigError, match=r"bad.json:3"):
        resolve_config("glyph", tmp_path / "bad.json")
