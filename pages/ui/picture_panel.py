"""The Latent explorer's picture panel: a click on a dot shows its pictures in the browser at once.

Two Streamlit custom components (``st.components.v2``; their JavaScript is in ``pages/components/``):

- ``dot_atlas`` sends, once per map, one sprite sheet per kind of picture (the digits, their decoded
  means, ...), every dot's picture at a fixed place. The sheets do not change from click to click, so
  Streamlit sends the element once and then only a reference to it.
- ``clicked_pictures`` draws the title and pictures of the last pick that the script run sends. It
  also listens to the map's clicks: a click on a dot cuts that dot's pictures out of the sheets and
  shows them before the rerun has even started (the answer then shows the same pictures).

Maps with more dots than ``ATLAS_MAX_POINTS`` get no sheets (they would weigh megabytes); their
pictures come with the rerun, as every picture from a position in empty space does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from multigen.images import png_data_url, sprite_sheet

ATLAS_MAX_POINTS = 5_000  # sheets of 5,000 dots: 1988 x 1988 pixels, about 0.9 MB (digits) to 1.6 MB (decodings) each
_SOURCE = Path(__file__).resolve().parents[1] / "components"  # pages/components/

_atlas_component = st.components.v2.component(
    "multigen.dot_atlas", js=(_SOURCE / "digit_atlas.js").read_text(encoding="utf-8")
)
_pictures_component = st.components.v2.component(
    "multigen.clicked_pictures",
    js=(_SOURCE / "digit_pictures.js").read_text(encoding="utf-8"),
    css=(_SOURCE / "digit_pictures.css").read_text(encoding="utf-8"),
    # In the page's own DOM, not a shadow root: its headings look like the app's, and tests and the
    # latency benchmark see its pictures as they see every other (its CSS is scoped by class instead).
    isolate_styles=False,
)


def atlas_id(*context: Any) -> str:
    """A short name for the sheets of one map (its checkpoint, points, projection, condition...)."""
    return hashlib.sha1(repr(context).encode()).hexdigest()[:16]


@st.cache_resource(max_entries=8, show_spinner="Preparing the dots' pictures…")
def _atlas(identifier: str, _make_sheets: Callable[[], dict[str, np.ndarray]]) -> dict[str, Any]:
    encoded, columns = {}, 1
    for name, images in _make_sheets().items():
        sheet, columns = sprite_sheet(images)
        encoded[name] = png_data_url(sheet, compress_level=6)  # once per map: 10% smaller than level 1
    return {"id": identifier, "columns": columns, "size": 28, "sheets": encoded}


def dot_atlas(identifier: str, make_sheets: Callable[[], dict[str, np.ndarray]], *, key: str) -> None:
    """Send the sprite sheets named ``identifier``; ``make_sheets`` (name -> (n, 28, 28) uint8 pictures,
    row i for dot i) runs only the first time that name is asked for (shared by all sessions, read-only)."""
    _atlas_component(key=key, data=_atlas(identifier, make_sheets), height=0)


def clicked_pictures(
    *,
    chart: str,
    title: str | None,
    pictures: list[tuple[str, str]],
    row: int | None,
    atlas: str | None,
    instant: list[tuple[str, str]],
    titles: list[str],
    width: int,
    key: str,
) -> None:
    """Draw the last pick's ``title`` and ``pictures`` ((caption, data URL)), ``width`` pixels each.

    ``row`` is the dot they belong to (None for a position); a click on a dot of the plotly chart with
    key ``chart`` shows ``instant`` ((caption, sheet name)) cut from the ``atlas`` sheets at once, under
    ``titles[label] · row N``, the title the script run gives a dot.
    """
    _pictures_component(
        key=key,
        data={
            "chart": chart, "title": title, "row": row, "width": width, "atlas": atlas, "titles": titles,
            "pictures": [{"caption": caption, "url": url} for caption, url in pictures],
            "instant": [list(pair) for pair in instant],
        },
    )
