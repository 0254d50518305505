"""The Latent explorer's drawing pad (``pages/components/drawing_pad.js``): a person draws a digit, or uploads
one, and sees in the page, stroke by stroke, where the VAE's encoder puts it on the map, its reconstruction
and, for a CVAE, the label the model finds most likely.

The encoder and decoder run in the page as ONNX exports (``multigen.export``), like the live digits of
``pages/ui/live_digit.py``; the page's preprocessing and placing repeat ``multigen.preprocess`` and
``Projection.place``. The server hears the strokes when a stroke ends and makes the same digit with
``multigen.preprocess.strokes_digit``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from multigen.errors import MultigenError
from multigen.explore.projection import Projection
from pages.ui.folders import APP_ROOT
from pages.ui.live_digit import LOADER, RUNTIME, WASM, served_model

_SOURCE = APP_ROOT / "pages" / "components" / "drawing_pad.js"

_component = st.components.v2.component(
    "multigen.drawing_pad", js=_SOURCE.read_text(encoding="utf-8"), isolate_styles=False
)


MAX_TSNE_POINTS = 5_000  # a t-SNE map's latents travel with the pad on every rerun: at most this many


def projection_data(projection: Projection) -> dict[str, Any]:
    """What the page needs to place a latent on the map as ``Projection.place`` does (method "none", with the
    reason, for a t-SNE map too big to send)."""
    if projection.method == "tsne" and len(projection.points) > MAX_TSNE_POINTS:
        return {"method": "none", "why": f"a t-SNE map of more than {MAX_TSNE_POINTS:,} dots is placed only by the "
                "server; choose PCA or fewer points."}
    data: dict[str, Any] = {"method": projection.method}
    if projection.method == "pca":
        data.update(components=projection.components.astype(np.float64).tolist(),
                    mean=projection.mean.astype(np.float64).tolist())
    elif projection.method == "tsne":
        latents = np.asarray(projection.latents, dtype=np.float64)
        data.update(latents=latents.astype(np.float32).tolist(),
                    points=np.asarray(projection.points, dtype=np.float64).tolist(),
                    latentSpread=float(np.ptp(latents, axis=0).max()) if len(latents) else 1.0)
    return data


def drawing_pad(
    checkpoint: str | Path, projection: Projection, *, chart: str, conditional: bool, num_classes: int,
    yours: dict | None, heard: int, width: int, key: str, on_change: Callable[[], None],
) -> None:
    """Mount the pad beside the plotly map with key ``chart``. ``yours`` is what the pad holds as the server
    knows it ({"id", "strokes"} or {"id", "pixels"}: 784 grey levels of an upload, or None): shown when the pad
    does not show it already; ``heard`` is the number of the pad's last message the server took in. When a
    stroke ends, or the pad is undone or cleared, ``on_change`` runs and ``st.session_state[key].yours`` holds
    {"sent": its number, "id", "strokes": lists of [x, y] in cells, or None when the pad is empty}."""
    try:
        encoder, decoder = served_model(checkpoint, "encoder"), served_model(checkpoint, "decoder")
    except (MultigenError, OSError) as error:
        st.caption(f"No in-page model ({error}): the drawing pad needs it.")
        return
    data = {
        "runtime": RUNTIME, "wasm": WASM, "loader": LOADER, "encoder": encoder, "decoder": decoder, "chart": chart,
        "projection": projection_data(projection), "conditional": bool(conditional), "numClasses": int(num_classes),
        "width": int(width), "fallback": "upload a picture of a digit instead.", "yours": yours, "heard": int(heard),
    }
    _component(key=key, data=data, default={"yours": None}, on_yours_change=on_change)
