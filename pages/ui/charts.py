"""The pages' Plotly figures: the latent map, loss curves, and metrics over epochs."""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from pages.ui.selection import visible_range

# One colour per digit, the same on every map (Plotly's D3 palette, in label order).
DIGIT_COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)
ELLIPSE_POINTS = 49  # points on each drawn ellipse of a fitted prior
BACKGROUND_GRID = 30  # invisible clickable points per axis, so a click on empty space selects a position
MAP_HEIGHT = 560  # px, the explorer's latent map and the place held for it
MARKER_SIZE = 6  # px, a dot's diameter on the map
MARKER_OPACITY = 0.85
WEBGL_ABOVE = 5000  # maps that do not say draw through WebGL above this many points, else SVG (works everywhere)
MAX_LOSS_POINTS = 2000  # loss rows drawn per curve; longer runs are thinned evenly
CURVES = {"loss": "Training loss", "fid": "FID", "inception_score": "Inception Score"}  # the Compare page's


# -- the latent map ---------------------------------------------------------------------------------
def map_margin(class_names: Sequence[str] = ()) -> dict[str, int]:
    """The explorer map's margins (px), kept as they are (Plotly widens none), so that the map's picture
    (``latent_map_picture``) covers the plot area Plotly then draws in: room for tick labels of up to five characters
    and the axis titles, and on the right for a legend of these class names."""
    longest = max(len(name) for name in (*class_names, "digit"))  # the legend's title is "digit" or "class"
    return {"l": 80, "r": 50 + 8 * longest, "t": 15, "b": 65}


def _background(points: np.ndarray, scatter: type) -> Any:
    """An invisible grid of points (``customdata = -1``) over the plot: a click on empty space selects a position."""
    (x0, x1), (y0, y1) = visible_range(points)
    gx, gy = np.meshgrid(np.linspace(x0, x1, BACKGROUND_GRID), np.linspace(y0, y1, BACKGROUND_GRID))
    return scatter(
        x=gx.ravel(), y=gy.ravel(), mode="markers", name="empty space",
        marker={"size": 10, "opacity": 0, "color": "#000000"},
        customdata=np.full(gx.size, -1, dtype=np.int32), hoverinfo="none", showlegend=False,
    )


def latent_map_figure(
    points: np.ndarray,
    labels: np.ndarray,
    *,
    class_names: tuple[str, ...] | None = None,
    rows: np.ndarray | None = None,
    clickable_background: bool = False,
    height: int = MAP_HEIGHT,
    axis_titles: tuple[str, str] = ("", ""),
    webgl: bool | None = None,
    margin: dict[str, int] | None = None,
) -> go.Figure:
    """A scatter of 2-D points, one trace per label (so the legend lists the digits in order).

    Every point carries ``customdata = row``: its row in the page's arrays, whatever trace it falls
    in; each trace's ``meta`` is its label. With ``clickable_background``, an invisible grid of points
    covers the plot so a click on empty space selects a position too. Rows travel as one typed array
    per trace (numpy, base64 in the figure's JSON), not as thousands of small lists that plotly.js
    would copy and compare on every selection. ``webgl`` draws through WebGL (fast, one canvas) or SVG
    (one element per dot, works without WebGL); None picks WebGL above WEBGL_ABOVE points. The axes' ranges are set
    (``selection.visible_range``); ``margin`` (``map_margin``) fixes the margins, which Plotly otherwise widens to fit
    tick labels and legend.
    """
    points = np.asarray(points, dtype=np.float32)
    labels = np.asarray(labels).astype(np.int64)
    rows = np.arange(len(points)) if rows is None else np.asarray(rows)
    names = class_names or tuple(str(d) for d in range(10))
    scatter = go.Scattergl if (len(points) > WEBGL_ABOVE if webgl is None else webgl) else go.Scatter
    figure = go.Figure()
    if clickable_background and len(points):
        figure.add_trace(_background(points, scatter))
    for label in range(10):
        mask = labels == label
        if not mask.any():
            continue
        name = names[label] if label < len(names) else str(label)
        figure.add_trace(
            scatter(
                x=points[mask, 0], y=points[mask, 1], mode="markers", name=name,
                marker={"size": MARKER_SIZE, "color": DIGIT_COLORS[label], "opacity": MARKER_OPACITY,
                        "line": {"width": 0}},
                customdata=rows[mask].astype(np.int32), meta=label,
                hovertemplate=f"<b>{name}</b><br>row %{{customdata}}<extra></extra>",
            )
        )
    legend = {"title": "digit" if names[0].isdigit() else "class", "itemsizing": "constant"}
    x_range, y_range = visible_range(points) if len(points) else (None, None)
    fixed = margin is not None  # Streamlit's theme turns automargin on; a fixed margin turns it off again
    figure.update_layout(
        height=height, legend=legend, hovermode="closest", plot_bgcolor="#fafafa",
        margin={**margin, "autoexpand": False} if fixed else {"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": axis_titles[0], "range": x_range, **({"automargin": False} if fixed else {})},
        yaxis={"title": axis_titles[1], "range": y_range, **({"automargin": False} if fixed else {})},
    )
    return figure


