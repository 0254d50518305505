"""The Latent explorer's drawing pad in Chromium: strokes drawn with the mouse land on the map where multigen
encodes the same strokes, and an uploaded validation digit lands on its own dot."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import numpy as np
import pytest
from test_browser import FIRST_RENDER_TIMEOUT_MS, open_app_page, wait_for_latent_map, wait_until_idle

pytestmark = pytest.mark.browser

PAD = ".mg-pad"
SEVEN = [[(6, 6), (12, 6), (18, 6), (22, 6.5), (19, 12), (16, 17), (14, 22), (13, 25)], [(11, 15), (20, 15)]]


def open_pad(page: Any, *choices: str, checkpoint: str | None = None) -> None:
    """The explorer on ``checkpoint`` (the default one when None) with the radios labelled ``choices`` picked (a
    projection, a split), on the Your digit tab, once the pad holds the models and map of that choice."""
    open_app_page(page, "/", "Latent explorer")
    page.get_by_role("tab", name="Your digit").click()
    page.locator(f"{PAD}[data-ready=true]").wait_for(state="attached", timeout=FIRST_RENDER_TIMEOUT_MS)
    if checkpoint is not None:  # the sidebar's picker
        before = page.evaluate("globalThis.__multigenDrawingPad.state.data.encoder")
        page.locator("[data-testid=stSidebar] [data-testid=stSelectbox]").first.click()
        page.get_by_role("option", name=re.compile(rf"^{checkpoint} ")).click()
        page.wait_for_function("old => globalThis.__multigenDrawingPad.state.data.encoder !== old", arg=before,
                               timeout=FIRST_RENDER_TIMEOUT_MS)
    for choice in choices:
        if page.get_by_role("radio", name=choice, exact=True).is_checked():
            continue  # already the page's choice for this checkpoint
        before = page.evaluate(MAP_STATE)
        page.get_by_text(choice, exact=True).click()
        page.wait_for_function(f"old => {MAP_STATE} !== old", arg=before, timeout=FIRST_RENDER_TIMEOUT_MS)
    wait_until_idle(page, timeout=FIRST_RENDER_TIMEOUT_MS)
    page.locator(f"{PAD}[data-ready=true]").wait_for(state="attached", timeout=FIRST_RENDER_TIMEOUT_MS)


# What the pad and the hover picture know of the map: it changes with the projection and the split.
MAP_STATE = ("JSON.stringify([globalThis.__multigenDrawingPad.state.data.projection.method,"
             " globalThis.__multigenLiveMap.state.data.points.slice(0, 3)])")


def draw(page: Any, strokes: list) -> None:
    """Each stroke drawn with the mouse, button held, through its points (in cells of the 28-cell pad)."""
    canvas = page.locator(f"{PAD} canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0] / 28 * box["width"], box["y"] + stroke[0][1] / 28 * box["height"])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x / 28 * box["width"], box["y"] + y / 28 * box["height"], steps=4)
        page.mouse.up()


def model_of(page: Any, app_server: Any):
    from multigen.checkpoints import load_checkpoint

    data = page.evaluate("globalThis.__multigenDrawingPad.state.data")
    return load_checkpoint(app_server.served_checkpoint(data["encoder"])).model.eval(), data


def settled(page: Any, updates: int) -> dict:
    """The pad's state once it has redrawn after ``updates`` and holds a point."""
    page.wait_for_function(
        "n => { const pad = document.querySelector('.mg-pad'); const s = globalThis.__multigenDrawingPad;"
        " return Number(pad.dataset.updates || 0) > n && s.point() && !s.state.busy; }", arg=updates,
        timeout=FIRST_RENDER_TIMEOUT_MS)
    return page.evaluate("(() => { const s = globalThis.__multigenDrawingPad; return {strokes: s.strokes(),"
                         " digit: s.digit(), point: s.point(), label: s.label()}; })()")


