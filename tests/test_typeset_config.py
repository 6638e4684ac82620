import json

import pytest

from glyph_cli.errors import ConfigError
from glyph_cli.typeset.config import PRESETS, resolve_config

OFFICIAL_EN = {  # the official repository's config_en.json, key for key
    "page-size": "595,842", "dpi": 72, "margin-x": 10, "margin-y": 10, "font-path": "../config/Verdana.ttf",
    "font-size": 9, "line-height": 10, "font-color": "#000000", "alignment": "LEFT", "horizontal-scale": 1.0,
    "first-line-indent": 0, "left-indent": 0, "right-indent": 0, "space-after": 0, "space-before": 0,
    "border-width": 0, "border-padding": 0, "page-bg-color": "#FFFFFF", "para-bg-color": "#FFFFFF",
    "auto-crop-width": True, "auto-crop-last-page": True,  # no newline-markup key: real line breaks
}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_shipped_presets_are_valid(name):
    cfg = resolve_config(name)
    assert cfg.font_size <= cfg.line_height


def test_glyph_preset_is_the_released_best_config():
    cfg = resolve_config("glyph")
    assert cfg.page_size == (595.0, 842.0) and cfg.dpi == 72 and (cfg.margin_x, cfg.margin_y) == (10, 10)
    assert (cfg.font_size, cfg.line_height) == (9, 10) and cfg.alignment == "left"
    assert cfg.newline == "break" and cfg.wrap == "words" and cfg.tabs == "space"
    assert (cfg.frame_padding, cfg.baseline, cfg.paragraph_lines) == (6, "font-size", 30)
    assert cfg.text_width == 563 and cfg.text_height == 810  # reportlab's frame: 16 pt effective margins
    assert cfg.auto_crop_width and cfg.auto_crop_last_page
    assert [resolve_config(p).dpi for p in ("dpi72", "dpi96", "dpi120")] == [72, 96, 120]
    assert all(resolve_config(p).wrap == "words" for p in ("dpi72", "dpi96", "dpi120"))
    marker = resolve_config("glyph-marker")
    assert (marker.newline, marker.wrap, marker.marker_color, marker.frame_padding) == ("marker", "pango", "#FF0000", 0)


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
    assert cfg.alignment == "left"
    # laid out as the released code lays it out, whatever the preset
    for preset in (None, "glyph", "glyph-marker"):
        got = resolve_config(preset, cfg_dir / "config_en.json")
        assert (got.newline, got.wrap, got.frame_padding, got.paragraph_lines) == ("break", "words", 6, 30)


def test_official_config_with_missing_font_falls_back_and_says_so(tmp_path, capsys):
    (tmp_path / "c.json").write_text(json.dumps(OFFICIAL_EN))
    cfg = resolve_config(None, tmp_path / "c.json")
    assert cfg.font_path is None and cfg.font == "DejaVu Sans"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Verdana.ttf not found" in err and "DejaVu Sans" in err


def test_explicit_missing_font_file_is_an_error():
    with pytest.raises(ConfigError, match="nothere.ttf not found"):
        resolve_config("glyph", overrides={"font_path": "/nonexistent/nothere.ttf"})


def test_marker_markup_in_an_official_config_draws_the_marker(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"font-size": 9, "newline-markup": '<font color="#00FF00"> \\n </font>'}))
    cfg = resolve_config("glyph", tmp_path / "c.json")
    assert (cfg.newline, cfg.wrap, cfg.marker_color) == ("marker", "pango", "#00FF00")


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
    ({"font_size": "big"}, "font_size must be a number"),
    ({"font_size": float("inf")}, "font_size must be a finite number"),
    ({"dpi": float("nan")}, "dpi must be a finite number"),
    ({"margin_x": "inf"}, "margin_x must be a finite number"),
    ({"font": 12}, "font must be a string"),
    ({"fg_color": 0}, "fg_color must be a string"),
    ({"alignment": ["left"]}, "alignment must be a string"),
    ({"font_path": 3}, "font_path must be a string"),
    ({"dpi": [72]}, "dpi must be a number"),
    ({"tab_width": {"a": 1}}, "tab_width must be a whole number"),
    ({"page_size": "14400,14400", "dpi": 600}, "cairo's limit"),
    ({"wrap": "words", "newline": "marker"}, "newline=break"),
    ({"colour": 1}, "unknown config key"),
    ({"border-width": -1}, "border_width must be 0..50"),
    ({"para-bg-color": "#FFFF00", "wrap": "pango"}, "wrap=words"),
    ({"para-bg-color": "yellow"}, "para_bg_color must be #RRGGBB"),
])
def test_invalid_values_are_refused_with_a_clear_message(override, message):
    with pytest.raises(ConfigError, match=message):
        resolve_config("glyph", overrides=override)


def test_config_file_errors_name_file_and_line(tmp_path):
    (tmp_path / "bad.json").write_text('{\n  "dpi": 72,\n}')
    with pytest.raises(ConfigError, match=r"bad.json:3"):
        resolve_config("glyph", tmp_path / "bad.json")
