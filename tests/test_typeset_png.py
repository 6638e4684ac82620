import io

import numpy as np
import pytest
from PIL import Image

from glyph_cli.typeset.png import encode_png


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("width", [1, 3, 7, 8, 9, 595])
def test_grey_png_decodes_to_the_same_levels(bits, width):
    rng = np.random.default_rng(bits * 1000 + width)
    samples = rng.integers(0, 1 << bits, (6, width), dtype=np.uint8)
    im = Image.open(io.BytesIO(encode_png(samples, bits)))
    assert im.size == (width, 6)
    decoded = np.array(im.convert("L"))
    assert (decoded == (samples.astype(int) * 255 // ((1 << bits) - 1))).all()


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_palette_png_decodes_to_the_same_indices(bits):
    rng = np.random.default_rng(bits)
    samples = rng.integers(0, 1 << bits, (5, 33), dtype=np.uint8)
    palette = [(i, 255 - i, (7 * i) % 256) for i in range(1 << bits)]
    im = Image.open(io.BytesIO(encode_png(samples, bits, palette)))
    assert im.mode == "P"
    assert (np.array(im) == samples).all()
    assert im.getpalette()[:3 * len(palette)] == [c for rgb in palette for c in rgb]


def test_same_pixels_same_bytes():
    a = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert encode_png(a, 8) == encode_png(a.copy(), 8)


def test_palette_too_large_for_bit_depth_is_refused():
    with pytest.raises(ValueError):
        encode_png(np.zeros((2, 2), np.uint8), 1, [(0, 0, 0)] * 3)
