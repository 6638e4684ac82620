"""How many tokens one page image costs each vision-language model family.

A count depends only on the page's pixel size, so it is computed from (width, height) by the same
arithmetic the families' image processors apply: no model, processor or image is needed, and every
page record can carry the cost for all families. docs/TOKENS.md lists each family's parameters and
where they come from; tests/test_tokens_visual.py checks every count against the real processors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from glyph_cli.errors import GlyphError, UsageError

# Both processor lineages refuse images more elongated than this.
MAX_ASPECT_RATIO = 200


def _refuse_extreme_aspect(height: int, width: int) -> None:
    ratio = max(height, width) / min(height, width)
    if ratio > MAX_ASPECT_RATIO:
        raise GlyphError(f"a {width}x{height} px image has aspect ratio {ratio:.0f}:1, beyond the "
                         f"{MAX_ASPECT_RATIO}:1 that Qwen2-VL-style image processors accept",
                         hint="use a page size closer to a sheet of paper")


def _fit_to_grid(height: int, width: int, factor: int, min_pixels: int, max_pixels: int,
                 frames: int) -> tuple[int, int]:
    # The processors compare frames * h * w against the pixel budget. The float operations are
    # kept in the processors' order: a reordered product can land on the other side of a floor.
    h = round(height / factor) * factor
    w = round(width / factor) * factor
    if frames * h * w > max_pixels:
        shrink = math.sqrt((frames * height * width) / max_pixels)
        h = max(factor, math.floor(height / shrink / factor) * factor)
        w = max(factor, math.floor(width / shrink / factor) * factor)
    elif frames * h * w < min_pixels:
        grow = math.sqrt(min_pixels / (frames * height * width))
        h = math.ceil(height * grow / factor) * factor
        w = math.ceil(width * grow / factor) * factor
    return h, w


def smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """The (height, width) a Qwen2-VL / Qwen2.5-VL / Qwen3-VL processor resizes an image to.

    Each side is rounded to the nearest multiple of `factor` (ties to even, as Python's round);
    if the area then falls outside [min_pixels, max_pixels] both sides are scaled by one factor
    that keeps the aspect ratio, and floored (too big) or ceiled (too small) to multiples of `factor`.
    """
    _refuse_extreme_aspect(height, width)
    return _fit_to_grid(height, width, factor, min_pixels, max_pixels, frames=1)


def smart_resize_glm4v(height: int, width: int, factor: int, min_pixels: int, max_pixels: int,
                       temporal_factor: int = 2) -> tuple[int, int]:
    """The (height, width) GLM-4.1V's processor resizes a still image to.

    Two differences from `smart_resize`: a side shorter than `factor` is first scaled up (both
    sides, truncated to integers) so that it reaches `factor`; and the image is budgeted as a clip
    of `temporal_factor` frames, so the pixel limits bind at 1/temporal_factor of their value.
    """
    if height < factor or width < factor:
        scale = max(factor / height, factor / width)
        height = int(height * scale)
        width = int(width * scale)
    _refuse_extreme_aspect(height, width)
    return _fit_to_grid(height, width, factor, min_pixels, max_pixels, frames=temporal_factor)


@dataclass(frozen=True)
class PatchGrid:
    """A native-resolution vision encoder: the image is smart-resized, cut into patch_size
    squares, and merge_size x merge_size neighbouring patches become one token."""

    patch_size: int
    merge_size: int
    min_pixels: int
    max_pixels: int
    glm4v_resize: bool = False

    def resized(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) in pixels after the processor's resize."""
        factor = self.patch_size * self.merge_size
        if self.glm4v_resize:
            h, w = smart_resize_glm4v(height, width, factor, self.min_pixels, self.max_pixels)
        else:
            h, w = smart_resize(height, width, factor, self.min_pixels, self.max_pixels)
        return w, h

    def tokens(self, width: int, height: int) -> int:
        factor = self.patch_size * self.merge_size
        w, h = self.resized(width, height)
        return (w // factor) * (h // factor)


# DeepEncoder (DeepSeek-OCR): 16 px patches, then a 16x token compressor (4x4 per side).
_DEEPSEEK_PATCH = 16
_DEEPSEEK_DOWNSAMPLE = 4


def deepseek_view_tokens(side: int) -> int:
    """Vision tokens of one side x side view in DeepSeek-OCR (512 -> 64, 1024 -> 256)."""
    per_side = math.ceil((side // _DEEPSEEK_PATCH) / _DEEPSEEK_DOWNSAMPLE)
    return per_side * per_side


def deepseek_tile_grid(width: int, height: int, tile: int = 640, min_tiles: int = 2,
                       max_tiles: int = 6) -> tuple[int, int]:
    """(columns, rows) of local tiles DeepSeek-OCR's Gundam mode cuts a page into; (0, 0) when
    the page fits inside one tile and gets only the global view.

    Among grids of min_tiles..max_tiles tiles, the one whose columns/rows ratio is closest to the
    page's width/height wins. On an exact tie the grid with more tiles replaces the one found
    first, but only while the page's area exceeds half the area those tiles cover.
    """
    if width <= tile and height <= tile:
        return 0, 0
    grids = sorted(((c, r) for c in range(1, max_tiles + 1) for r in range(1, max_tiles + 1)
                    if min_tiles <= c * r <= max_tiles), key=lambda g: (g[0] * g[1], g[0]))
    aspect = width / height
    area = width * height
    best, best_diff = (1, 1), float("inf")
    for columns, rows in grids:
        diff = abs(aspect - columns / rows)
        if diff < best_diff:
            best, best_diff = (columns, rows), diff
        elif diff == best_diff and area > 0.5 * tile * tile * columns * rows:
            best = (columns, rows)
    return best


@dataclass(frozen=True)
class FixedView:
    """DeepSeek-OCR's single-view modes: the page is resized or padded to side x side, whatever its size."""

    side: int

    def tokens(self, width: int, height: int) -> int:
        return deepseek_view_tokens(self.side)


@dataclass(frozen=True)
class TiledViews:
    """DeepSeek-OCR's Gundam mode: local tiles chosen by aspect ratio plus one padded global view."""

    tile: int = 640
    global_side: int = 1024
    min_tiles: int = 2
    max_tiles: int = 6

    def tokens(self, width: int, height: int) -> int:
        columns, rows = deepseek_tile_grid(width, height, self.tile, self.min_tiles, self.max_tiles)
        return deepseek_view_tokens(self.global_side) + columns * rows * deepseek_view_tokens(self.tile)


# Pixel limits are those of the released checkpoints' preprocessor_config.json, which is what a
# served model applies; docs/TOKENS.md says where each value comes from and where the
# processor classes' own defaults differ.
_REGISTRY: dict[str, PatchGrid | FixedView | TiledViews] = {
    "glm4v": PatchGrid(patch_size=14, merge_size=2, min_pixels=112 * 112, max_pixels=14 * 14 * 2 * 2 * 2 * 6144,
                       glm4v_resize=True),
    "qwen2vl": PatchGrid(patch_size=14, merge_size=2, min_pixels=56 * 56, max_pixels=28 * 28 * 16384),
    "qwen3vl": PatchGrid(patch_size=16, merge_size=2, min_pixels=256 * 256, max_pixels=4096 * 4096),
    "deepseek-ocr-tiny": FixedView(512),
    "deepseek-ocr-small": FixedView(640),
    "deepseek-ocr-base": FixedView(1024),
    "deepseek-ocr-large": FixedView(1280),
    "deepseek-ocr-gundam": TiledViews(),
}

FAMILIES: tuple[str, ...] = tuple(_REGISTRY)
DEFAULT_FAMILY = "glm4v"  # Glyph is GLM-4.1V-9B-Base continually trained


def family_spec(name: str) -> PatchGrid | FixedView | TiledViews:
    """The parameters behind a family's counts."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown VLM family {name!r}", hint=f"one of: {', '.join(FAMILIES)}") from None


def _check_page_size(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise GlyphError(f"a page must be at least 1x1 px, not {width}x{height}")


def visual_tokens(family: str, width: int, height: int) -> int:
    """Tokens a width x height px page costs one VLM family."""
    spec = family_spec(family)
    _check_page_size(width, height)
    return spec.tokens(width, height)


def page_visual_tokens(width: int, height: int) -> dict[str, int]:
    """Every family's token count for one page, in FAMILIES order."""
    _check_page_size(width, height)
    return {name: spec.tokens(width, height) for name, spec in _REGISTRY.items()}


def compression_ratio(text_tokens: int, visual_tokens: int) -> float:
    """Text tokens per visual token. Raises UsageError when visual_tokens is not positive: a ratio
    over zero pages is undefined, and returning inf or nan would leak into averages unnoticed."""
    if visual_tokens <= 0:
        raise UsageError(f"compression ratio needs a positive visual token count, not {visual_tokens}")
    if text_tokens < 0:
        raise UsageError(f"text token count cannot be negative ({text_tokens})")
    return text_tokens / visual_tokens
