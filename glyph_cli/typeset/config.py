"""The render configuration: every parameter of Glyph's rendering and its search space.

Resolution order, later wins: preset -> theme defaults -> config file -> command-line flags.
The official Glyph repository's hyphenated keys (`page-size`, `font-size`, `newline-markup`, ...)
load unchanged; see `OFFICIAL_KEYS`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from glyph_cli.errors import ConfigError
from glyph_cli.records import config_sha256

# Page sizes in PostScript points (1/72 in).
PAGE_SIZES: dict[str, tuple[float, float]] = {
    "A3": (842, 1191),
    "A4": (595, 842),
    "A5": (420, 595),
    "B4": (709, 1001),
    "B5": (499, 709),
    "Letter": (612, 792),
    "Legal": (612, 1008),
    "Tabloid": (792, 1224),
}

ALIGNMENTS = ("left", "right", "center", "justify")
NEWLINES = ("break", "marker")
WRAPS = ("words", "pango")  # words: the released reportlab rules; pango: Unicode line breaking (UAX #14)
TABS = ("spaces", "space", "nbsp")
BASELINES = ("font-size", "centered")
HINTINGS = ("none", "slight", "medium", "full")
BIT_DEPTHS = (1, 2, 4, 8)
PNG_DEFLATES = ("glyph", "libdeflate")

# Themes set colours (and a font for `code`) unless the user sets them explicitly.
THEMES: dict[str, dict[str, Any]] = {
    "document": {"fg_color": "#000000", "bg_color": "#FFFFFF", "marker_color": "#FF0000"},
    "dark": {"fg_color": "#E6E6E6", "bg_color": "#1E1E1E", "marker_color": "#FF6B6B"},
    "code": {"fg_color": "#1F2328", "bg_color": "#F6F8FA", "marker_color": "#CF222E",
             "font": "DejaVu Sans Mono"},
    "web": {"fg_color": "#222222", "bg_color": "#FFFFFF", "marker_color": "#D93025", "font": "DejaVu Serif"},
}


@dataclass(frozen=True)
class RenderConfig:
    page_size: tuple[float, float] = (595.0, 842.0)
    dpi: float = 72.0
    margin_x: float = 10.0
    margin_y: float = 10.0
    font: str = "DejaVu Sans"
    font_path: str | None = None
    font_cjk: str = "Noto Sans CJK SC"
    font_size: float = 9.0
    line_height: float = 10.0
    alignment: str = "left"
    first_line_indent: float = 0.0  # negative: hanging indent
    left_indent: float = 0.0
    right_indent: float = 0.0
    space_before: float = 0.0
    space_after: float = 0.0
    letter_spacing: float = 0.0
    horizontal_scale: float = 1.0
    theme: str = "document"
    fg_color: str = "#000000"
    bg_color: str = "#FFFFFF"
    marker_color: str = "#FF0000"
    newline: str = "marker"
    marker_text: str = " \\n "
    tab_width: int = 4
    # How lines break and stack. The `glyph` preset reproduces the released renderer (reportlab in a
    # SimpleDocTemplate): words break only at whitespace, runs of 2+ spaces are non-breaking,
    # its frame adds `frame_padding` inside the margins, the first baseline sits `font_size` below the
    # line box top, and the source is cut into Paragraphs of `paragraph_lines` lines (0: no cut).
    wrap: str = "pango"
    tabs: str = "spaces"  # spaces: tab_width spaces; space: one breaking space (released render); nbsp: tab_width no-break spaces (released evaluation)
    frame_padding: float = 0.0
    baseline: str = "centered"
    paragraph_lines: int = 0
    auto_crop_width: bool = True
    auto_crop_last_page: bool = True
    antialias: bool = True
    ink_gamma: float = 1.0  # coverage -> ink: c ** ink_gamma
    oversample: int = 1  # columns drawn per pixel, averaged: glyphs at 1/k-pixel positions
    hinting: str = "slight"  # FreeType hinting of glyph outlines: none, slight, medium, full
    bit_depth: int = 8
    # the PNGs' deflate: glyph (its own deterministic encoder, glyph_cli/_fastdeflate.c; png_level
    # does not apply) or libdeflate at png_level. Pixels are the same; bytes and speed differ.
    png_deflate: str = "glyph"
    png_level: int = 1
    # reportlab ParagraphStyle's backColor / borderColor / borderWidth / borderPadding (the released
    # config's para-bg-color, para-border-color, border-width, border-padding): a fill and a border
    # around each Paragraph's box, outset by the padding (words flow only). None: the page colour.
    para_bg_color: str | None = None
    border_color: str = "#FFFFFF"
    border_width: float = 0.0
    border_padding: float = 0.0

    @property
    def draws_boxes(self) -> bool:
        para = self.para_bg_color or self.bg_color
        return para != self.bg_color or (self.border_width > 0 and self.border_color != para)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["page_size"] = list(self.page_size)
        return d

    def sha256(self) -> str:
        return config_sha256(self.to_dict())

    # Derived geometry, in points unless named px.
    @property
    def scale(self) -> float:
        return self.dpi / 72.0

    @property
    def page_px(self) -> tuple[int, int]:
        return round(self.page_size[0] * self.scale), round(self.page_size[1] * self.scale)

    @property
    def text_width(self) -> float:
        return self.page_size[0] - 2 * (self.margin_x + self.frame_padding) - self.left_indent - self.right_indent

    @property
    def text_height(self) -> float:
        return self.page_size[1] - 2 * (self.margin_y + self.frame_padding)


FIELD_NAMES = {f.name for f in fields(RenderConfig)}
BOOL_FIELDS = {f.name for f in fields(RenderConfig) if f.type == "bool"}

# The released config_en.json as the released code lays it out (reportlab SimpleDocTemplate, 6 pt
# frame padding, Paragraphs of 30 source lines joined by <br/>), Verdana replaced by an open font.
_GLYPH = {
    "page_size": "A4", "dpi": 72, "margin_x": 10, "margin_y": 10, "font_size": 9, "line_height": 10,
    "alignment": "left", "newline": "break", "auto_crop_width": True, "auto_crop_last_page": True,
    "wrap": "words", "tabs": "space", "frame_padding": 6, "baseline": "font-size", "paragraph_lines": 30,
    # readability (issue 12): unhinted outlines at quarter-pixel positions read as well as poppler's pages
    "hinting": "none", "oversample": 4,
}
# The dense style of the released demo: newlines drawn as a red inline " \\n " marker, 10 pt margins,
# Unicode line breaking (glyph's `glyph` preset before issue 12).
_MARKER = {
    "page_size": "A4", "dpi": 72, "margin_x": 10, "margin_y": 10, "font_size": 9, "line_height": 10,
    "alignment": "left", "newline": "marker", "auto_crop_width": True, "auto_crop_last_page": True,
    "hinting": "none", "oversample": 4,
}
PRESETS: dict[str, dict[str, Any]] = {
    "glyph": _GLYPH,
    "glyph-marker": _MARKER,
    "dpi72": {**_GLYPH, "dpi": 72},
    "dpi96": {**_GLYPH, "dpi": 96},
    "dpi120": {**_GLYPH, "dpi": 120},
}

# The official repository's config keys and how each maps here.
OFFICIAL_KEYS = {
    "page-size": "page_size", "dpi": "dpi", "margin-x": "margin_x", "margin-y": "margin_y",
    "font-path": "font_path", "font-size": "font_size", "line-height": "line_height",
    "font-color": "fg_color", "alignment": "alignment", "horizontal-scale": "horizontal_scale",
    "first-line-indent": "first_line_indent", "left-indent": "left_indent", "right-indent": "right_indent",
    "space-after": "space_after", "space-before": "space_before", "page-bg-color": "bg_color",
    "auto-crop-width": "auto_crop_width", "auto-crop-last-page": "auto_crop_last_page",
    "para-bg-color": "para_bg_color", "para-border-color": "border_color", "border-width": "border_width",
    "border-padding": "border_padding",
}
# Keys that only official configs use (ours are spelled with underscores or have no hyphen).
_OFFICIAL_ONLY = {"page-size", "margin-x", "margin-y", "font-path", "font-size", "line-height", "font-color",
                  "page-bg-color", "para-bg-color", "border-width", "border-padding", "newline-markup", "para-border-color",
                  "auto-crop-width", "auto-crop-last-page"}
_RELEASED_LAYOUT = ("newline", "wrap", "tabs", "frame_padding", "baseline", "paragraph_lines")
_MARKUP_RE = re.compile(r"""^\s*<font\s+color\s*=\s*["']?(#[0-9A-Fa-f]{6})["']?\s*>(.*)</font>\s*$""", re.S)
_HEX_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")


def _normalise_keys(raw: dict[str, Any], origin: str) -> dict[str, Any]:
    """Map official hyphenated keys and our own keys (with - or _) to field names."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "newline-markup":
            out.update(_parse_newline_markup(value, origin))
            continue
        name = OFFICIAL_KEYS.get(key, key.replace("-", "_"))
        if name not in FIELD_NAMES:
            raise ConfigError(f"{origin}: unknown config key {key!r}",
                              "see `glyph render --print-config` for the keys")
        out[name] = value
    return out


def _parse_newline_markup(value: Any, origin: str) -> dict[str, Any]:
    if not isinstance(value, str):
        raise ConfigError(f"{origin}: newline-markup must be a string")
    if value.strip().lower() in ("<br/>", "<br>", "<br />"):
        return {"newline": "break"}
    m = _MARKUP_RE.match(value)
    if not m:
        raise ConfigError(f"{origin}: cannot read newline-markup {value!r}",
                          'use "<br/>" or "<font color=\\"#FF0000\\"> \\\\n </font>"')
    return {"newline": "marker", "marker_color": m.group(1).upper(), "marker_text": m.group(2)}


def load_config_file(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{p}:{exc.lineno}: invalid JSON in config: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: a config file holds one JSON object")
    # A config file may be a resolved config printed by --print-config, or a render record's config.
    raw = raw.get("config", raw) if isinstance(raw.get("config"), dict) else raw
    values = _normalise_keys(raw, str(p))
    if any(k in raw for k in _OFFICIAL_ONLY):
        # an official config: laid out as the released code lays it out (as the `glyph` preset)
        layout = {k: v for k, v in _GLYPH.items() if k in _RELEASED_LAYOUT}
        if values.get("newline") == "marker":  # newline-markup draws the marker: glyph's marker flow
            layout.update(wrap="pango", newline="marker")
        values = {**layout, **values}
    fp = values.get("font_path")
    if isinstance(fp, str) and fp and not Path(fp).is_absolute():
        values["font_path"] = str((p.parent / fp).resolve())
    fp = values.get("font_path")
    if isinstance(fp, str) and fp and not Path(fp).is_file():
        # The official configs name the Verdana.ttf shipped beside them; without that file the
        # page is drawn in the default open font, and the user is told once.
        from glyph_cli import log

        log.warn(f"{p}: font-path {fp} not found; using {values.get('font', RenderConfig.font)!r} instead")
        del values["font_path"]
    return values


def _page_size(value: Any) -> tuple[float, float]:
    if isinstance(value, str):
        for name, size in PAGE_SIZES.items():
            if value.lower() == name.lower():
                return (float(size[0]), float(size[1]))
        parts = re.split(r"[,x×\s]+", value.strip())
        if len(parts) == 2:
            try:
                return (float(parts[0]), float(parts[1]))
            except ValueError:
                pass
        raise ConfigError(f"page_size {value!r} is neither a named size ({', '.join(PAGE_SIZES)}) "
                          "nor 'WIDTH,HEIGHT' in points")
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return (float(value[0]), float(value[1]))
    raise ConfigError(f"page_size must be a name or [width, height] in points, got {value!r}")


def _coerce(name: str, value: Any) -> Any:
    ftype = RenderConfig.__dataclass_fields__[name].type
    try:
        if name == "page_size":
            return _page_size(value)
        if ftype == "bool":
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError
            return bool(value)
        if ftype == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError
            number = float(value)
            if not math.isfinite(number):
                raise ConfigError(f"{name} must be a finite number, got {value!r}")
            return number
        if ftype == "int":
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if ftype == "str | None":
            if value is None or isinstance(value, str):
                return (value.upper() if name.endswith("_color") else value) if value else None
            raise ValueError
        if not isinstance(value, str):
            raise ValueError  # a number or a list where a name or colour goes
        if name in ("alignment", "newline", "theme", "wrap", "tabs", "baseline", "hinting"):
            return value.lower()
        if name.endswith("_color"):
            return value.upper()
        return value
    except (TypeError, ValueError, OverflowError):
        kind = {"float": "a number", "int": "a whole number", "bool": "true or false"}.get(ftype, "a string")
        raise ConfigError(f"{name} must be {kind}, got {value!r}") from None


def _check(cfg: RenderConfig) -> None:
    def need(ok: bool, message: str) -> None:
        if not ok:
            raise ConfigError(message)

    w, h = cfg.page_size
    need(36 <= w <= 14400 and 36 <= h <= 14400, f"page_size {w:g}x{h:g} pt is outside 36..14400 pt")
    need(30 <= cfg.dpi <= 600, f"dpi must be between 30 and 600, got {cfg.dpi:g}")
    need(cfg.margin_x >= 0 and cfg.margin_y >= 0, "margins cannot be negative")
    need(4 <= cfg.font_size <= 96, f"font_size must be between 4 and 96 pt, got {cfg.font_size:g}")
    need(cfg.line_height >= cfg.font_size,
         f"line_height ({cfg.line_height:g}) cannot be below font_size ({cfg.font_size:g})")
    need(cfg.line_height <= 4 * cfg.font_size + 20, f"line_height {cfg.line_height:g} pt is implausibly large")
    need(cfg.text_width >= 4 * cfg.font_size,
         f"margins and indents leave {cfg.text_width:g} pt of line width; need at least {4 * cfg.font_size:g}")
    need(cfg.text_height >= cfg.line_height, "margin_y leaves no room for a single line")
    need(abs(cfg.first_line_indent) < cfg.text_width / 2, "first_line_indent must be under half the line width")
    need(cfg.left_indent >= 0 and cfg.right_indent >= 0, "left/right indents cannot be negative")
    need(cfg.space_before >= 0 and cfg.space_after >= 0, "space_before/space_after cannot be negative")
    need(0.25 <= cfg.horizontal_scale <= 2.0, f"horizontal_scale must be in 0.25..2.0, got {cfg.horizontal_scale:g}")
    need(-cfg.font_size / 2 < cfg.letter_spacing <= cfg.font_size,
         f"letter_spacing {cfg.letter_spacing:g} pt is outside ({-cfg.font_size / 2:g}, {cfg.font_size:g}]")
    need(cfg.alignment in ALIGNMENTS, f"alignment must be one of {', '.join(ALIGNMENTS)}, got {cfg.alignment!r}")
    need(cfg.newline in NEWLINES, f"newline must be one of {', '.join(NEWLINES)}, got {cfg.newline!r}")
    need(cfg.wrap in WRAPS, f"wrap must be one of {', '.join(WRAPS)}, got {cfg.wrap!r}")
    need(cfg.tabs in TABS, f"tabs must be one of {', '.join(TABS)}, got {cfg.tabs!r}")
    need(0.2 <= cfg.ink_gamma <= 5, f"ink_gamma must be 0.2..5, got {cfg.ink_gamma:g}")
    need(1 <= cfg.oversample <= 8, f"oversample must be 1..8, got {cfg.oversample}")
    need(cfg.hinting in HINTINGS, f"hinting must be one of {', '.join(HINTINGS)}, got {cfg.hinting!r}")
    need(cfg.baseline in BASELINES, f"baseline must be one of {', '.join(BASELINES)}, got {cfg.baseline!r}")
    need(0 <= cfg.frame_padding <= 200, f"frame_padding must be 0..200 pt, got {cfg.frame_padding:g}")
    need(0 <= cfg.paragraph_lines <= 100000, f"paragraph_lines must be 0..100000, got {cfg.paragraph_lines}")
    need(cfg.wrap == "pango" or cfg.newline == "break", "wrap=words draws newlines as line breaks; "
         "set newline=break (or wrap=pango for the inline marker)")
    need(cfg.wrap == "pango" or cfg.alignment != "justify", "wrap=words does not justify; use wrap=pango")
    need(cfg.wrap == "pango" or (cfg.letter_spacing == 0 and cfg.first_line_indent == 0),
         "wrap=words models neither letter_spacing nor first_line_indent; use wrap=pango")
    px_w, px_h = cfg.page_px
    need(px_w * px_h <= 200_000_000 and max(px_w, px_h) <= 32767,
         f"a {px_w}x{px_h}-pixel page is over cairo's limit (32767 pixels a side, 200M pixels); "
         "lower dpi or page_size")
    need(cfg.theme in THEMES, f"theme must be one of {', '.join(THEMES)}, got {cfg.theme!r}")
    need(0 <= cfg.border_width <= 50, f"border_width must be 0..50 pt, got {cfg.border_width:g}")
    need(0 <= cfg.border_padding <= 200, f"border_padding must be 0..200 pt, got {cfg.border_padding:g}")
    need(not cfg.draws_boxes or cfg.wrap == "words", "paragraph fills and borders are drawn in the "
         "released flow only (wrap=words)")
    need(not cfg.draws_boxes or cfg.bit_depth >= 4, "paragraph fills and borders need bit_depth 4 or 8")
    need(cfg.para_bg_color is None or bool(_HEX_RE.match(cfg.para_bg_color)),
         f"para_bg_color must be #RRGGBB, got {cfg.para_bg_color!r}")
    for name in ("fg_color", "bg_color", "marker_color", "border_color"):
        need(bool(_HEX_RE.match(getattr(cfg, name))), f"{name} must be #RRGGBB, got {getattr(cfg, name)!r}")
    need(cfg.fg_color != cfg.bg_color, "fg_color and bg_color are the same: the text would be invisible")
    need(1 <= cfg.tab_width <= 16, f"tab_width must be 1..16, got {cfg.tab_width}")
    need(cfg.bit_depth in BIT_DEPTHS, f"bit_depth must be one of {BIT_DEPTHS}, got {cfg.bit_depth}")
    need(0 <= cfg.png_level <= 12, f"png_level must be 0..12 (libdeflate levels), got {cfg.png_level}")
    need(cfg.png_deflate in PNG_DEFLATES, f"png_deflate must be one of {', '.join(PNG_DEFLATES)}, got {cfg.png_deflate!r}")
    need(bool(cfg.font.strip()) or bool(cfg.font_path), "font is empty")
    need(cfg.newline == "break" or "\n" not in cfg.marker_text, "marker_text cannot contain a newline")
    if cfg.font_path:
        need(Path(cfg.font_path).is_file(), f"font file {cfg.font_path} not found")


# Settings only Pango's flow draws, with the values that mean "off".
_PANGO_ONLY = {"newline": ("break",), "alignment": ("left", "right", "center"), "letter_spacing": ("0", "0.0"),
               "first_line_indent": ("0", "0.0"), "space_before": ("0", "0.0"), "space_after": ("0", "0.0")}


def pango_only_keys(values: dict[str, Any]) -> list[str]:
    """The keys of `values` asking for what only Pango's flow draws (the released flow models none)."""
    return [k for k, off in _PANGO_ONLY.items() if k in values and str(values[k]).lower() not in off]


def resolve_config(
    preset: str | None = "glyph",
    config_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> RenderConfig:
    """Build and validate a RenderConfig. Raises ConfigError before any work starts."""
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}", f"choose one of {', '.join(PRESETS)}")
    base = dict(PRESETS[preset]) if preset else {}
    explicit: dict[str, Any] = {}
    if config_file is not None:
        explicit.update(load_config_file(config_file))
    if overrides:
        explicit.update(_normalise_keys({k: v for k, v in overrides.items() if v is not None}, "flag"))
    theme = str(explicit.get("theme", base.get("theme", "document"))).lower()
    if theme not in THEMES:
        raise ConfigError(f"theme must be one of {', '.join(THEMES)}, got {theme!r}")
    values = {**base, **THEMES[theme], **explicit}
    if "wrap" not in explicit and str(values.get("wrap", "pango")).lower() == "words":
        # The released flow models none of these; asking for one of them selects Pango's flow.
        if pango_only_keys(explicit):
            values["wrap"] = "pango"
    kwargs = {name: _coerce(name, value) for name, value in values.items()}
    try:
        cfg = RenderConfig(**kwargs)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None
    _check(cfg)
    return cfg


def config_from_dict(d: dict[str, Any]) -> RenderConfig:
    """Rebuild the exact config recorded in a page stream or bundle."""
    return resolve_config(None, None, d)
