"""multigen.images: the sprite sheets the Latent explorer's browser cuts a clicked dot's pictures from."""

from __future__ import annotations

import numpy as np
import pytest

from multigen.images import image_grid, png_bytes, sprite_sheet


@pytest.mark.parametrize(("count", "columns"), [(1, None), (7, None), (10, 4), (2000, None)])
def test_every_picture_sits_where_its_index_says(count, columns):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    sheet, used = sprite_sheet(images, columns=columns)
    assert used == (columns or int(np.ceil(np.sqrt(count))))
    assert sheet.dtype == np.uint8 and sheet.shape == (28 * -(-count // used), 28 * used)
    for index in {0, count // 2, count - 1}:
        y, x = (index // used) * 28, (index % used) * 28
        np.testing.assert_array_equal(sheet[y : y + 28, x : x + 28], images[index])


def test_a_sheet_of_real_digits_stays_small_enough_to_send_with_the_map():
    from multigen.data import load_dataset, subset
    from multigen.images import to_uint8

    digits = to_uint8(subset(load_dataset("mnist-5k", "train"), 2000).images)
    sheet, _ = sprite_sheet(digits)
    assert len(png_bytes(sheet, compress_level=1)) < 1_000_000  # 2,000 digits: well under a megabyte


@pytest.mark.parametrize("count", [1, 2, 7, 10, 23])
@pytest.mark.parametrize(("nrow", "padding", "pad_value"), [(10, 2, 0), (3, 0, 0), (1, 1, 255)])
def test_a_grid_is_laid_out_exactly_as_torchvision_s_make_grid(count, nrow, padding, pad_value):
    import torch
    from torchvision.utils import make_grid

    images = np.random.default_rng(count).integers(0, 256, (count, 28, 28), dtype=np.uint8)
    expected = make_grid(torch.from_numpy(images).unsqueeze(1), nrow=nrow, padding=padding, pad_value=pad_value)[0]
    assert np.array_equal(image_grid(images, nrow=nrow, padding=padding, pad_value=pad_value), expected.numpy())
