"""The Latent explorer's picture panel: a click on a dot shows its pictures in the browser at once.

Two Streamlit custom components (``st.components.v2``; their JavaScript is in ``pages/components/``):

- ``dot_atlas`` sends, once per map, one sprite sheet per kind of picture (the digits, their decoded
  means, ...), every dot's picture at a fixed place. The sheets do not change from click to click, so
  Streamlit sends the element once and then only a reference to it.
- ``clicked_pictures`` draws the title and pictures of the last pick that the script run sends. It
  also listens to the map's clicks: a click on a dot cuts that dot's pictures out of the sheets and
  shows them before the rerun has even started (the answer then shows the same pictures).

Maps with more dots than ``ATLAS_MAX_POINTS`` get no sheets (60,000 digits would weigh 11 MB as PNG): their
pictures are written once as raw rows (784 bytes a digit) to ``static/rows/``, which Streamlit serves, and a click
fetches its dot's 784 bytes with an HTTP Range request, a few milliseconds, whatever the size of the map. The other
pictures of a dot, and every picture of a position in empty space, come with the rerun.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from multigen.cache import prune_oldest
from multigen.checkpoints.format import write_atomically
from multigen.images import png_data_url, sprite_sheet
from pages.ui.folders import APP_ROOT

ATLAS_MAX_POINTS = 5_000  # sheets of 5,000 dots: 1988 x 1988 pixels, about 0.9 MB (digits) to 1.6 MB (decodings) each
ROWS_DIR = APP_ROOT / "static" / "rows"  # the raw rows of larger maps, served at app/static/rows/
ROW_FILES_KEPT = 12  # the newest row files stay (47 MB each for 60,000 digits); older ones are deleted
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


def row_file(identifier: str, name: str, images: np.ndarray) -> str:
    """Write ``images`` ((n, 28, 28) uint8) as one raw file of n rows of 784 bytes under ``ROWS_DIR`` (atomically,
    once per name), delete the oldest beyond ``ROW_FILES_KEPT``, and return its served address."""
    path = ROWS_DIR / f"{identifier}-{name}.u8"
    try:
        os.utime(path)  # in use again: the newest
    except FileNotFoundError:  # never written, or pruned meanwhile (by this server or another sharing the folder)
        ROWS_DIR.mkdir(parents=True, exist_ok=True)
        write_atomically(path, np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    prune_oldest(ROWS_DIR, "*.u8", ROW_FILES_KEPT, never=path)
    return f"app/static/rows/{path.name}"


@st.cache_resource(max_entries=8, show_spinner="Preparing the dots' pictures…")
def _atlas(identifier: str, _make_sheets: Callable[[], dict[str, np.ndarray]]) -> dict[str, Any]:
    sheets = _make_sheets()
    if max(len(images) for images in sheets.values()) > ATLAS_MAX_POINTS:  # fetched a row at a time
        return {"id": identifier, "size": 28, "files": {name: row_file(identifier, name, images)
                                                          for name, images in sheets.items()}}
    encoded, columns = {}, 1
    for name, images in sheets.items():
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