@pytest.mark.parametrize(("checkpoint", "projection"), [(None, "raw"), (None, "PCA"), ("cvae", "PCA")])
def test_strokes_drawn_on_the_pad_land_where_multigen_encodes_them(page, app_server, checkpoint, projection):
    """The default map (the shipped vae-2's raw latent), its PCA, and a CVAE's, which also reads the label."""
    from multigen.explore.latent import encode_digit
    from multigen.explore.projection import Projection
    from multigen.preprocess import strokes_digit

    open_pad(page, *([] if projection == "raw" else [projection]), checkpoint=checkpoint)
    draw(page, SEVEN[:1])
    first = settled(page, 0)
    draw(page, SEVEN[1:])  # the second stroke moves the point again
    seen = settled(page, int(page.locator(PAD).get_attribute("data-updates")))
    assert len(seen["strokes"]) == 2 and seen["point"] != first["point"]
    model, data = model_of(page, app_server)
    digit = strokes_digit(seen["strokes"])  # the same strokes, preprocessed by multigen
    assert np.abs(np.array(seen["digit"]).reshape(28, 28) - digit.astype(int)).max() <= 1
    placed = encode_digit(model, digit)
    spec = data["projection"]
    assert spec["method"] == projection.lower()
    if spec["method"] == "pca":
        projection_ = Projection("pca", np.zeros((2, 2), np.float32), components=np.array(spec["components"], np.float32),
                                 mean=np.array(spec["mean"], np.float32))
    else:
        projection_ = Projection("raw", np.zeros((2, 2), np.float32), latents=np.zeros((2, 2), np.float32))
    expected = projection_.place(placed.mu)[0]
    chart = page.locator(".st-key-latent_map .js-plotly-plot")
    span = np.array(page.evaluate("c => [c._fullLayout.xaxis.range, c._fullLayout.yaxis.range]", chart.element_handle()))
    span = np.abs(span[:, 1] - span[:, 0])  # the map's range, as a person sees it
    assert np.all(np.abs(np.array(seen["point"]) - expected) <= 1e-3 * span), (seen["point"], expected)
    assert seen["label"] == placed.label and (checkpoint != "cvae" or seen["label"] == 7)
    marker = page.locator(".mg-pad-marker")
    assert marker.is_visible()  # the ring on the map


def test_the_in_page_models_load_after_the_map_is_drawn(page):
    # onnxruntime's WebAssembly and the models (9 MB from the same server) once loaded beside Plotly's first drawing
    # and delayed the map of a first visit by a second. The pad's tab and the hover picture need the map first anyway.
    # Plotly's script is held back here, as a slow machine's first visit holds it (this server answers at once).
    def slow_plotly(route: Any) -> None:
        time.sleep(3)
        route.continue_()

    page.route(re.compile(r"/PlotlyChart[^/]*\.js$"), slow_plotly)
    page.add_init_script("""(() => {
        const poll = () => {
            const plot = document.querySelector('.st-key-latent_map .js-plotly-plot');
            if (plot && plot._fullData && plot._fullData.length) window.__mapDrawnAt = performance.now();
            else requestAnimationFrame(poll);
        };
        poll();
    })()""")
    open_pad(page)
    wait_for_latent_map(page)
    loads = page.evaluate("""performance.getEntriesByType('resource')
        .filter(entry => /\\.wasm$|\\.onnx$|ort\\..*\\.mjs$/.test(new URL(entry.name).pathname))
        .map(entry => [new URL(entry.name).pathname.split('/').pop(), entry.startTime])""")
    drawn = page.evaluate("window.__mapDrawnAt")
    assert drawn is not None and any(name.endswith(".wasm") for name, _ in loads), loads
    assert len([name for name, _ in loads if name.endswith(".onnx")]) >= 2, loads  # the pad's encoder and decoder
    assert all(started > drawn for _, started in loads), (drawn, loads)


def test_undo_and_clear_take_strokes_back(page):
    open_pad(page)
    find = page.get_by_role("button", name="Find it in the GAN")
    assert find.count() == 0  # nothing to search for yet
    draw(page, SEVEN)
    settled(page, 0)
    find.wait_for(timeout=FIRST_RENDER_TIMEOUT_MS)  # the server heard the strokes: the drawing can be searched for
    page.locator(PAD).get_by_role("button", name="Undo").click()
    page.wait_for_function("globalThis.__multigenDrawingPad.strokes().length === 1")
    page.locator(PAD).get_by_role("button", name="Clear").click()
    page.wait_for_function("globalThis.__multigenDrawingPad.strokes().length === 0 && !globalThis.__multigenDrawingPad.point()")
    assert page.locator(".mg-pad-marker").count() == 0


