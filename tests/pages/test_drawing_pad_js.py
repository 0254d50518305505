"""The drawing pad's arithmetic (pages/components/drawing_pad.js), run in Node: the same strokes make the same
pad picture and the same MNIST digit as multigen.preprocess, a latent lands where Projection.place puts it, and
the CVAE's label scores are multigen's -ELBO."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from multigen.explore.latent import negative_elbo
from multigen.explore.projection import project
from multigen.preprocess import (
    BRUSH_EDGE,
    BRUSH_RADIUS,
    MAX_STROKE_POINTS,
    PAD_CELLS,
    SUBCELLS,
    draw_strokes,
    mnist_digit,
    strokes_digit,
)

COMPONENT = Path(__file__).resolve().parents[2] / "pages" / "components" / "drawing_pad.js"
pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")


def in_node(expression: str, **values) -> object:
    """Evaluate ``expression`` (using module ``m`` and the JSON ``values``) in Node and return its JSON."""
    script = ("const values = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
              f"import({json.dumps(COMPONENT.as_uri())}).then(m => console.log(JSON.stringify({expression})));")
    result = subprocess.run(["node", "-e", script], input=json.dumps(values), capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def random_strokes(rng: np.random.Generator, n: int) -> list[list[list[float]]]:
    """Wandering strokes like a hand's, some a single dab, some leaving the pad."""
    strokes = []
    for _ in range(n):
        length = int(rng.integers(1, 40))
        start = rng.uniform(2, 26, 2)
        steps = rng.normal(0, 0.8, (length - 1, 2)).cumsum(axis=0) * 0.6 + rng.normal(0, 0.7, 2)
        points = np.vstack([start, start + steps.cumsum(axis=0)]) if length > 1 else start[None]
        strokes.append(np.round(points, 3).tolist())
    return strokes


def test_the_page_uses_multigens_brush_and_pad_size():
    assert in_node("[m.PAD_CELLS, m.SUBCELLS, m.BRUSH_RADIUS, m.BRUSH_EDGE, m.MAX_STROKE_POINTS]") == [
        PAD_CELLS, SUBCELLS, BRUSH_RADIUS, BRUSH_EDGE, MAX_STROKE_POINTS]


@pytest.mark.parametrize("seed", range(4))
def test_the_same_strokes_make_the_same_pad_picture_and_the_same_mnist_digit(seed):
    strokes = random_strokes(np.random.default_rng(seed), 1 + seed)
    pad, digit = in_node("[Array.from(m.drawStrokes(values.strokes)), Array.from(m.mnistDigit(m.drawStrokes(values.strokes), 112, 112))]",
                         strokes=strokes)
    np.testing.assert_array_equal(np.array(pad).reshape(112, 112), draw_strokes(strokes))  # bit for bit
    expected = strokes_digit(strokes)
    page = np.array(digit, np.uint8).reshape(28, 28)
    assert np.abs(page.astype(int) - expected.astype(int)).max() <= 1  # summation order aside, the same digit
    assert (page != expected).mean() < 0.01


@pytest.mark.parametrize("strokes", [
    [[[14, 6], [14, 20]]],  # a straight "1": symmetric, its centre of mass exactly between two pixels
    [[[8, 14], [20, 14]]],  # a bar
    [[[14, 4]] + [[14 + 8 * np.sin(a), 14 - 10 * np.cos(a)] for a in np.linspace(0, 2 * np.pi, 41)]],  # a round "0"
    [[[10, 6], [18, 6]], [[14, 6], [14, 24]]],  # a "T"
])
def test_symmetric_strokes_make_exactly_the_same_digit(strokes):
    strokes = np.round(np.asarray(strokes[0]), 6)[None].tolist() if len(strokes) == 1 else strokes
    digit = in_node("Array.from(m.mnistDigit(m.drawStrokes(values.strokes), 112, 112))", strokes=strokes)
    np.testing.assert_array_equal(np.array(digit, np.uint8).reshape(28, 28), strokes_digit(strokes))


def test_any_grey_picture_becomes_the_same_digit_light_or_dark_paper():
    rng = np.random.default_rng(7)
    for height, width, dark_paper in ((40, 30, True), (17, 90, False), (200, 150, True)):
        picture = np.zeros((height, width))
        picture[height // 4 : 3 * height // 4, width // 3 : width // 2 + 2] = rng.uniform(0.3, 1.0)
        picture = np.clip(picture + rng.uniform(0, 0.15, picture.shape), 0, 1)
        if not dark_paper:
            picture = 1 - picture
        page = np.array(in_node("Array.from(m.mnistDigit(values.grey, values.h, values.w))", grey=picture.ravel().tolist(),
                                h=height, w=width), np.uint8).reshape(28, 28)
        assert np.abs(page.astype(int) - mnist_digit(picture).astype(int)).max() <= 1
    assert in_node("m.mnistDigit(new Float64Array(100), 10, 10)") is None  # no ink: nothing to place


@pytest.mark.parametrize("method", ["raw", "pca", "tsne"])
def test_a_latent_lands_on_the_map_where_multigen_places_it(method):
    rng = np.random.default_rng(0)
    latents = rng.standard_normal((40, 2 if method == "raw" else 6)).astype(np.float32)
    projection = project(latents, method, seed=0, perplexity=5)
    from pages.ui.drawing_pad import projection_data

    data = projection_data(projection)
    for mu in (latents[3], rng.standard_normal(latents.shape[1]).astype(np.float32), latents[5] + 1e-3):
        page = in_node("m.place(values.projection, values.mu)", projection=data, mu=mu.tolist())
        np.testing.assert_allclose(page, projection.place(mu)[0], rtol=1e-9, atol=1e-9)
    assert np.allclose(projection.place(latents[:10]), projection.points[:10], atol=1e-5)  # a dot's latent: its dot


def test_the_label_scores_are_multigens_negative_elbo():
    rng = np.random.default_rng(3)
    digit = rng.integers(0, 256, 784)
    mu, logvar = rng.normal(0, 1, (10, 4)), rng.normal(-1, 0.5, (10, 4))
    pixels = rng.uniform(0, 1, (10, 784))
    pixels[0, :5] = [0.0, 1.0, 1e-9, 1 - 1e-9, 0.5]  # the clip at the floor matters
    page = in_node("m.negativeElbo(values.digit, values.mu, values.logvar, values.pixels)", digit=digit.tolist(),
                   mu=mu.tolist(), logvar=logvar.tolist(), pixels=pixels.tolist())
    np.testing.assert_allclose(page, negative_elbo(np.repeat(digit[None], 10, 0), mu, logvar, pixels), rtol=1e-12)
