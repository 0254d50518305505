"""Digits and grids of digits drawn crisp with ``st.image``."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from multigen.images import enlarge, png_data_url

# Pictures are sent at their own size and enlarged by the browser: nearest-neighbour, so pixels stay square.
# A picture wider than its column shrinks to fit it: st.image(width=N) gives its <img> max-width: 100%, but
# sizes the box around it to N pixels whatever the column's width (Streamlit 1.67), so the box is capped too.
PAGE_STYLE = (
    "<style>[data-testid='stImage'] img { image-rendering: pixelated; }"
    " [data-testid='stImageContainer'] { max-width: 100%; }</style>"
)


def picture(image: np.ndarray, factor: int = 8) -> np.ndarray:
    """A digit or grid enlarged with nearest-neighbour upscaling, so it stays crisp on screen."""
    return enlarge(np.asarray(image, dtype=np.uint8), factor)


@st.cache_data(max_entries=256, show_spinner=False)
def picture_url(image: np.ndarray) -> str:
    """``image`` as a PNG data URL, encoded once: most pictures of a page stay the same from click to click."""
    return png_data_url(image)


def show_picture(image: np.ndarray, *, factor: int = 8, caption: str | None = None, container: Any = st) -> None:
    """Draw a uint8 picture ``factor`` times its size, crisp.

    The picture travels inside the page as a small PNG data URL (no second request, which would wait
    behind the rest of a busy script run) and the browser enlarges it without smoothing (PAGE_STYLE).
    """
    image = np.asarray(image, dtype=np.uint8)
    container.image(picture_url(image), caption=caption, width=image.shape[1] * factor)