def latent_map_placeholder(text: str, margin: dict[str, int]) -> str:
    """HTML for the latent map's place while the map is made: as high as the map, ``text`` in the plot area's middle."""
    return (
        f'<div style="height: {MAP_HEIGHT}px; padding: {margin["t"]}px {margin["r"]}px {margin["b"]}px {margin["l"]}px;'
        ' box-sizing: border-box;"><div style="height: 100%; display: flex; align-items: center; justify-content:'
        f' center; background: #fafafa; color: #808495; font-size: 15px;">{html.escape(text)}</div></div>'
    )


def latent_map_picture(
    points: np.ndarray, labels: np.ndarray, margin: dict[str, int], *, width: int = 440, scale: int = 2
) -> str:
    """The plot area of ``latent_map_figure(points, labels, margin=margin)`` as a PNG data URL: its dots (same ranges,
    colours, size and opacity, drawn in the same order), ``scale`` times ``width`` x the plot area's height, without
    axes or legend. It shows the map at once, while the browser still loads and runs Plotly (``latent_map_style``)."""
    from PIL import Image, ImageDraw

    points, labels = np.asarray(points, dtype=np.float64).reshape(-1, 2), np.asarray(labels).astype(np.int64)
    height = MAP_HEIGHT - margin["t"] - margin["b"]
    size = np.array([width * scale, height * scale])
    (x0, x1), (y0, y1) = visible_range(points)
    pixels = (points - [x0, y1]) / [x1 - x0, y0 - y1] * size  # y grows downwards in a picture
    radius = MARKER_SIZE * scale / 2
    image = Image.new("RGB", (int(size[0]), int(size[1])), "#fafafa")
    draw = ImageDraw.Draw(image, "RGBA")
    for label in range(10):  # one trace per label in latent_map_figure, drawn in this order
        red, green, blue = (int(DIGIT_COLORS[label][i:i + 2], 16) for i in (1, 3, 5))
        fill = (red, green, blue, round(255 * MARKER_OPACITY))
        for x, y in pixels[labels == label]:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=fill)
    buffer = io.BytesIO()
    image.quantize(colors=64).save(buffer, format="PNG")  # a palette: a third of the bytes, the same picture to the eye
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def latent_map_style(key: str, picture: str, margin: dict[str, int]) -> str:
    """A stylesheet that shows ``picture`` (``latent_map_picture``) in the plot area of the Plotly chart keyed ``key``
    until Plotly has drawn it: on a first visit the browser takes 1-2 s to load Plotly's 4.7 MB of script and draw."""
    height = MAP_HEIGHT - margin["t"] - margin["b"]
    # Plotly's drawn chart holds svg.main-svg; until then the element holds Streamlit's skeleton, hidden here.
    waiting = f".st-key-{key}:not(:has(.main-svg))"
    return (
        f"<style>{waiting} {{ height: {MAP_HEIGHT}px; background: #ffffff url({picture}) no-repeat;"
        f" background-position: {margin['l']}px {margin['t']}px;"
        f" background-size: calc(100% - {margin['l'] + margin['r']}px) {height}px; }}"
        f" {waiting} > * {{ visibility: hidden; }}</style>"
    )


def add_prior_ellipses(figure: go.Figure, centres: np.ndarray, covariances: np.ndarray, *, radius: float = 2.0) -> go.Figure:
    """Draw a fitted prior's components on a latent map: for each, the ellipse (x - c)^T C^-1 (x - c) = radius^2 of
    its centre ``c`` and 2 x 2 covariance ``C`` in the map's coordinates (``multigen.explore.projection.place_gaussians``),
    all as one line trace that neither hovers nor selects (a click goes through to the dots)."""
    angles = np.linspace(0.0, 2.0 * np.pi, ELLIPSE_POINTS)
    circle = np.stack([np.cos(angles), np.sin(angles)])  # (2, n)
    xs, ys = [], []
    for centre, covariance in zip(np.asarray(centres, np.float64), np.asarray(covariances, np.float64)):
        values, vectors = np.linalg.eigh((covariance + covariance.T) / 2)
        outline = centre[:, None] + radius * (vectors * np.sqrt(np.clip(values, 0.0, None))) @ circle
        xs.extend([*outline[0], None])  # None: a gap between two ellipses
        ys.extend([*outline[1], None])
    for axis, values in (("xaxis", xs), ("yaxis", ys)):  # the map's set ranges widened to show every ellipse whole
        shown, drawn = figure.layout[axis].range, [value for value in values if value is not None]
        if shown is not None and drawn:
            figure.layout[axis].range = (min(shown[0], min(drawn)), max(shown[1], max(drawn)))
    name = f"fitted prior ({radius:g}σ)"
    if figure.layout.margin.autoexpand is False:  # a map of fixed margins (map_margin) makes room for its legend entry
        figure.layout.margin.r = max(figure.layout.margin.r or 0, map_margin((name,))["r"])
    figure.add_trace(go.Scatter(
        x=xs, y=ys, mode="lines", name=name, hoverinfo="skip",
        line={"color": "rgba(40, 40, 40, 0.55)", "width": 1}, showlegend=True,
    ))
    return figure


