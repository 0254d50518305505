"""Turning model outputs into pictures: uint8 arrays, grids (torchvision's make_grid layout) and PNG bytes."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from PIL import Image

from multigen.errors import MultigenError


def as_images(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Digits as a float32 tensor (n, 1, 28, 28) in [0, 1] (on the device they came on), from any accepted form."""
    tensor = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(images))
    tensor = tensor.detach()
    if tensor.ndim == 3:
        tensor = tensor.unsqueeze(1)
    if tensor.ndim != 4 or tuple(tensor.shape[1:]) != (1, 28, 28) or tensor.shape[0] == 0:
        raise MultigenError(
            f"Expected digit images shaped (n, 28, 28) or (n, 1, 28, 28) with n >= 1, got {tuple(tensor.shape)}."
        )
    if tensor.dtype == torch.uint8:
        return tensor.float().div_(255.0)
    if not tensor.is_floating_point():
        raise MultigenError(f"Expected uint8 images or floats in [0, 1], got {tensor.dtype}.")
    return tensor.float()


def to_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Images in [0, 1], shaped (n, 1, 28, 28) or (n, 28, 28), as a (n, 28, 28) uint8 array."""
    if isinstance(images, torch.Tensor):
        images = images.detach().float().cpu().numpy()
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4:
        images = images[:, 0]
    return np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)


def image_grid(images: np.ndarray | torch.Tensor, *, nrow: int = 10, padding: int = 2, pad_value: int = 0) -> np.ndarray:
    """Tile (n, H, W) images into one uint8 picture, ``nrow`` per row, ``padding`` pixels of ``pad_value`` around
    and between them; one image comes back as it is. The layout of torchvision's ``make_grid``, pixel for pixel,
    without importing torchvision (about a second, on the path of a page's first paint)."""
    images = to_uint8(images) if not (isinstance(images, np.ndarray) and images.dtype == np.uint8) else images
    if len(images) == 1:
        return images[0].copy()
    count, height, width = images.shape
    columns = min(nrow, count)
    rows = math.ceil(count / columns)
    cell_height, cell_width = height + padding, width + padding
    grid = np.full((cell_height * rows + padding, cell_width * columns + padding), pad_value, dtype=np.uint8)
    for index, image in enumerate(images):
        top, left = (index // columns) * cell_height + padding, (index % columns) * cell_width + padding
        grid[top : top + height, left : left + width] = image
    return grid


def sprite_sheet(images: np.ndarray | torch.Tensor, *, columns: int | None = None) -> tuple[np.ndarray, int]:
    """Images tiled edge to edge into one uint8 picture, and its column count.

    Image ``i`` sits at column ``i % columns``, row ``i // columns``, so a browser can cut any one of
    them out of the sheet; ``columns`` defaults to about the square root of the count.
    """
    count = len(images)
    columns = columns or max(1, math.ceil(math.sqrt(count)))
    return image_grid(images, nrow=columns, padding=0), columns


def image_strip(images: np.ndarray | torch.Tensor, *, padding: int = 2) -> np.ndarray:
    """Images side by side in one row."""
    count = len(images)
    return image_grid(images, nrow=max(count, 1), padding=padding)


def enlarge(image: np.ndarray, factor: int = 8) -> np.ndarray:
    """Nearest-neighbour upscaling so a 28x28 digit is crisp on screen instead of blurred."""
    return np.kron(image, np.ones((factor, factor), dtype=image.dtype))


def png_bytes(image: np.ndarray, *, metadata: dict[str, str] | None = None, compress_level: int = 6) -> bytes:
    """Encode a uint8 (H, W) picture as PNG, optionally with text chunks (e.g. the recipe JSON).

    ``compress_level`` is zlib's, 0-9: 1 encodes a 420x420 grid about five times faster than the
    default 6, for a somewhat larger file (what a page drawn on every click wants).
    """
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in (metadata or {}).items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8), mode="L").save(
        buffer, format="PNG", pnginfo=info, compress_level=compress_level
    )
    return buffer.getvalue()


def png_data_url(image: np.ndarray, *, compress_level: int = 1) -> str:
    """A uint8 (H, W) picture as a ``data:image/png;base64,...`` URL: a page can carry it inline."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image, compress_level=compress_level)).decode("ascii")


@contextmanager
def opened_upload(data: bytes, *, formats: tuple[str, ...], max_bytes: int, max_pixels: int, what: str) -> Iterator[Any]:
    """An uploaded picture opened with PIL, its size checked from the header before any pixel is decoded (a
    400 KB PNG can claim 20000 x 20000 pixels): any bad file is one ``MultigenError`` line that names ``what``
    was expected, e.g. "a PNG saved from multigen"."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > max_bytes:
        raise MultigenError(f"This file is {len(data) / 1e6:.1f} MB, more than {what} ever is: upload {what}.")
    kinds = " or ".join(formats)
    try:
        with Image.open(io.BytesIO(data)) as picture:
            width, height = picture.size
            if picture.format not in formats:
                raise MultigenError(f"This file is not a {kinds} picture: upload {what}.")
            if width * height > max_pixels:
                raise MultigenError(f"This picture is {width} x {height} pixels, more than {what} ever has: upload another.")
            yield picture
    except Image.DecompressionBombError:  # PIL's own cap (about 179 million pixels), before ours is asked
        raise MultigenError(f"This picture claims more pixels than any {what}: upload another.") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise MultigenError(f"This file is not a {kinds} picture: upload {what}.") from None
