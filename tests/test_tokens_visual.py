"""Visual token counts, checked against the real transformers image processors.

The processors are built offline with the settings of the released checkpoints'
preprocessor_config.json (stated here independently of glyph_cli.tokens.visual). The full pipeline
runs on blank pages over a spread of paper sizes and dpis; each processor's own
get_number_of_image_patches covers a dense sweep that the full pipeline would make too slow.
"""

from __future__ import annotations

import math
import random

import pytest

from glyph_cli.errors import GlyphError, UsageError
from glyph_cli.tokens import visual
from glyph_cli.tokens.visual import (
    DEFAULT_FAMILY,
    FAMILIES,
    compression_ratio,
    deepseek_tile_grid,
    page_visual_tokens,
    visual_tokens,
)

PAPER_PT = {"A4": (595, 842), "Letter": (612, 792), "Legal": (612, 1008), "A5": (420, 595),
            "B5": (499, 709), "A3": (842, 1191), "B4": (709, 1001), "Tabloid": (792, 1224)}

# Released checkpoints' preprocessor_config.json values (zai-org/GLM-4.1V-9B-*, Qwen/Qwen2.5-VL-*-Instruct,
# Qwen/Qwen3-VL-*-Instruct); docs/TOKENS.md gives the sources.
CHECKPOINT_SETTINGS = {
    "glm4v": {"size": {"shortest_edge": 12544, "longest_edge": 9633792}},
    "qwen2vl": {"min_pixels": 3136, "max_pixels": 12845056},
    "qwen3vl": {"size": {"shortest_edge": 65536, "longest_edge": 16777216}, "patch_size": 16,
                "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]},
}
PATCH_FAMILIES = tuple(CHECKPOINT_SETTINGS)


def pixels(points: int, dpi: int) -> int:
    return round(points * dpi / 72)


def paper(name: str, dpi: int) -> tuple[int, int]:
    w, h = PAPER_PT[name]
    return pixels(w, dpi), pixels(h, dpi)


@pytest.fixture(scope="module")
def processors():
    from transformers.models.glm4v.image_processing_pil_glm4v import Glm4vImageProcessorPil
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    return {
        "glm4v": Glm4vImageProcessorPil(**CHECKPOINT_SETTINGS["glm4v"]),
        "qwen2vl": Qwen2VLImageProcessorPil(**CHECKPOINT_SETTINGS["qwen2vl"]),
        # Qwen3-VL has no image processor of its own: its checkpoints name Qwen2-VL's.
        "qwen3vl": Qwen2VLImageProcessorPil(**CHECKPOINT_SETTINGS["qwen3vl"]),
    }


def pipeline_tokens(processor, width: int, height: int):
    """Tokens for a blank page through the whole processor, or "refused" where it rejects the size."""
    from PIL import Image

    image = Image.new("RGB", (width, height), "white")
    try:
        out = processor(images=[image], return_tensors="np", input_data_format="channels_last")
    except ValueError:
        return "refused"
    t, h, w = (int(v) for v in out["image_grid_thw"][0])
    return t * h * w // processor.merge_size ** 2


def patch_count_tokens(processor, width: int, height: int):
    """The processor's own token accounting, or "refused" where it rejects the size."""
    try:
        return processor.get_number_of_image_patches(height, width) // processor.merge_size ** 2
    except ValueError:
        return "refused"


def our_tokens(family: str, width: int, height: int):
    try:
        return visual_tokens(family, width, height)
    except GlyphError:
        return "refused"


PIPELINE_SIZES = (
    [paper(name, dpi) for name in ("A4", "Letter", "A5", "Legal") for dpi in (45, 72, 96, 120, 150)]
    + [paper("B5", 110), paper("B4", 80), paper("A3", 100), paper("Tabloid", 72)]
    + [(595, 45), (595, 23), (20, 20), (1, 1), (27, 300), (5, 700), (300, 9), (6000, 40), (40, 6000),
       (5600, 28), (700, 2000), (2000, 700), (1234, 1), (111, 111)]
)


@pytest.mark.parametrize("size", PIPELINE_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_counts_match_the_real_processors(processors, size):
    width, height = size
    for family, processor in processors.items():
        assert our_tokens(family, width, height) == pipeline_tokens(processor, width, height), family


@pytest.mark.slow
@pytest.mark.parametrize("size", [paper("A4", 300), paper("A3", 300), paper("Letter", 250), (10000, 300)],
                         ids=lambda s: f"{s[0]}x{s[1]}")
def test_counts_match_the_real_processors_on_huge_pages(processors, size):
    width, height = size
    for family, processor in processors.items():
        assert visual_tokens(family, width, height) == pipeline_tokens(processor, width, height), family


def sweep_sizes() -> list[tuple[int, int]]:
    sizes = {paper(name, dpi) for name in PAPER_PT for dpi in range(45, 301)}
    sizes |= {(h, w) for w, h in list(sizes)}  # landscape
    rng = random.Random(20251020)
    for _ in range(3000):
        sizes.add((int(math.exp(rng.uniform(0, math.log(12000)))), int(math.exp(rng.uniform(0, math.log(12000))))))
    # Every side from 1 to 200 px against a page width: the rounding ties (14, 42, 70, ...) and
    # the sub-patch sides where GLM-4.1V's resize first scales the image up.
    sizes |= {(595, side) for side in range(1, 201)} | {(side, 842) for side in range(1, 201)}
    return sorted(sizes)


def test_dense_sweep_matches_the_processors_own_accounting(processors):
    sizes = sweep_sizes()
    assert len(sizes) > 7000
    for family, processor in processors.items():
        mismatches = [(w, h, our_tokens(family, w, h), patch_count_tokens(processor, w, h)) for w, h in sizes
                      if our_tokens(family, w, h) != patch_count_tokens(processor, w, h)]
        assert not mismatches, f"{family}: {mismatches[:5]}"
    # The sweep reaches every branch of the resize: refusal, the pixel cap (fewer tokens than
    # plain rounding gives), the floor or the small-side upscale (more), and plain rounding.
    for family in PATCH_FAMILIES:
        factor = 32 if family == "qwen3vl" else 28
        outcomes = {"refused" if t == "refused" else (t > p) - (t < p)
                    for (w, h) in sizes
                    for t, p in [(our_tokens(family, w, h), round(w / factor) * round(h / factor))]}
        assert outcomes == {"refused", -1, 0, 1}, family


def test_the_figures_glyph_reports_for_a4():
    assert [visual_tokens("glm4v", *paper("A4", dpi)) for dpi in (72, 96, 120)] == [630, 1120, 1750]
    assert visual.family_spec("glm4v").resized(595, 842) == (21 * 28, 30 * 28)


def test_parameters_against_the_processor_classes_defaults():
    from transformers.models.glm4v.image_processing_pil_glm4v import Glm4vImageProcessorPil
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    glm, qwen = Glm4vImageProcessorPil(), Qwen2VLImageProcessorPil()
    ours_glm, ours_qwen = visual.family_spec("glm4v"), visual.family_spec("qwen2vl")
    assert (glm.patch_size, glm.merge_size, glm.temporal_patch_size) == (ours_glm.patch_size, ours_glm.merge_size, 2)
    assert glm.size.shortest_edge == ours_glm.min_pixels
    assert (qwen.patch_size, qwen.merge_size, qwen.size.shortest_edge) == (14, 2, ours_qwen.min_pixels)
    # The classes' own caps differ from the checkpoints' (glm4v: 11,760,000; qwen2vl: 1,003,520 px);
    # below both caps the counts agree, which covers every A4 page up to 200 dpi for glm4v.
    assert (glm.size.longest_edge, qwen.size.longest_edge) == (28 * 28 * 15000, 28 * 28 * 1280)
    for dpi in range(45, 201, 5):
        width, height = paper("A4", dpi)
        assert visual_tokens("glm4v", width, height) == patch_count_tokens(glm, width, height)


def test_deepseek_single_view_modes_are_fixed():
    for width, height in [(100, 100), paper("A4", 72), paper("A3", 300), (5000, 60)]:
        tokens = page_visual_tokens(width, height)
        assert [tokens[f"deepseek-ocr-{mode}"] for mode in ("tiny", "small", "base", "large")] == [64, 100, 256, 400]


def test_gundam_tiling_matches_the_aspect_ratio_rule_in_transformers():
    # DeepSeek-OCR 2's processor keeps DeepSeek-OCR's tiling rule with other tile sizes; with
    # 640 px tiles and 2..6 tiles it must pick the same grid as ours for every page that is tiled
    # (one larger than a tile on some side).
    from transformers.models.deepseek_ocr2.image_processing_pil_deepseek_ocr2 import get_optimal_tiled_canvas

    rng = random.Random(7)
    sizes = [paper(name, dpi) for name in PAPER_PT for dpi in range(45, 301, 3)]
    sizes += [(rng.randint(641, 9000), rng.randint(1, 9000)) for _ in range(2000)]
    # Aspect ratios exactly half-way between two grids' (1.25, 1.75, 2.5, 3.5, 4.5, 5.5), where
    # the area rule decides, at areas on both sides of it.
    sizes += [(800, 640), (1300, 1040), (1400, 800), (2800, 1600), (1600, 640), (3200, 1280),
              (2240, 640), (2880, 640), (3520, 640), (7040, 1280)]
    tiled = [(width, height) for width, height in sizes if max(width, height) > 640]
    assert len(tiled) > 2000
    for width, height in tiled:
        assert deepseek_tile_grid(width, height) == get_optimal_tiled_canvas((height, width), (640, 640), 2, 6)


def test_gundam_counts():
    assert visual_tokens("deepseek-ocr-gundam", 640, 640) == 256  # fits one tile: global view only
    assert visual_tokens("deepseek-ocr-gundam", 300, 500) == 256
    assert deepseek_tile_grid(*paper("A4", 72)) == (2, 3)
    assert visual_tokens("deepseek-ocr-gundam", *paper("A4", 72)) == 256 + 6 * 100
    assert visual_tokens("deepseek-ocr-gundam", 1280, 641) == 256 + 2 * 100
    # Aspect 1.25 is exactly half-way between 2x2 and 3x2 tiles: the page takes the larger grid only
    # when its area exceeds half of what those tiles cover (0.5 * 6 * 640 * 640 px).
    assert deepseek_tile_grid(800, 640) == (2, 2)
    assert deepseek_tile_grid(1300, 1040) == (3, 2)
    # 1.75 is half-way between 2x1 and 3x2; 1400x800 is too small for six tiles.
    assert deepseek_tile_grid(1400, 800) == (2, 1)
    assert deepseek_tile_grid(2800, 1600) == (3, 2)


def test_every_page_record_gets_every_family_in_order():
    tokens = page_visual_tokens(595, 842)
    assert tuple(tokens) == FAMILIES
    assert DEFAULT_FAMILY == "glm4v" == FAMILIES[0]
    assert tokens["qwen3vl"] == visual_tokens("qwen3vl", 595, 842) == 19 * 26


def test_unknown_family_lists_the_known_ones():
    with pytest.raises(UsageError) as caught:
        visual_tokens("gpt-4o", 595, 842)
    assert "gpt-4o" in str(caught.value)
    for family in FAMILIES:
        assert family in str(caught.value)


def test_impossible_pages_are_refused(processors):
    for width, height in [(0, 842), (595, -1)]:
        with pytest.raises(GlyphError, match="at least 1x1"):
            page_visual_tokens(width, height)
    # More elongated than 200:1: the real processors refuse it too.
    with pytest.raises(GlyphError, match="200:1"):
        visual_tokens("qwen2vl", 6000, 29)
    assert pipeline_tokens(processors["qwen2vl"], 6000, 29) == "refused"


def test_compression_ratio():
    assert compression_ratio(2520, 630) == 4.0
    assert compression_ratio(0, 630) == 0.0
    with pytest.raises(UsageError):
        compression_ratio(100, 0)
    with pytest.raises(UsageError):
        compression_ratio(-1, 630)
