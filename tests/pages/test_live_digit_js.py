"""The in-page component's arithmetic (pages/components/live_digit.js), run in Node: its inverse projections
and noise vectors are multigen's, for the same inputs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from multigen.explore.noise import apply_sliders, held_together, with_code
from multigen.explore.projection import project

COMPONENT = Path(__file__).resolve().parents[2] / "pages" / "components" / "live_digit.js"
pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")


def in_node(function: str, *args) -> list:
    script = (f"import({json.dumps(COMPONENT.as_uri())}).then(m => "
              f"console.log(JSON.stringify(Array.from(m.{function}(...{json.dumps(args)})))))")
    result = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("method", ["raw", "pca", "tsne"])
def test_the_page_inverts_each_projection_as_multigen_does(method):
    rng = np.random.default_rng(0)
    latents = rng.standard_normal((40, 2 if method == "raw" else 6)).astype(np.float32)
    projection = project(latents, method, seed=0, perplexity=5)
    points = np.asarray(projection.points, np.float64)
    data = {"method": method, "points": points.tolist(), "latents": projection.latents.tolist(),
            "spread": float(np.ptp(points, axis=0).max())}
    if method == "pca":
        data.update(components=projection.components.astype(np.float64).tolist(), mean=projection.mean.astype(np.float64).tolist())
    for x, y in (points[3].tolist(), [0.1, -0.2], (points[5] + 1e-3).tolist()):
        page = np.array(in_node("inverse", data, x, y), np.float32)
        np.testing.assert_allclose(page, projection.inverse([x, y])[0], rtol=1e-5, atol=1e-5)


def test_the_page_moves_the_noise_vector_and_its_code_as_multigen_does():
    rng = np.random.default_rng(1)
    start, directions = rng.standard_normal(12).astype(np.float32), rng.standard_normal((3, 12)).astype(np.float32)
    values = [1.5, -0.5, 2.0]
    for code in (None, 0, 3):
        data = {"start": start.tolist(), "directions": directions.tolist(), "code": code, "categories": 5}
        expected = apply_sliders(start, directions, values)
        if code is not None:
            expected = with_code(expected, code, 5)
        np.testing.assert_allclose(np.array(in_node("noiseVector", data, values), np.float32), expected, rtol=1e-6, atol=1e-6)
    # The GAN page's sliders share one reach: beyond it the page scales them as multigen does.
    data = {"start": start.tolist(), "directions": directions.tolist(), "code": None, "categories": 0, "reach": 3.0}
    for values in ([1.5, -0.5, 2.0], [3.0, -3.0, 0.0], [0.5, 1.0, -1.0], [1.0, -2.0, 0.0], [0.1, 0.2, 2.7]):  # at 3: as set
        expected = apply_sliders(start, directions, held_together(values, 3.0))
        np.testing.assert_allclose(np.array(in_node("noiseVector", data, values), np.float32), expected, rtol=1e-6, atol=1e-6)
        assert np.allclose(expected, apply_sliders(start, directions, values)) == (sum(map(abs, values)) <= 3.0)
