"""A picture of digits redrawn in the browser while its sliders are dragged: the GAN page's digit (its
direction sliders) and the Write page's strip (slant, thickness, width).

The decoder or generator is exported to ONNX once per checkpoint's weights (``multigen.export.cached_onnx``) into
``static/models/``, and ``pages/components/live_digit.js`` runs it with onnxruntime-web's WebAssembly
build (``static/ort/``), both served by Streamlit's static file serving (``server.enableStaticServing``).
The served folder holds only the runtime and exported models, named by content: no user input names a
file to serve. Without WebAssembly, or if the model cannot load, the element says so in one line and the
picture updates on release as before.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from multigen.errors import MultigenError
from multigen.explore.projection import Projection
from multigen.export import cached_onnx
from pages.ui.folders import APP_ROOT, EXPORTED_MODELS

_SOURCE = APP_ROOT / "pages" / "components" / "live_digit.js"
STATIC = APP_ROOT / "static"
RUNTIME = "app/static/ort/ort.wasm.bundle.min.mjs"  # relative to the app's address (a base path included)
WASM = "app/static/ort/ort-wasm-simd-threaded.wasm"
LOADER = "app/static/js/onnx_models.mjs"  # the runtime and sessions, shared by the in-page components

_component = st.components.v2.component(
    "multigen.live_digit", js=_SOURCE.read_text(encoding="utf-8"), isolate_styles=False
)


@st.cache_resource(max_entries=64, show_spinner="Preparing the model for the page…")
def _exported(checkpoint: str, mtime_ns: int, part: str) -> Path:
    return cached_onnx(checkpoint, part=part, cache_dir=EXPORTED_MODELS)


def served_model(checkpoint: str | Path, part: str = "decoder") -> str:
    """The served address of the checkpoint's exported ``part`` (decoder or generator, or encoder): exported on
    first use, found again by the checkpoint's mtime on later reruns (no file read on the rerun's path), exported
    anew if the cache folder dropped it. Raises MultigenError or OSError when it cannot be made."""
    mtime = Path(checkpoint).stat().st_mtime_ns
    path = _exported(str(checkpoint), mtime, part)
    if not path.is_file():  # pruned by MAX_CACHED since: make it again
        _exported.clear()
        path = _exported(str(checkpoint), mtime, part)
    return f"app/static/models/{path.name}"


def _mount(checkpoint: str | Path, data: dict, *, key: str, height: int | None = None) -> None:
    """Mount the component on ``data`` and the served address of the checkpoint's exported decoder or
    generator (``served_model``). Without it, one caption line."""
    try:
        model = served_model(checkpoint)
    except (MultigenError, OSError) as error:
        st.caption(f"No in-page model ({error}): {data['fallback']}")
        return
    data = {"runtime": RUNTIME, "wasm": WASM, "loader": LOADER, "model": model, **data}
    _component(key=key, data=data, **({} if height is None else {"height": height}))


def live_digit(
    checkpoint: str | Path, *, start: np.ndarray, directions: np.ndarray, sliders: list[str], values: list[float],
    labels: list[int] | None, code: int | None = None, categories: int = 0, reach: float | None = None, key: str,
) -> None:
    """Redraw the next picture of this column in the page while the sliders labelled ``sliders`` move:
    ``start`` is the vector they move, ``directions`` their (k, d) directions, ``labels`` the digits
    drawn side by side (None: one digit of a model without labels), ``code`` an InfoGAN or cluster code
    moved into place after the sliders, ``reach`` the radius the values are held together within
    (``multigen.explore.noise.held_together``; None: applied as set)."""
    _mount(checkpoint, key=key, height=0, data={
        "sliders": list(sliders),
        "start": np.asarray(start, dtype=np.float32).tolist(),
        "directions": np.asarray(directions, dtype=np.float32).tolist(),
        "values": [float(v) for v in values], "labels": None if labels is None else [int(v) for v in labels],
        "code": None if code is None else int(code), "categories": int(categories),
        "reach": None if reach is None else float(reach), "source": "sliders", "fallback": "the picture updates when you release a slider.",
    })


def map_hover(
    checkpoint: str | Path, projection: Projection, *, labels: np.ndarray | None, label: int | None, width: int, chart: str,
    key: str,
) -> None:
    """A picture of the digit decoded where the pointer is over the plotly map with key ``chart``, drawn in the
    page as the pointer moves: ``projection``'s inverse computed there (raw and PCA exactly, t-SNE by the
    same nearest-dots blend as the server), then the decoder. A conditional model decodes with ``label``, or
    when it is None with the label of the dot nearest the pointer (``labels``, one per dot)."""
    points = np.asarray(projection.points, dtype=np.float64)
    data = {
        "source": "map", "chart": chart, "method": projection.method,
        "points": points.tolist(), "labels": None if labels is None else [int(v) for v in labels],
        "label": None if label is None else int(label), "width": int(width),
        "fallback": "click the map to decode a position.",
    }
    if projection.method == "pca":
        data.update(components=projection.components.astype(np.float64).tolist(), mean=projection.mean.astype(np.float64).tolist())
    elif projection.method == "tsne":
        data.update(latents=np.asarray(projection.latents, dtype=np.float32).tolist(),
                    spread=float(np.ptp(points, axis=0).max()) if len(points) else 1.0)
    _mount(checkpoint, data, key=key)


def path_scrubber(checkpoint: str | Path, z0: np.ndarray, z1: np.ndarray, *, label: int | None, width: int, key: str) -> None:
    """A digit and a scrubber along the straight path from ``z0`` to ``z1`` (with a Play button that walks it
    there and back), decoded in the page at every position of the scrubber."""
    _mount(checkpoint, key=key, data={
        "source": "path", "width": int(width),
        "z0": np.asarray(z0, dtype=np.float32).tolist(), "z1": np.asarray(z1, dtype=np.float32).tolist(),
        "label": None if label is None else int(label), "fallback": "the strip above shows the path.",
    })