def test_an_uploaded_validation_digit_lands_on_its_own_dot(page, app_server, tmp_path):
    from PIL import Image

    from multigen.data import load_dataset, subset
    from multigen.explore.latent import encode_digit
    from multigen.preprocess import read_digit_image

    open_pad(page, "Validation digits")
    points = np.array(page.evaluate("globalThis.__multigenLiveMap.state.data.points"))
    dataset = subset(load_dataset("mnist-5k", "val"), len(points))  # the map's digits, as the page samples them
    row = 17
    digit = np.rint(dataset.images[row, 0].numpy() * 255).astype(np.uint8)
    mnist, scan = tmp_path / "mnist.png", tmp_path / "scan.jpg"
    Image.fromarray(digit).save(mnist)  # MNIST's own format: taken as it is
    Image.fromarray(255 - digit).resize((140, 140), Image.BILINEAR).save(scan)  # a scan: big, dark on light, JPEG
    uploader = page.locator("[data-testid=stFileUploaderDropzoneInput]").first
    uploader.set_input_files(str(mnist))
    wait_until_idle(page, timeout=FIRST_RENDER_TIMEOUT_MS)
    seen = settled(page, 0)
    assert seen["strokes"] == [] and np.array_equal(np.array(seen["digit"], np.uint8).reshape(28, 28), digit)
    span = np.ptp(points, axis=0)
    assert np.all(np.abs(np.array(seen["point"]) - points[row]) <= 1e-3 * span), (seen["point"], points[row])
    uploader.set_input_files(str(scan))
    page.wait_for_function("old => JSON.stringify(globalThis.__multigenDrawingPad.digit()) !== old",
                           arg=json.dumps(seen["digit"]).replace(" ", ""), timeout=FIRST_RENDER_TIMEOUT_MS)
    scanned = settled(page, int(page.locator(PAD).get_attribute("data-updates")) - 1)
    expected = read_digit_image(scan.read_bytes())  # the scan made MNIST-like by multigen
    assert np.array_equal(np.array(scanned["digit"], np.uint8).reshape(28, 28), expected)
    model, _ = model_of(page, app_server)  # the default map: the shipped vae-2's raw latent
    assert np.all(np.abs(np.array(scanned["point"]) - encode_digit(model, expected).mu) <= 1e-3 * span)
    page.locator("[data-testid=stFileChipDeleteBtn]").first.locator("xpath=descendant-or-self::button").first.click()  # the upload removed: the pad empties
    page.wait_for_function("globalThis.__multigenDrawingPad.digit() === null && !globalThis.__multigenDrawingPad.point()",
                           timeout=FIRST_RENDER_TIMEOUT_MS)
    assert page.locator(".mg-pad-marker").count() == 0


def test_a_file_that_is_no_digit_picture_is_one_line_and_the_pad_keeps_its_digit(page, tmp_path):
    open_pad(page)
    draw(page, SEVEN)
    before = settled(page, 0)
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"these are not pixels")
    wait_until_idle(page, timeout=FIRST_RENDER_TIMEOUT_MS)  # a run still drawing replaces the uploader under the file
    page.locator("[data-testid=stFileUploaderDropzoneInput]").first.set_input_files(str(bad))
    wait_until_idle(page, timeout=FIRST_RENDER_TIMEOUT_MS)
    error = page.locator("[data-testid=stAlertContentError]")
    error.first.wait_for(timeout=FIRST_RENDER_TIMEOUT_MS)
    assert "not a PNG or JPEG" in error.first.inner_text() and "\n" not in error.first.inner_text().strip()
    assert page.evaluate("globalThis.__multigenDrawingPad.strokes().length") == 2
    assert page.evaluate("globalThis.__multigenDrawingPad.point()") == before["point"]
