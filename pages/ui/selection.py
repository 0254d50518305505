"""What a click, a box or a lasso on the latent map means, and where on the map things lie.

Every dot of the map carries ``customdata = row`` (its row in the page's arrays, whatever trace it is
in); -1 marks the invisible background grid, whose x and y are the clicked position
(``pages.ui.charts.latent_map_figure``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Clicked:
    """What a chart selection means: one pick (a dot or a position), or a region (box or lasso)."""

    pick: dict[str, Any] | None = None  # {"row": int} or {"xy": [x, y]}
    region: dict[str, Any] | None = None  # {"rows": [int, ...], "box": ((x0, x1), (y0, y1)) | None}


def _row_of(point: dict[str, Any]) -> int | None:
    data = point.get("customdata")
    if isinstance(data, (list, tuple)):
        data = data[0] if data else None
    elif isinstance(data, dict):  # a typed array from plotly.js arrives as {"0": row, "1": label}
        data = data.get("0", data.get(0))
    try:
        return None if data is None else int(data)
    except (TypeError, ValueError):
        return None


def _box_of(boxes: list[dict[str, Any]]) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The last drawn box as ((x0, x1), (y0, y1)), if any."""
    box = None
    for drawn in boxes:
        xs, ys = drawn.get("x") or [], drawn.get("y") or []
        if len(xs) >= 2 and len(ys) >= 2:
            box = ((float(min(xs)), float(max(xs))), (float(min(ys)), float(max(ys))))
    return box


def queued(queue: list[dict[str, Any]] | None, made: dict[str, Any], context: Any) -> list[dict[str, Any]]:
    """The chart selections waiting for the next run, ``made`` (on the map described by ``context``) added last.

    A queue, not one slot: a second click that arrives while the first one's run is still drawing must not replace
    it. An empty selection adds nothing: Plotly empties its selection whenever the map is redrawn, which picks
    nothing and must drop nothing.
    """
    if not (made.get("points") or made.get("box") or made.get("lasso")):
        return list(queue or [])
    return [*(queue or []), {"selection": made, "context": context}]


def read_selection(selection: dict[str, Any], points: np.ndarray) -> Clicked:
    """Turn a ``st.plotly_chart`` selection into picks, by each point's ``customdata`` row.

    Rows come from ``customdata`` (never from trace-local indices: every digit has its own trace).
    """
    chosen = selection.get("points") or []
    boxes, lassos = selection.get("box") or [], selection.get("lasso") or []
    rows, positions = [], []
    for point in chosen:
        row = _row_of(point)
        if row is None:
            continue
        if 0 <= row < len(points):
            rows.append(row)
        elif row < 0 and point.get("x") is not None and point.get("y") is not None:
            positions.append([float(point["x"]), float(point["y"])])
    if boxes or lassos or len(chosen) > 1:
        return Clicked(region={"rows": sorted(set(rows)), "box": _box_of(boxes)})
    if rows:
        return Clicked(pick={"row": rows[0]})
    if positions:
        return Clicked(pick={"xy": positions[0]})
    return Clicked()


def visible_range(points: np.ndarray, pad: float = 0.05) -> tuple[tuple[float, float], tuple[float, float]]:
    """The x and y extent of 2-D points, padded by ``pad`` of their spread on each side."""
    points = np.asarray(points, dtype=np.float64)
    low, high = points.min(0), points.max(0)
    margin = np.maximum((high - low) * pad, 1e-3)
    x_range = (float(low[0] - margin[0]), float(high[0] + margin[0]))
    y_range = (float(low[1] - margin[1]), float(high[1] + margin[1]))
    return x_range, y_range


def nearest_row(points: np.ndarray, xy) -> int:
    """The row of the projected point nearest to a position."""
    return int(np.argmin(((np.asarray(points) - np.asarray(xy, dtype=np.float32)) ** 2).sum(axis=1)))
