"""Driving the app's pages through Streamlit's AppTest (no browser): open a page, click the map, read it.

A click on the latent map reaches the page as a selection in the format of ``st.plotly_chart``'s
``event.selection``; ``click`` queues one in ``st.session_state["latent_selections"]``, the same
inbox the chart's ``on_select`` callback fills in the real app.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from multigen.data import load_dataset, subset
from pages.ui.selection import queued
from pages.ui.site import page

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
EXPLORER, GENERATOR, COMPARE, WRITER, TRAIN = (
    page(key).file for key in ("explorer", "generator", "compare", "writer", "train")
)
TIMEOUT = 120  # seconds per script run: the first one imports torch and encodes the digits
SHIPPED = ROOT / "checkpoints"

needs_shipped = pytest.mark.skipif(
    not list(SHIPPED.glob("*.safetensors")), reason="no shipped checkpoints in checkpoints/ yet"
)


def open_app(page_file: str | None = None) -> AppTest:
    """The app after a script run on ``page_file`` (the explorer, the default page, when None)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    if page_file is not None:
        at.switch_page(page_file).run()
    assert not at.exception, at.exception
    return at


def click(at: AppTest, *points: dict, box: list | None = None) -> AppTest:
    """Inject a chart selection, exactly as the map's on_select callback hands it on, and rerun."""
    queue(at, {"points": list(points), "point_indices": [], "box": box or [], "lasso": []})
    at.run()
    assert not at.exception, at.exception
    return at


def queue(at: AppTest, selection: dict) -> None:
    """Queue a chart selection for the next run, made on the map the last run showed (as the callback does)."""
    made = at.session_state.get("latent_selections", [])
    at.session_state["latent_selections"] = queued(made, selection, at.session_state["explorer_context"])


def dot(row: int, label: int, *, trace: int = 3) -> dict:
    """A click on the dot of ``row`` (a ``label``, as the map's legend and the test's reader know it).

    curve_number and point_index are deliberately misleading: the page must map rows through customdata.
    """
    return {"curve_number": trace, "point_number": 0, "point_index": 0, "x": 0.0, "y": 0.0, "customdata": row,
            "legendgroup": str(label)}


def empty_space(x: float, y: float) -> dict:
    """A click on the invisible background grid at (x, y)."""
    return {"curve_number": 0, "point_number": 0, "point_index": 0, "x": x, "y": y, "customdata": -1}


def component_data(at: AppTest, name: str) -> dict | None:
    """What the script run sent to the custom component ``name`` (``st.components.v2``), if it drew one."""
    for element in at.get("bidi_component"):
        if element.proto.component_name == name:
            return json.loads(element.proto.json)
    return None


def clicked(at: AppTest) -> dict:
    """The explorer's picture panel: title, pictures, row, and what a click shows at once
    (pages/ui/picture_panel.py)."""
    data = component_data(at, "multigen.clicked_pictures")
    assert data is not None, "the explorer drew no picture panel"
    return data


def images_by_caption(at: AppTest) -> dict[str, str]:
    """Caption -> URL of every picture, st.image's and the explorer's panel's; equal URLs mean equal pictures
    (st.image's URL is a hash of the PNG bytes, the panel's a data URL of them)."""
    shown = {caption: url for image in at.image for caption, url in zip(image.captions, image.value)}
    panel = component_data(at, "multigen.clicked_pictures")
    shown.update({picture["caption"]: picture["url"] for picture in (panel or {}).get("pictures", [])})
    return shown


def main_image(at: AppTest) -> str:
    """The URL of the page's first picture."""
    return at.image[0].value[0]


def png_pixels(url: str) -> np.ndarray:
    """The grey levels of a PNG data URL."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("L"))


def explorer_rows(n_points: int = 2000, split: str = "train") -> np.ndarray:
    """The labels of the rows the explorer shows (the same seeded subset the page takes)."""
    return subset(load_dataset("mnist-5k", split), n_points).labels.numpy()


def cut_from_sheet(atlas: dict, sheet: str, row: int) -> np.ndarray:
    """Dot ``row``'s picture in one of the atlas's sprite sheets, where the browser cuts it from."""
    size, columns = atlas["size"], atlas["columns"]
    y, x = (row // columns) * size, (row % columns) * size
    return png_pixels(atlas["sheets"][sheet])[y : y + size, x : x + size]
