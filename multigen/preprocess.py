"""Any picture of one digit made into an MNIST digit, the way MNIST's were made.

LeCun, Cortes & Burges describe MNIST: each digit's ink was size-normalised to fit a 20 x 20 box (keeping
its aspect ratio, with anti-aliasing, hence grey levels), then centred in a 28 x 28 field by its centre of
mass. ``mnist_digit`` does exactly that, in plain array arithmetic that a page can repeat to the pixel:

1. grey levels in [0, 1]; a picture with a light background (its border brighter than mid-grey on average)
   is inverted, so ink is bright on black as in MNIST;
2. the ink's bounding box: rows and columns holding a pixel above ``INK``;
3. the box scaled so its longer side is 20 pixels, each new pixel the area-weighted mean of the old ones
   it covers (a box filter with fractional edges: anti-aliased, and exact for a page to copy);
4. placed in 28 x 28 so that its centre of mass falls on the middle pixel (13.5, 13.5, rounded to whole
   pixels), kept inside the field.
"""

from __future__ import annotations

import numpy as np

from multigen.errors import MultigenError
from multigen.images import opened_upload

SIZE = 28
BOX = 20  # the longer side of the ink, as in MNIST
INK = 0.2  # a pixel brighter than this (on a dark background) is ink
MAX_PIXELS = 4096 * 4096  # an upload larger than this is refused from its header
MAX_BYTES = 20_000_000


def _coverage(source: int, target: int) -> np.ndarray:
    """(target, source) weights: how much of each source pixel each target pixel covers, rows summing to 1."""
    scale = source / target
    weights = np.zeros((target, source), dtype=np.float64)
    for i in range(target):
        start, end = i * scale, (i + 1) * scale
        first, last = int(np.floor(start)), min(int(np.ceil(end)), source)
        for j in range(first, last):
            weights[i, j] = min(end, j + 1) - max(start, j)
    return weights / weights.sum(axis=1, keepdims=True)


def mnist_digit(picture: np.ndarray) -> np.ndarray:
    """A (28, 28) uint8 digit, white on black, from a grey (H, W) or colour (H, W, 3|4) picture of one digit
    (uint8, or floats in [0, 1]) of any size, dark-on-light or light-on-dark. One ``MultigenError`` line when
    there is no ink."""
    pixels = np.asarray(picture)
    full = 255.0 if pixels.dtype == np.uint8 else 1.0
    if pixels.ndim == 3 and pixels.shape[2] in (3, 4):  # colour: luminance (ITU-R BT.601)
        grey = pixels[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114]) / full
        if pixels.shape[2] == 4:  # transparent parts are white paper (a drawing app's background)
            alpha = pixels[..., 3].astype(np.float64) / full
            grey = grey * alpha + (1 - alpha)
        pixels = grey
    elif pixels.ndim == 2:
        pixels = pixels.astype(np.float64) / full
    else:
        raise MultigenError(f"A picture of one digit is (H, W) or (H, W, 3|4), got shape {np.shape(picture)}.")
    if not np.isfinite(pixels).all():
        raise MultigenError("The picture holds NaN or infinite values: draw or upload it again.")
    pixels = np.clip(pixels, 0.0, 1.0)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    if border.mean() > 0.5:  # dark ink on light paper: MNIST's ink is light on black
        pixels = 1.0 - pixels
    rows, columns = np.nonzero(pixels > INK)
    if len(rows) == 0:
        raise MultigenError("The picture holds no ink: draw or upload a digit.")
    ink = pixels[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
    height, width = ink.shape
    scale = BOX / max(height, width)
    new_height, new_width = max(1, round(height * scale)), max(1, round(width * scale))
    boxed = _coverage(height, new_height) @ ink @ _coverage(width, new_width).T
    total = boxed.sum()
    centre_row = (boxed.sum(axis=1) * np.arange(new_height)).sum() / total
    centre_column = (boxed.sum(axis=0) * np.arange(new_width)).sum() / total
    top = int(np.clip(round(13.5 - centre_row), 0, SIZE - new_height))
    left = int(np.clip(round(13.5 - centre_column), 0, SIZE - new_width))
    digit = np.zeros((SIZE, SIZE), dtype=np.float64)
    digit[top : top + new_height, left : left + new_width] = boxed
    return np.clip(np.rint(digit * 255.0), 0, 255).astype(np.uint8)


def read_digit_image(data: bytes) -> np.ndarray:
    """An uploaded PNG or JPEG (any size) as a (28, 28) MNIST digit: its size is checked from the header before
    any pixel is decoded; a bad file is one ``MultigenError`` line."""
    with opened_upload(data, formats=("PNG", "JPEG"), max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS,
                       what="picture of a digit") as picture:
        pixels = np.asarray(picture.convert("RGBA" if "A" in picture.getbands() else "L"))
    return mnist_digit(pixels)
