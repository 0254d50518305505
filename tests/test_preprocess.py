"""Any picture of a digit made into an MNIST digit: ink boxed to 20 pixels, centred by mass in 28 x 28."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from multigen.data import load_dataset
from multigen.errors import MultigenError
from multigen.evaluation import perceptual_distance
from multigen.preprocess import mnist_digit, read_digit_image


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return np.rint(load_dataset("mnist-5k", "val").images[:20, 0].numpy() * 255).astype(np.uint8)


def test_an_mnist_digit_made_again_stays_itself_and_the_ink_fits_the_20_pixel_box(digits, classifier):
    again = np.stack([mnist_digit(digit) for digit in digits])
    assert perceptual_distance(again, digits, classifier=classifier).mean() < 0.2  # about a pixel's shift
    assert perceptual_distance(digits[::-1], digits, classifier=classifier).mean() > 0.3  # another digit
    for digit in again:
        rows, columns = np.nonzero(digit > 50)
        assert max(np.ptp(rows), np.ptp(columns)) + 1 <= 21 and 3 <= rows.min() and rows.max() <= 24


def test_a_big_dark_on_light_scan_gives_the_same_digit_as_the_light_on_dark_original(digits):
    for digit in digits[:5]:
        scan = 255 - np.kron(digit, np.ones((7, 7), np.uint8))  # 196 x 196, black ink on white paper
        rgb = np.repeat(scan[..., None], 3, axis=2)
        assert np.array_equal(mnist_digit(scan), mnist_digit(digit))
        assert np.abs(mnist_digit(rgb).astype(int) - mnist_digit(digit).astype(int)).max() <= 1


def test_the_digit_is_centred_by_its_mass_wherever_it_was_drawn():
    canvas = np.zeros((300, 200), np.uint8)
    canvas[20:120, 150:160] = 255  # a "1" drawn in a corner
    digit = mnist_digit(canvas).astype(float)
    rows, columns = np.indices(digit.shape)
    assert abs((digit * rows).sum() / digit.sum() - 13.5) <= 0.6
    assert abs((digit * columns).sum() / digit.sum() - 13.5) <= 0.6


def test_uploads_are_read_with_limits_and_bad_ones_are_one_line(digits):
    buffer = io.BytesIO()
    Image.fromarray(255 - np.kron(digits[0], np.ones((4, 4), np.uint8))).save(buffer, "JPEG")
    assert np.abs(read_digit_image(buffer.getvalue()).astype(int) - mnist_digit(digits[0]).astype(int)).mean() < 10
    bomb = io.BytesIO()
    Image.new("L", (20_000, 20_000)).save(bomb, "PNG")
    for data, message in ((bomb.getvalue(), "more pixels|at most 4096"), (b"not an image", "not a PNG or JPEG"),
                          (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "not a PNG or JPEG")):
        with pytest.raises(MultigenError, match=message):
            read_digit_image(data)
    with pytest.raises(MultigenError, match="no ink"):
        mnist_digit(np.full((50, 50), 255, np.uint8))


def test_an_uploaded_28_by_28_digit_is_taken_as_it_is_light_or_dark(digits):
    for digit in digits[:3]:
        for picture in (digit, 255 - digit):
            buffer = io.BytesIO()
            Image.fromarray(picture).save(buffer, "PNG")
            assert np.array_equal(read_digit_image(buffer.getvalue()), digit)


def test_the_pad_draws_strokes_with_a_soft_round_brush_and_refuses_nonsense():
    from multigen.preprocess import draw_strokes, strokes_digit

    ink = draw_strokes([[[14, 4], [14, 24]]])  # a vertical "1"
    assert ink.shape == (112, 112) and ink.max() == 1.0
    row = ink[56]
    assert 0 < row[row > 0].min() < 0.5  # the edge fades: anti-aliased, not a hard line
    assert 8 <= (row > 0.5).sum() <= 20  # about 3.6 cells wide at half ink
    assert np.array_equal(draw_strokes([[[10, 10]]]), draw_strokes([[[10, 10], [10, 10]]]))  # a dab
    one = strokes_digit([[[14, 4], [14, 24]]])
    assert one.shape == (28, 28) and np.ptp(np.nonzero(one.sum(axis=1) > 0)[0]) + 1 <= 21
    for strokes, message in (([], "empty"), ([[]], "non-empty"), ("7", "list of strokes"),
                             ([[[1, float("nan")]]], "far outside"), ([[[1, 2, 3]]], "points"),
                             ([[[0, 0]] * 20_001], "more than")):
        with pytest.raises(MultigenError, match=message):
            strokes_digit(strokes)
