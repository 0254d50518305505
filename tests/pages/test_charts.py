"""The latent map's figure and its picture (pages/ui/charts.py)."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from pages.ui import charts
from pages.ui.selection import visible_range


def picture_pixels(url: str) -> np.ndarray:
    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"), dtype=np.int64)


def test_the_map_s_ranges_and_margins_are_set_so_that_its_picture_covers_the_same_plot_area():
    points = np.array([[0.0, -1.0], [2.0, 3.0], [1.0, 1.0]], np.float32)
    margin = charts.map_margin(("0", "1", "2"))
    figure = charts.latent_map_figure(points, np.array([0, 1, 2]), margin=margin)
    assert figure.layout.xaxis.range == (-0.1, 2.1) and figure.layout.yaxis.range == (-1.2, 3.2)
    # Streamlit's theme turns automargin on, which would widen a margin for long tick labels or a wide legend
    assert figure.layout.xaxis.automargin is False and figure.layout.yaxis.automargin is False
    assert figure.layout.margin.autoexpand is False and figure.layout.margin.l == margin["l"]
    assert figure.layout.height == charts.MAP_HEIGHT
    wide = charts.map_margin(("T-shirt", "Pullover"))  # room on the right for a wider legend
    assert wide["r"] > margin["r"] and {key: value for key, value in wide.items() if key != "r"} == {
        key: value for key, value in margin.items() if key != "r"}
    unfixed = charts.latent_map_figure(points, np.array([0, 1, 2]))  # the Train page's: Plotly's own margins
    assert unfixed.layout.xaxis.automargin is None and unfixed.layout.margin.l == 10


def test_the_map_s_picture_draws_each_dot_where_the_figure_puts_it_in_its_colour():
    points = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0], [5.0, 5.0]], np.float32)
    labels = np.array([0, 1, 2, 3, 9])
    margin = charts.map_margin()
    pixels = picture_pixels(charts.latent_map_picture(points, labels, margin, width=200, scale=2))
    height = charts.MAP_HEIGHT - margin["t"] - margin["b"]
    assert pixels.shape == (2 * height, 400, 3)
    (x0, x1), (y0, y1) = visible_range(points)
    for (x, y), label in zip(points, labels):
        column = round((x - x0) / (x1 - x0) * 400)
        row = round((y1 - y) / (y1 - y0) * 2 * height)  # the highest y at the top, as Plotly draws it
        colour = np.array([int(charts.DIGIT_COLORS[label][i:i + 2], 16) for i in (1, 3, 5)])
        expected = colour * charts.MARKER_OPACITY + 0xFA * (1 - charts.MARKER_OPACITY)  # over the plot's background
        assert np.abs(pixels[row, column] - expected).max() <= 8, (label, pixels[row, column], expected)
    assert (np.abs(pixels[5, 200] - 0xFA) <= 2).all()  # empty space is the plot's background


def test_the_prior_s_ellipses_widen_the_map_to_show_them_and_their_legend_whole():
    points = np.array([[0.0, 0.0], [1.0, 1.0]], np.float32)
    figure = charts.latent_map_figure(points, np.array([0, 1]), margin=charts.map_margin())
    charts.add_prior_ellipses(figure, np.array([[0.5, 0.5]]), np.array([[[4.0, 0.0], [0.0, 0.01]]]))
    (x0, x1), (y0, y1) = figure.layout.xaxis.range, figure.layout.yaxis.range
    assert x0 <= 0.5 - 4.0 + 1e-6 and x1 >= 0.5 + 4.0 - 1e-6  # 2 standard deviations of 2 along x
    assert (y0, y1) == visible_range(points)[1]  # the ellipse is inside the dots' range along y
    assert figure.layout.margin.r > charts.map_margin()["r"]  # room for the legend's "fitted prior (2σ)"
