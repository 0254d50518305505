"""Any picture of one digit made into an MNIST digit, the way MNIST's were made.

LeCun, Cortes & Burges describe MNIST: each digit's ink was size-normalised to fit a 20 x 20 box (keeping
its aspect ratio, with anti-aliasing, hence grey levels), then centred in a 28 x 28 field by its centre of
mass. ``mnist_digit`` does exactly that, in plain array arithmetic that a page can repeat to the pixel:

1. grey levels in [0, 1]; a picture with a light background (its border brighter than mid-grey on average)
   is inverted, so ink is bright on black as in MNIST;
2. the ink's bounding box: rows and columns holding a pixel above ``INK``;
3. the box scaled so its longer side is 20 pixels, each new pixel the area-weighted mean of the old ones
   it covers (a box filter with fractional edges: anti-aliased, and exact for a page to copy);
4. rounded to whole grey levels (0-255) and placed in 28 x 28 so that its centre of mass falls on the middle
   pixel (13.5, 13.5, rounded to whole pixels), kept inside the field.

Every rounding is half up (``floor(x + 0.5)``), as JavaScript's ``Math.round``: the Latent explorer's drawing
pad (``pages/components/drawing_pad.js``) repeats steps 2-4 and the pad's brush (``draw_strokes``) line by line,
and ``tests/pages/test_drawing_pad_js.py`` checks the two give the same digit for the same strokes.
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

# The drawing pad: 28 x 28 cells, each drawn as SUBCELLS x SUBCELLS pixels so that the brush's edge is smooth,
# the way NIST's scans were finer than the 20-pixel box that MNIST shrank them to.
PAD_CELLS = 28
SUBCELLS = 4
BRUSH_RADIUS = 1.8  # cells from the stroke's centre line to the middle of its fading edge
BRUSH_EDGE = 1.4  # cells over which the ink fades from full to none: MNIST's grey stroke edges
MAX_STROKE_POINTS = 20_000  # all strokes together


def _half_up(value: float) -> int:
    """Round half up, as JavaScript's Math.round (Python's round() rounds half to even)."""
    return int(np.floor(value + 0.5))


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
    return _normalised(_grey(picture))


def _grey(picture: np.ndarray) -> np.ndarray:
    """Grey levels in [0, 1] (float64, H x W) of a grey or colour picture, transparency as white paper."""
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
    return np.clip(pixels, 0.0, 1.0)


def _normalised(pixels: np.ndarray) -> np.ndarray:
    """Steps 1-4 of the module's recipe on grey levels in [0, 1] (the page's ``mnistDigit`` repeats it)."""
    if _light_paper(pixels):  # MNIST's ink is light on black
        pixels = 1.0 - pixels
    rows, columns = np.nonzero(pixels > INK)
    if len(rows) == 0:
        raise MultigenError("The picture holds no ink: draw or upload a digit.")
    ink = pixels[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
    height, width = ink.shape
    scale = BOX / max(height, width)
    new_height, new_width = max(1, _half_up(height * scale)), max(1, _half_up(width * scale))
    boxed = (_coverage(height, new_height) @ ink) @ _coverage(width, new_width).T
    # Whole grey levels before the centre of mass: its sums are then exact whatever their order, so a symmetric
    # digit, whose centre falls exactly between two pixels, is placed the same way here and in the page.
    levels = np.clip(np.floor(boxed * 255.0 + 0.5), 0, 255)
    total = levels.sum()
    if total == 0:
        raise MultigenError("The picture holds no ink: draw or upload a digit.")
    centre_row = (levels.sum(axis=1) * np.arange(new_height)).sum() / total
    centre_column = (levels.sum(axis=0) * np.arange(new_width)).sum() / total
    top = int(np.clip(_half_up(13.5 - centre_row), 0, SIZE - new_height))
    left = int(np.clip(_half_up(13.5 - centre_column), 0, SIZE - new_width))
    digit = np.zeros((SIZE, SIZE), dtype=np.uint8)
    digit[top : top + new_height, left : left + new_width] = levels
    return digit


def _checked_strokes(strokes: object) -> list[np.ndarray]:
    """Strokes as (k, 2) float64 arrays of finite (x, y) cell positions, or one ``MultigenError`` line."""
    if not isinstance(strokes, (list, tuple)):
        raise MultigenError("Strokes are a list of strokes, each a list of [x, y] points: draw a digit.")
    checked, total = [], 0
    for stroke in strokes:
        try:
            points = np.asarray(stroke, dtype=np.float64)
        except (TypeError, ValueError):
            raise MultigenError("A stroke is a list of [x, y] points (numbers): draw the digit again.") from None
        if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
            raise MultigenError("A stroke is a non-empty list of [x, y] points: draw the digit again.")
        if not np.isfinite(points).all() or np.abs(points).max() > 10 * PAD_CELLS:
            raise MultigenError("A stroke point lies far outside the pad: draw the digit again.")
        total += len(points)
        if total > MAX_STROKE_POINTS:
            raise MultigenError(f"The strokes have more than {MAX_STROKE_POINTS:,} points: clear the pad and draw again.")
        checked.append(points)
    if not checked:
        raise MultigenError("The pad is empty: draw a digit first.")
    return checked


def draw_strokes(strokes: object) -> np.ndarray:
    """The drawing pad's picture: (112, 112) floats in [0, 1], white ink on black, from strokes (each a list of
    (x, y) points in cells, 0-28 across and down) drawn with the pad's round brush, whose ink at distance d
    from a stroke's centre line is clamp((BRUSH_RADIUS - d) / BRUSH_EDGE + 1/2, 0, 1); where strokes cross,
    the darker wins (the maximum). ``drawing_pad.js`` paints the same pixels."""
    size = PAD_CELLS * SUBCELLS
    radius, edge = BRUSH_RADIUS * SUBCELLS, BRUSH_EDGE * SUBCELLS
    reach = radius + edge / 2 + 1  # beyond this no pixel gets ink
    ink = np.zeros((size, size), dtype=np.float64)
    for stroke in _checked_strokes(strokes):
        points = stroke * SUBCELLS
        for (ax, ay), (bx, by) in zip(points, points[1:] if len(points) > 1 else points):
            x0, x1 = max(0, int(np.floor(min(ax, bx) - reach))), min(size, int(np.ceil(max(ax, bx) + reach)))
            y0, y1 = max(0, int(np.floor(min(ay, by) - reach))), min(size, int(np.ceil(max(ay, by) + reach)))
            if x0 >= x1 or y0 >= y1:
                continue
            px = np.arange(x0, x1, dtype=np.float64)[None, :] + 0.5  # pixel centres
            py = np.arange(y0, y1, dtype=np.float64)[:, None] + 0.5
            ex, ey = bx - ax, by - ay
            length2 = ex * ex + ey * ey
            t = np.clip(((px - ax) * ex + (py - ay) * ey) / length2, 0.0, 1.0) if length2 > 0 else 0.0
            dx, dy = px - (ax + t * ex), py - (ay + t * ey)
            value = np.clip((radius - np.sqrt(dx * dx + dy * dy)) / edge + 0.5, 0.0, 1.0)
            np.maximum(ink[y0:y1, x0:x1], value, out=ink[y0:y1, x0:x1])
    return ink


def strokes_digit(strokes: object) -> np.ndarray:
    """The (28, 28) uint8 MNIST digit the drawing pad makes of ``strokes``: ``mnist_digit(draw_strokes(strokes))``."""
    return mnist_digit(draw_strokes(strokes))


def read_digit_image(data: bytes) -> np.ndarray:
    """An uploaded PNG or JPEG (any size) as a (28, 28) MNIST digit: its size is checked from the header before
    any pixel is decoded; a bad file is one ``MultigenError`` line. A 28 x 28 picture is already in MNIST's
    format (what MNIST's files and ``multigen sample`` hold): it is only made white on black, not boxed again,
    so an uploaded MNIST digit is exactly that digit."""
    with opened_upload(data, formats=("PNG", "JPEG"), max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS,
                       what="picture of a digit") as picture:
        pixels = np.asarray(picture.convert("RGBA" if "A" in picture.getbands() else "L"))
    grey = _grey(pixels)
    digit = _normalised(grey)  # also refuses a picture without ink
    if grey.shape != (SIZE, SIZE):
        return digit
    if _light_paper(grey):
        grey = 1.0 - grey
    return np.floor(grey * 255.0 + 0.5).astype(np.uint8)


def _light_paper(pixels: np.ndarray) -> bool:
    """Dark ink on light paper: the border brighter than mid-grey on average."""
    return bool(np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]]).mean() > 0.5)
