"""The search space: the render parameters Glyph's search moved within, declared once.

Each parameter is a distribution (int, float with a step, or a list of choices) under a search name,
and maps onto RenderConfig keys: most one to one, `line_gap` onto `line_height = font_size + gap`
(so the line height can never fall below the font size), `crop` onto both crop switches, a `font`
choice that is a file path onto `font_path`. Parameters outside the space keep the base config's
value (the `glyph` preset unless told otherwise).

A user file (JSON) narrows, widens, fixes or drops parameters, and may add any RenderConfig key:

    {"dpi": {"low": 60, "high": 120},                 narrow (kind and step kept)
     "font": {"choices": ["DejaVu Sans", "/fonts/My.ttf"]},
     "theme": "document",                             fix a value: no longer searched
     "letter_spacing": null,                          drop: the base config's value
     "space_after": {"type": "float", "low": 0, "high": 4, "step": 0.5}}   add

Constraints beyond RenderConfig's own validation (line height >= font size, the text block fits the
page): the text colour must be readable on the background (WCAG contrast ratio >= 4.5).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glyph_cli.errors import ConfigError
from glyph_cli.typeset.config import ALIGNMENTS, FIELD_NAMES, NEWLINES, PAGE_SIZES, THEMES, RenderConfig, pango_only_keys, resolve_config

MIN_CONTRAST = 4.5
DEFAULT_FONTS = ("DejaVu Sans", "DejaVu Serif", "DejaVu Sans Mono", "Noto Sans", "Noto Serif")
_COLOURS = ("fg_color", "bg_color", "marker_color")
_FONT_FILE_SUFFIXES = (".ttf", ".otf", ".ttc")


@dataclass(frozen=True)
class Param:
    """One searched parameter. kind: int, float or choice."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple = ()
    help: str = ""

    def describe(self) -> dict:
        if self.kind == "choice":
            return {"name": self.name, "type": "choice", "choices": list(self.choices), "help": self.help}
        return {"name": self.name, "type": self.kind, "low": self.low, "high": self.high, "step": self.step,
                "help": self.help}

    def distribution(self):
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "choice":
            return CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), step=int(self.step or 1))
        return FloatDistribution(float(self.low), float(self.high), step=self.step)

    def sample(self, rng) -> Any:
        """A uniform draw from this parameter (on its step grid when it has one), from `rng`
        (a random.Random): what `glyph train data --style-sampling` draws styles with."""
        if self.kind == "choice":
            return rng.choice(self.choices)
        if self.step:
            n = int(math.floor((self.high - self.low) / self.step + 1e-9))
            x = self.low + rng.randint(0, n) * self.step
        else:
            x = rng.uniform(self.low, self.high)
        return int(round(x)) if self.kind == "int" else round(x, 6)

    def snap(self, value: Any) -> tuple[Any, bool]:
        """The nearest value this parameter can take, and whether it had to move. ValueError if none."""
        if self.kind == "choice":
            for choice in self.choices:
                if value == choice and type(value) is type(choice):
                    return choice, False
            for choice in self.choices:  # "Justify" for "justify", "true" for True
                if isinstance(value, (str, bool)) and str(value).lower() == str(choice).lower():
                    return choice, True
            raise ValueError(f"{self.name}: {value!r} is not one of {list(self.choices)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    raise ValueError(f"{self.name}: {value!r} is not a number") from None
            else:
                raise ValueError(f"{self.name}: {value!r} is not a number")
        if not math.isfinite(value):
            raise ValueError(f"{self.name}: {value!r} is not finite")
        x = min(max(float(value), self.low), self.high)
        if self.step:
            x = self.low + round((x - self.low) / self.step) * self.step
            x = min(x, self.high)
        x = int(round(x)) if self.kind == "int" else round(x, 6)
        return x, not math.isclose(x, float(value), abs_tol=1e-9)


def _p(name: str, kind: str, low=None, high=None, step=None, choices=(), help=""):
    return Param(name, kind, low, high, step, tuple(choices), help)


# GLYPH_NOTES' search space: what Glyph's pre-training sampled from and its genetic search moved in.
DEFAULT_PARAMS: tuple[Param, ...] = (
    _p("dpi", "int", 45, 300, 1, help="raster resolution; lower = fewer visual tokens"),
    _p("page_size", "choice", choices=tuple(PAGE_SIZES), help="named page size"),
    _p("font", "choice", choices=DEFAULT_FONTS, help="font family (or a font file path)"),
    _p("font_size", "float", 7, 14, 0.5, help="pt"),
    _p("line_gap", "float", 0, 3, 0.5, help="line height minus font size, pt"),
    _p("alignment", "choice", choices=("left", "justify"), help="paragraph alignment"),
    _p("margin_x", "float", 10, 40, 1, help="left/right margin, pt"),
    _p("margin_y", "float", 10, 40, 1, help="top/bottom margin, pt"),
    _p("first_line_indent", "float", -12, 12, 1, help="pt; negative = hanging indent"),
    _p("letter_spacing", "float", -0.5, 1.0, 0.1, help="extra space between letters, pt"),
    _p("horizontal_scale", "float", 0.75, 1.0, 0.05, help="page width scale after rasterising"),
    _p("theme", "choice", choices=tuple(THEMES), help="colours"),
    _p("newline", "choice", choices=NEWLINES, help="break: real line breaks; marker: inline visible marker"),
    _p("crop", "choice", choices=(True, False), help="crop width to the ink and the last page to its last line"),
)
# Search names that are not RenderConfig keys.
_DERIVED = {"line_gap", "crop"}
_CHOICE_VALUES = {"alignment": ALIGNMENTS, "newline": NEWLINES, "theme": tuple(THEMES), "page_size": tuple(PAGE_SIZES)}


def _base_value(base: RenderConfig, name: str) -> Any:
    if name == "line_gap":
        return round(base.line_height - base.font_size, 6)
    if name == "crop":
        return base.auto_crop_width
    if name == "font":
        return base.font_path or base.font
    if name == "page_size":
        for label, size in PAGE_SIZES.items():
            if tuple(float(v) for v in size) == tuple(base.page_size):
                return label
        return f"{base.page_size[0]:g},{base.page_size[1]:g}"
    value = getattr(base, name)
    return value


def _contains_base(param: Param, value: Any) -> Param:
    """Widen a parameter so the base config is one of its points (the search starts there)."""
    if param.kind == "choice":
        if any(value == c and type(value) is type(c) for c in param.choices):
            return param
        return Param(param.name, "choice", choices=(value, *param.choices), help=param.help)
    low, high, step = min(param.low, value), max(param.high, value), param.step
    if step and abs((value - low) / step - round((value - low) / step)) > 1e-6:
        step = None  # the base is off the grid: search this parameter continuously
    if step:
        high = low + math.floor((high - low) / step + 1e-9) * step
        if high < value:
            high += step
    if param.kind == "int":
        low, high = int(math.floor(low)), int(math.ceil(high))
    return Param(param.name, param.kind, low, high, step, (), param.help)


def _param_from_spec(name: str, spec: dict, default: Param | None, origin: str) -> Param:
    unknown = set(spec) - {"type", "low", "high", "step", "choices"}
    if unknown:
        raise ConfigError(f"{origin}: {name}: unknown field(s) {', '.join(sorted(unknown))}",
                          "use type, low, high, step or choices")
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{origin}: {name}: choices must be a non-empty list")
        return Param(name, "choice", choices=tuple(choices), help=default.help if default else "")
    kind = spec.get("type", default.kind if default else None)
    if kind not in ("int", "float"):
        raise ConfigError(f"{origin}: {name}: give choices, or type int/float with low and high")
    if default is not None and default.kind == "choice":
        raise ConfigError(f"{origin}: {name} is a choice parameter: give choices")
    low = spec.get("low", default.low if default else None)
    high = spec.get("high", default.high if default else None)
    step = spec.get("step", default.step if default and default.kind != "choice" else None)
    for label, v in (("low", low), ("high", high)) + ((("step", step),) if step is not None else ()):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{origin}: {name}: {label} must be a number, got {v!r}")
    if low > high:
        raise ConfigError(f"{origin}: {name}: low {low} is above high {high}")
    if step is not None and step <= 0:
        raise ConfigError(f"{origin}: {name}: step must be positive")
    return Param(name, kind, low, high, step, (), default.help if default else "")


def _check_choices(param: Param, origin: str) -> None:
    allowed = _CHOICE_VALUES.get(param.name)
    if allowed:
        bad = [c for c in param.choices if c not in allowed and not (param.name == "page_size" and isinstance(c, str)
                                                                        and "," in c)]
        if bad:
            raise ConfigError(f"{origin}: {param.name}: {bad} not among {list(allowed)}")
    if param.name == "crop" and any(not isinstance(c, bool) for c in param.choices):
        raise ConfigError(f"{origin}: crop choices are true and false")


def contrast_ratio(fg: str, bg: str) -> float:
    """WCAG 2 contrast ratio of two #RRGGBB colours (1 .. 21)."""
    def luminance(colour: str) -> float:
        channels = []
        for i in (1, 3, 5):
            c = int(colour[i:i + 2], 16) / 255
            channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
        r, g, b = channels
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@dataclass
class SearchSpace:
    base: RenderConfig
    params: dict[str, Param]
    fixed: dict[str, Any] = field(default_factory=dict)  # RenderConfig keys held at a value

    @classmethod
    def build(cls, base: RenderConfig, user_file: str | Path | None = None) -> "SearchSpace":
        params = {p.name: p for p in DEFAULT_PARAMS}
        fixed: dict[str, Any] = {}
        if user_file is not None:
            origin = str(user_file)
            try:
                raw = json.loads(Path(user_file).read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ConfigError(f"{origin}: search space file not found") from None
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{origin}:{exc.lineno}: invalid JSON in the search space: {exc.msg}") from None
            if not isinstance(raw, dict):
                raise ConfigError(f"{origin}: a search space file holds one JSON object")
            for key, spec in raw.items():
                name = key.replace("-", "_")
                if name not in params and name not in FIELD_NAMES:
                    raise ConfigError(f"{origin}: {key!r} is neither a search parameter nor a config key",
                                      f"search parameters: {', '.join(p.name for p in DEFAULT_PARAMS)}")
                if spec is None:
                    params.pop(name, None)
                elif isinstance(spec, dict):
                    params[name] = _param_from_spec(name, spec, params.get(name), origin)
                    _check_choices(params[name], origin)
                else:
                    params.pop(name, None)
                    fixed.update(_mapped(name, spec, base))
        for name, param in list(params.items()):
            params[name] = _contains_base(param, _base_value(base, name))
        space = cls(base, params, fixed)
        space.to_config(space.base_params())  # the base must be a valid point of the space
        return space

    def distributions(self) -> dict:
        return {name: p.distribution() for name, p in self.params.items()}

    def base_params(self) -> dict[str, Any]:
        return {name: p.snap(_base_value(self.base, name))[0] for name, p in self.params.items()}

    def describe(self) -> list[dict]:
        return [p.describe() for p in self.params.values()]

    def fingerprint(self) -> str:
        blob = json.dumps({"params": self.describe(), "fixed": self.fixed, "base": self.base.to_dict()},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def snap(self, params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Every parameter of the space from a proposal, snapped; notes say what moved. ValueError if
        a value cannot be read or a parameter is missing."""
        out: dict[str, Any] = {}
        notes: list[str] = []
        for name, param in self.params.items():
            if name not in params:
                raise ValueError(f"{name} is missing")
            value, moved = param.snap(params[name])
            if moved:
                notes.append(f"{name} {params[name]!r} -> {value!r}")
            out[name] = value
        return out, notes

    def to_config(self, params: dict[str, Any]) -> RenderConfig:
        """The render config a point of the space stands for. ConfigError if it breaks a constraint."""
        values = self.base.to_dict()
        explicit: dict[str, Any] = dict(self.fixed)
        # Optuna's stepped floats carry binary noise (0.7000000000000002): keep configs and hashes clean.
        params = {k: round(v, 6) if isinstance(v, float) else v for k, v in params.items()}
        for name, value in params.items():
            explicit.update(_mapped(name, value, self.base, params))
        if "font_size" in params and "line_gap" not in params and "line_height" not in self.fixed:
            # line_gap is not searched: the line height follows the font size at the base's gap
            explicit.update(_mapped("line_gap", _base_value(self.base, "line_gap"), self.base, params))
        if "theme" in explicit and str(explicit["theme"]).lower() != self.base.theme:
            # A searched theme brings its own colours (and the font stays the searched one).
            for key in _COLOURS:
                if key not in self.fixed:
                    values.pop(key, None)
            theme = THEMES.get(str(explicit["theme"]).lower(), {})
            values.update({k: v for k, v in theme.items() if k in _COLOURS})
        values.update(explicit)
        if "wrap" not in explicit and values.get("wrap") == "words" and pango_only_keys(explicit):
            values["wrap"] = "pango"  # as `glyph render --preset glyph --align justify` does
        cfg = resolve_config(None, None, values)
        ratio = contrast_ratio(cfg.fg_color, cfg.bg_color)
        if ratio < MIN_CONTRAST:
            raise ConfigError(f"text colour {cfg.fg_color} on {cfg.bg_color} has contrast {ratio:.2f}, "
                              f"below the readable {MIN_CONTRAST}")
        return cfg


def _mapped(name: str, value: Any, base: RenderConfig, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """RenderConfig keys for one search parameter."""
    if name == "line_gap":
        size = (params or {}).get("font_size", base.font_size)
        return {"line_height": round(float(size) + float(value), 6)}
    if name == "crop":
        return {"auto_crop_width": bool(value), "auto_crop_last_page": bool(value)}
    if name == "font":
        text = str(value)
        if "/" in text or text.lower().endswith(_FONT_FILE_SUFFIXES):
            return {"font_path": text}
        return {"font": text, "font_path": None}
    return {name: value}