# -- a run's curves ---------------------------------------------------------------------------------
def thin(rows: list[dict[str, float]], limit: int = MAX_LOSS_POINTS) -> list[dict[str, float]]:
    """At most ``limit`` rows, evenly spaced, always keeping the last one."""
    if len(rows) <= limit:
        return rows
    stride = math.ceil(len(rows) / limit)
    kept = rows[::stride]
    return kept if kept[-1] is rows[-1] else [*kept, rows[-1]]


def loss_figure(rows: list[dict[str, float]], *, height: int = 320) -> go.Figure | None:
    """Loss curves by step (thinned to MAX_LOSS_POINTS); scores in [0, 1] go on a second axis."""
    rows = thin(rows)
    if not rows:
        return None
    steps = [row["step"] for row in rows]
    names = [name for name in rows[-1] if name != "step"]
    figure = go.Figure()
    for name in names:
        score = name.endswith("_score")
        figure.add_trace(
            go.Scatter(
                x=steps, y=[row.get(name) for row in rows], mode="lines", name=name.replace("_", " "),
                yaxis="y2" if score else "y", line={"dash": "dot" if score else "solid", "width": 1.6},
            )
        )
    layout: dict[str, Any] = {
        "height": height, "margin": {"l": 10, "r": 10, "t": 30, "b": 10}, "xaxis_title": "step", "yaxis_title": "loss",
        "legend": {"orientation": "h", "y": 1.12}, "hovermode": "x unified",
    }
    if any(name.endswith("_score") for name in names):
        layout["yaxis2"] = {"title": "D score", "overlaying": "y", "side": "right", "range": [0, 1], "showgrid": False}
    figure.update_layout(**layout)
    return figure


def epoch_metrics_figure(rows: list[dict[str, Any]], *, height: int = 280) -> go.Figure | None:
    """FID and Inception Score by epoch (IS on a second axis), or None when the run logged none."""
    rows = [row for row in rows if "fid" in row]
    if not rows:
        return None
    epochs = [row["epoch"] for row in rows]
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=epochs, y=[row["fid"] for row in rows], mode="lines+markers", name="FID"))
    figure.add_trace(
        go.Scatter(x=epochs, y=[row.get("inception_score") for row in rows], mode="lines+markers",
                   name="Inception Score", yaxis="y2", line={"dash": "dot"})
    )
    figure.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10}, xaxis_title="epoch",
        yaxis={"title": "FID"}, yaxis2={"title": "IS", "overlaying": "y", "side": "right", "range": [1, 10]},
        legend={"orientation": "h", "y": 1.12},
    )
    return figure


# -- several checkpoints' curves (Compare) ----------------------------------------------------------
def history_of(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-epoch rows a checkpoint logged (none for one without history)."""
    history = metadata.get("history")
    if not isinstance(history, list):
        return []
    return [row for row in history if isinstance(row, dict) and isinstance(row.get("epoch"), (int, float))]


def curve_figure(metric: str, runs: Sequence[tuple[str, dict[str, Any]]]) -> go.Figure | None:
    """One line per (name, metadata) in ``runs`` that logged ``metric``, over epochs; None when none did."""
    figure = go.Figure()
    for name, metadata in runs:
        rows = [row for row in history_of(metadata) if isinstance(row.get(metric), (int, float))]
        if rows:
            figure.add_trace(go.Scatter(
                x=[row["epoch"] for row in rows], y=[row[metric] for row in rows], mode="lines+markers",
                name=name, marker={"size": 4},
            ))
    if not figure.data:
        return None
    figure.update_layout(
        height=320, margin={"l": 10, "r": 10, "t": 40, "b": 10}, title=CURVES[metric], xaxis_title="epoch",
        yaxis_title=CURVES[metric], hovermode="x unified", legend={"orientation": "h", "y": -0.25},
        yaxis_type="log" if metric == "loss" else "linear",  # VAE losses (~100 nats) and GAN losses (~1) on one chart
    )
    return figure
