"""What a user sees in a real browser: clicks on the latent map, GAN sliders, and a training run.

One Streamlit server serves the whole file (see conftest.py); every test opens its own tab(s).
The tests wait for what appears on the page, never for a fixed time.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips or fails with the reason
    expect, PlaywrightTimeoutError = None, TimeoutError

pytestmark = pytest.mark.browser

FIRST_RENDER_TIMEOUT_MS = 90_000  # a page's first run loads models on 2 busy cores (other waits: 30 s)
TRAINING_TIMEOUT_MS = 180_000  # one small epoch on 2 busy cores, plus saving the checkpoint
ANSWER_WAIT_MS = 15_000  # a click's answer on 2 busy cores; without one by then, the click was lost
POLL_TIMEOUT_MS = 60_000  # another tab's news: its poll (every 1-5 s), then a full redraw on busy cores
# Every picture: st.image's, and the explorer's clicked pictures (pages/components/digit_pictures.js).
PICTURES = "[data-testid=stImage] img, .mg-pictures img"
IMAGE_PIXELS = """image => {  // a loaded grey picture's pixels, row by row (its red channel)
    const canvas = document.createElement('canvas');
    canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
    return Array.from({length: rgba.length / 4}, (_, i) => rgba[4 * i]);
}"""


# -- helpers ----------------------------------------------------------------------------------------
def open_app_page(page: Any, path: str, title: str) -> None:
    """Open a page of the app and wait for its title and for its first script run to end."""
    page.goto(path)
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=FIRST_RENDER_TIMEOUT_MS)
    wait_until_idle(page, timeout=FIRST_RENDER_TIMEOUT_MS)


def wait_until_idle(page: Any, *, timeout: float | None = None) -> None:
    """Wait until Streamlit reports that no script run is going on in this tab."""
    page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for(state="attached", timeout=timeout)


def runs_ended(page: Any) -> int:
    """How many script runs have ended in the tab (tests/e2e/conftest.py's COUNT_RUNS)."""
    return page.evaluate("window.__multigenRuns || 0")


def wait_for_answer(page: Any, runs_before: int, *, timeout: float | None = None) -> None:
    """Wait until a run has ended after the first ``runs_before`` (the answer to a click, say) and none is going on."""
    page.wait_for_function(
        """before => (window.__multigenRuns || 0) > before
            && document.querySelector('[data-testid=stApp]').getAttribute('data-test-script-state') === 'notRunning'""",
        arg=runs_before, timeout=timeout)


def image_sources(page: Any) -> list[str]:
    """The ``src`` of every picture the page shows, top to bottom."""
    return page.eval_on_selector_all(PICTURES, "images => images.map(image => image.src)")


def wait_for_new_image(page: Any, old_sources: list[str], *, timeout: float | None = None) -> str:
    """Wait until a picture whose ``src`` is not among ``old_sources`` has loaded; return its ``src``."""
    handle = page.wait_for_function(
        """([old, pictures]) => {
            const fresh = [...document.querySelectorAll(pictures)]
                .find(image => !old.includes(image.src) && image.complete && image.naturalWidth > 0);
            return fresh ? fresh.src : null;
        }""",
        arg=[old_sources, PICTURES],
        timeout=timeout,
    )
    return handle.json_value()


def first_picture_changes(page: Any, before: str, *, timeout: float | None = None) -> str:
    """Wait until the page's first picture shows a different, loaded image; return its ``src``."""
    handle = page.wait_for_function(
        """before => {
            const image = document.querySelector('[data-testid=stImage] img');
            return image && image.src !== before && image.complete && image.naturalWidth > 0 ? image.src : null;
        }""",
        arg=before,
        timeout=timeout,
    )
    return handle.json_value()


def wait_for_latent_map(page: Any) -> None:
    """Wait until Plotly has drawn the latent map (its script loads after the page's first run)."""
    page.wait_for_function(
        """() => {
            const plot = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');
            return Boolean(plot && plot._fullLayout && plot._fullLayout.xaxis && plot._fullData && plot._fullData.length);
        }""",
        timeout=FIRST_RENDER_TIMEOUT_MS,
    )


def isolated_scatter_points(page: Any, count: int = 1) -> list[dict[str, Any]]:
    """The latent map's ``count`` dots farthest from any other point, most isolated first.

    A click on such a dot cannot land on a neighbour. Reads Plotly's own data and axes: a dot's
    pixel position is ``axis.l2p(value) + axis._offset`` inside the plot. Each dot comes with its
    position in page pixels, its row (``customdata``) and its label (its trace's ``meta``); the invisible
    background grid (``customdata == -1``) and the band at the top where Plotly's toolbar appears are left out.
    """
    return page.eval_on_selector(
        "[data-testid=stPlotlyChart] .js-plotly-plot",
        """(plot, count) => {
            const xaxis = plot._fullLayout.xaxis, yaxis = plot._fullLayout.yaxis;
            const box = plot.getBoundingClientRect();
            const all = [], dots = [];
            for (const trace of plot._fullData) {
                if (trace.visible !== true || !trace.x || !trace.customdata) continue;  // dots and the background
                for (let i = 0; i < trace.x.length; i++) {
                    const px = xaxis.l2p(trace.x[i]) + xaxis._offset, py = yaxis.l2p(trace.y[i]) + yaxis._offset;
                    const row = Number(trace.customdata[i]), label = Number(trace.meta);
                    all.push([px, py]);
                    if (row >= 0 && py > yaxis._offset + 40) dots.push({px, py, row, label});
                }
            }
            for (const dot of dots) {
                dot.gap = Infinity;
                for (const [px, py] of all) {
                    const d = Math.hypot(px - dot.px, py - dot.py);
                    if (d > 0 && d < dot.gap) dot.gap = d;
                }
            }
            dots.sort((a, b) => b.gap - a.gap);
            return dots.slice(0, count).map(dot => ({
                x: box.left + dot.px, y: box.top + dot.py, row: dot.row, label: dot.label, gap: dot.gap,
            }));
        }""",
        count,
    )


def shown_pictures(page: Any) -> list[tuple[str, list[int]]]:
    """The explorer's clicked pictures: each one's caption and pixels."""
    return [(figure.locator("figcaption").inner_text(), figure.locator("img").evaluate(IMAGE_PIXELS))
            for figure in page.locator(".mg-pictures figure").all()]


def hover_scatter_point(page: Any, dot: dict[str, Any]) -> None:
    """Move the pointer onto a dot until Plotly reports it under the pointer.

    Plotly acts on a click with the point it last reported as hovered, and it throttles hover
    updates; waiting for the hover makes a click land on this dot, as it does for a user who
    moves the mouse onto a dot before clicking.
    """
    page.mouse.move(dot["x"], dot["y"])
    page.wait_for_function(
        """row => {
            const plot = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');
            const hovered = plot && plot._hoverdata;
            return Boolean(hovered && hovered.length && Number(hovered[0].customdata) === row);
        }""",
        arg=dot["row"],
    )


def click_scatter_point(page: Any, dot: dict[str, Any], *, answered: bool = False) -> None:
    """Hover a dot (``hover_scatter_point``), then click it; ``answered``: and wait for the server's answer.

    On 2 cores busy with a second browser's tests, plotly.js now and then lets a click go without a selection event,
    so the server never hears of it (tests waited for its answer in vain about once in three runs of the suite). A
    person clicks again; so does this, once, when no answer has come within ANSWER_WAIT_MS.
    """
    for attempt in range(2 if answered else 1):
        runs = runs_ended(page)
        hover_scatter_point(page, dot)
        page.mouse.down()
        page.mouse.up()
        if not answered:
            return
        try:
            wait_for_answer(page, runs, timeout=ANSWER_WAIT_MS if attempt == 0 else FIRST_RENDER_TIMEOUT_MS)
            return
        except PlaywrightTimeoutError:
            page.mouse.move(dot["x"] + 20, dot["y"] + 20)  # off the dot, to hover it afresh


def start_button(page: Any) -> Any:
    """The Train page's Start button (``first``: a redraw may briefly show the old one next to the new)."""
    return page.get_by_role("button", name="Start training").first


def fill_training_form(page: Any, *, model: str, epochs: int, batch_size: int) -> None:
    """Pick the model and type epochs and batch size into the Train page's form (not submitted)."""
    page.get_by_role("combobox", name="Model").click()
    page.get_by_role("option", name=model, exact=True).click()
    expect(page.get_by_role("combobox", name="Model")).to_have_value(model)
    for label, value in (("Epochs", epochs), ("Batch size", batch_size)):
        field = page.get_by_role("spinbutton", name=label)
        field.fill(str(value))
        field.press("Tab")
        expect(field).to_have_value(str(value))


def stop_button(page: Any) -> Any:
    """The Train page's Stop button, by its widget key: Streamlit's header shows a "Stop" button of its own
    (stop this script run) whenever a rerun is in progress, which a match by name would find first."""
    return page.locator(".st-key-train_stop").get_by_role("button", name="Stop", exact=True)


def stop_training_after_failure(page: Any) -> None:
    """Press Stop if a run is still going on, so a failed test leaves no run behind for the next one."""
    stop = stop_button(page)
    with contextlib.suppress(Exception):  # best effort: the test's own error is already on its way
        if stop.count() and stop.first.is_enabled():
            stop.first.click(timeout=5_000)


# -- tests --------------------------------------------------------------------------------------------
def colour_centroids(screenshot: bytes, area: dict[str, float]) -> dict[str, tuple[float, float, int]]:
    """For each digit's colour, where its dots lie in ``area`` (x, y, width, height) of a screenshot: the mean position of
    the pixels of that colour (blended with the plot's background as the dots are) and how many there are."""
    from io import BytesIO

    import numpy as np
    from PIL import Image

    from pages.ui.charts import DIGIT_COLORS, MARKER_OPACITY

    pixels = np.asarray(Image.open(BytesIO(screenshot)).convert("RGB"), dtype=np.float64)
    x, y, width, height = (round(area[name]) for name in ("x", "y", "width", "height"))
    pixels = pixels[y + 2:y + height - 2, x + 2:x + width - 2]  # inside the plot area's edge
    found = {}
    for colour in DIGIT_COLORS:
        dot = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)]) * MARKER_OPACITY + 0xFA * (1 - MARKER_OPACITY)
        rows, columns = np.nonzero(np.abs(pixels - dot).max(axis=2) < 12)
        found[colour] = (float(columns.mean()) if len(rows) else -1.0, float(rows.mean()) if len(rows) else -1.0, len(rows))
    return found


def test_a_first_visit_shows_the_map_s_picture_until_plotly_has_drawn_the_same_map(page):
    # Plotly's 4.7 MB script takes 1-2 s to load and run on a slow machine's first visit: the map's picture, drawn by
    # the server, shows meanwhile in the plot area Plotly then draws in. Plotly's script is held back until the
    # picture has been seen.
    held = []
    page.route(re.compile(r"/PlotlyChart[^/]*\.js$"), lambda route: held.append(route))
    page.goto("/")
    box = page.locator(".st-key-latent_map")
    page.wait_for_function("""() => { const box = document.querySelector('.st-key-latent_map');
        return box && getComputedStyle(box).backgroundImage.startsWith('url('); }""", timeout=FIRST_RENDER_TIMEOUT_MS)
    shown = box.screenshot()
    assert held and box.locator(".main-svg").count() == 0  # the picture, not Plotly's map
    for route in held:
        route.continue_()
    wait_for_latent_map(page)
    page.wait_for_timeout(500)  # the drawn map painted
    assert box.evaluate("box => getComputedStyle(box).backgroundImage") == "none"
    drawn = box.screenshot()
    size = box.evaluate("box => box.querySelector('.js-plotly-plot')._fullLayout._size")
    assert size["l"] == 80 and size["t"] == 15  # charts.map_margin's, which the picture assumed
    area = {"x": size["l"], "y": size["t"], "width": size["w"], "height": size["h"]}
    before, after = colour_centroids(shown, area), colour_centroids(drawn, area)
    for colour, (x, y, count) in after.items():
        assert count > 50, (colour, count)  # every digit's dots are on the drawn map
        x_shown, y_shown, count_shown = before[colour]
        assert 0.6 * count < count_shown < 1.6 * count, (colour, count_shown, count)  # and as many on the picture,
        # in the same place: within a pixel or two where the dots of one digit lie apart from the others', within a few
        # where other digits' dots cover theirs (the picture and WebGL draw overlapping dots' edges a little apart)
        assert max(abs(x_shown - x), abs(y_shown - y)) < (2 if count > 1000 else 5), (colour, before[colour], after[colour])


TABLE_SEEN = """(() => { new MutationObserver((_, observer) => {
    if (document.querySelector('[data-testid=stDataFrame]')) { window.__tableSeen = performance.now(); observer.disconnect(); } })
    .observe(document, {childList: true, subtree: true}); })()"""
PLOTLY_REQUESTED = """() => performance.getEntriesByType('resource')
    .filter(entry => /PlotlyChart[^/]*[.]js$/.test(entry.name)).map(entry => entry.startTime)"""


def test_the_compare_table_shows_before_plotly_loads_and_the_curves_follow(page):
    # Sent in the same run, the curves' Plotly script ran before the data frame's and held the table back for a second
    # on a first visit (pages/ui/when_drawn.py): the curves now come once the table is on screen.
    page.add_init_script(TABLE_SEEN)
    page.goto("/compare")
    curves = page.locator(".js-plotly-plot")
    expect(curves.first).to_be_visible(timeout=FIRST_RENDER_TIMEOUT_MS)
    table_seen, plotly_requested = page.evaluate("window.__tableSeen"), page.evaluate(PLOTLY_REQUESTED)
    assert plotly_requested and min(plotly_requested) > table_seen  # Plotly's script was asked for after the table
    expect(curves).to_have_count(3)  # loss, FID and IS of the shipped runs
    expect(page.get_by_text("The curves follow once the table is on screen")).to_have_count(0)
    expect(page.locator("[data-testid=stDataFrame]")).to_be_visible()


def test_clicking_a_dot_on_the_latent_map_shows_its_decoded_digit(page):
    open_app_page(page, "/", "Latent explorer")
    wait_for_latent_map(page)
    before = image_sources(page)
    dot = isolated_scatter_points(page)[0]

    click_scatter_point(page, dot)

    wait_for_new_image(page, before)
    expect(page.get_by_text(re.compile(rf"^Digit {dot['label']} · row {dot['row']}$")).first).to_be_visible()
    decoded = page.locator(".mg-pictures figure").filter(has_text="Reconstruction").first
    expect(decoded.locator("img")).to_have_js_property("complete", True)
    assert decoded.locator("img").get_attribute("src") not in before
    # The 28x28 digit is shown six times its size with square pixels, not blurred by the browser's scaling.
    shown = decoded.locator("img").evaluate(
        "image => [image.naturalWidth, image.getBoundingClientRect().width, getComputedStyle(image).imageRendering]"
    )
    assert shown == [28, 168, "pixelated"]
    wait_until_idle(page)  # the rerun's answer leaves the same pictures and title
    expect(page.locator(".mg-pictures h3")).to_have_text(f"Digit {dot['label']} · row {dot['row']}")


def test_a_click_on_a_dot_shows_that_digit_before_the_server_answers(page):
    from multigen.data import load_dataset, subset
    from multigen.images import to_uint8

    open_app_page(page, "/", "Latent explorer")
    wait_for_latent_map(page)
    dot = isolated_scatter_points(page, 2)[1]
    # Hold back everything the page sends: the click's rerun request never reaches the server.
    page.evaluate("() => { window.__send = WebSocket.prototype.send; WebSocket.prototype.send = () => {}; }")
    try:
        click_scatter_point(page, dot)
        expect(page.locator(".mg-pictures h3")).to_have_text(f"Digit {dot['label']} · row {dot['row']}")
        original = page.locator(".mg-pictures figure").filter(has_text="Original").locator("img")
        expect(original).to_have_js_property("complete", True)
        pixels = original.evaluate(IMAGE_PIXELS)
    finally:
        page.evaluate("() => { WebSocket.prototype.send = window.__send; }")
    # The explorer's default map: 2,000 training digits of mnist-5k (the same seeded sample as the page's).
    expected = to_uint8(subset(load_dataset("mnist-5k", "train"), 2000).images[dot["row"]])[0]
    assert pixels == expected.ravel().tolist()


def test_a_dot_s_digit_shows_as_the_button_goes_down_and_a_drag_gives_the_last_answer_back(page):
    """The press shows the hovered dot's pictures (plotly.js acts on the release, and on a large map its restyle
    for the selection keeps the page busy for a while); a press that becomes a drag (a zoom) selects nothing, so the
    panel shows the last answer again."""
    open_app_page(page, "/", "Latent explorer")
    wait_for_latent_map(page)
    first, second = isolated_scatter_points(page, 2)
    click_scatter_point(page, first, answered=True)  # the server's answer redraws the map: a hover meanwhile is lost
    heading = page.locator(".mg-pictures h3")
    expect(heading).to_have_text(f"Digit {first['label']} · row {first['row']}")
    answer = shown_pictures(page)

    hover_scatter_point(page, second)
    page.mouse.down()  # and held
    expect(heading).to_have_text(f"Digit {second['label']} · row {second['row']}")
    original = page.locator(".mg-pictures figure").filter(has_text="Original").locator("img")
    expect(original).to_have_js_property("complete", True)
    assert shown_pictures(page)[0] not in answer
    # Hold back what the page sends: the drag's own effect on the server (a box selection) stays out of the test.
    page.evaluate("() => { window.__send = WebSocket.prototype.send; WebSocket.prototype.send = () => {}; }")
    try:
        page.mouse.move(second["x"] + 30, second["y"] + 30, steps=5)
        page.mouse.up()
        expect(heading).to_have_text(f"Digit {first['label']} · row {first['row']}")
        expect(page.locator(".mg-pictures img").first).to_have_js_property("complete", True)
        assert shown_pictures(page) == answer
    finally:
        page.evaluate("() => { WebSocket.prototype.send = window.__send; }")


def test_a_large_maps_click_fetches_exactly_its_dots_digit_from_the_served_rows(page):
    """Above 5,000 dots the page fetches a clicked dot's original by index (an HTTP Range request to Streamlit's
    static files) and draws it itself: the pixels it draws are the digit multigen wrote for that row."""
    import base64

    from multigen.data import load_dataset
    from multigen.images import to_uint8
    from pages.ui import picture_panel

    digits = to_uint8(load_dataset("mnist-5k", "val").images[:50])
    served = picture_panel.row_file("e2e-test", "original", digits)
    source = (picture_panel._SOURCE / "digit_pictures.js").read_bytes()
    try:
        open_app_page(page, "/", "Latent explorer")
        drawn = page.evaluate(
            """async ([module, url, rows]) => {
                const { fetchRow } = await import(`data:text/javascript;base64,${module}`);
                const pixels = async dataUrl => {
                    const image = new Image();
                    image.src = dataUrl;
                    await image.decode();
                    return (""" + IMAGE_PIXELS + """)(image);
                };
                const atlas = { size: 28, files: { original: url } };
                return Promise.all(rows.map(async row => pixels(await fetchRow(atlas, 'original', row))));
            }""",
            [base64.b64encode(source).decode(), served, [0, 7, 49]],
        )
    finally:
        (picture_panel.ROWS_DIR / served.rsplit("/", 1)[1]).unlink(missing_ok=True)
    for row, pixels in zip([0, 7, 49], drawn):
        assert pixels == digits[row].ravel().tolist(), row


def test_moving_a_gan_slider_changes_the_generated_digit(page):
    open_app_page(page, "/gan_generator", "GAN generator")
    # The page is drawn to its end (its first visit builds the nearest-digit search, ~2 s): only then is
    # the first picture the settled one and a slider move the next rerun.
    expect(page.get_by_text("Nearest training digits", exact=True)).to_be_visible()
    expect(page.locator("[data-testid=stImage] img").first).to_have_js_property("complete", True)
    before = image_sources(page)[0]
    slider = page.get_by_role("slider", name=re.compile(r"^Direction 1\b"))
    value_before = slider.get_attribute("aria-valuetext")

    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")

    after = first_picture_changes(page, before)
    assert after != before
    assert slider.get_attribute("aria-valuetext") != value_before


def test_the_gan_page_shows_the_nearest_training_digits_beside_the_generated_one(page):
    open_app_page(page, "/gan_generator", "GAN generator")
    expect(page.get_by_text("Nearest training digits", exact=True)).to_be_visible()
    neighbours = page.locator("[data-testid=stImage]").filter(has_text=re.compile(r"^\d\.\d{3} · digit \d$"))
    expect(neighbours).to_have_count(3)
    for index in range(3):
        expect(neighbours.nth(index).locator("img")).to_have_js_property("complete", True)
    expect(page.get_by_text(re.compile(r"all but 5% of real digits")).first).to_be_visible()
    before = neighbours.all_inner_texts()

    page.get_by_role("button", name="Randomize").click()  # a new digit: new neighbours

    page.wait_for_function(
        """before => {
            const texts = [...document.querySelectorAll('[data-testid=stImage]')].map(image => image.innerText.trim())
                .filter(text => /^\\d\\.\\d{3} · digit \\d$/.test(text));
            return texts.length === 3 && texts.join('|') !== before.map(text => text.trim()).join('|');
        }""",
        arg=before,
    )


def test_a_training_run_shows_its_progress_bar_and_sample_grids_and_is_saved(page, app_server):
    open_app_page(page, "/train", "Train")
    expect(start_button(page)).to_be_enabled(timeout=TRAINING_TIMEOUT_MS)  # no run left over
    runs_before = set(app_server.runs_dir.glob("*.safetensors"))
    fill_training_form(page, model="VAE", epochs=1, batch_size=500)

    start_button(page).click()
    try:
        expect(page.get_by_role("progressbar").first).to_be_visible()
        grid = page.locator("[data-testid=stImage]").filter(has_text=re.compile(r"^Epoch \d+, step [\d,]+"))
        expect(grid.last).to_be_visible(timeout=TRAINING_TIMEOUT_MS)
        expect(page.get_by_text("The run finished").first).to_be_visible(timeout=TRAINING_TIMEOUT_MS)
    except BaseException:
        stop_training_after_failure(page)
        raise

    progress = page.locator("[data-testid=stProgress]")
    expect(progress).to_have_count(1)  # the bar of the last live redraw goes once the page has redrawn
    expect(progress).to_contain_text("Epoch 1/1")
    expect(progress.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(grid.last.locator("img")).to_have_js_property("complete", True)
    assert set(app_server.runs_dir.glob("*.safetensors")) - runs_before, "the run saved no checkpoint"
    expect(start_button(page)).to_be_enabled(timeout=POLL_TIMEOUT_MS)


def test_a_second_tab_sees_the_running_job_and_cannot_start_another(context):
    watcher, trainer = context.new_page(), context.new_page()
    open_app_page(watcher, "/train", "Train")
    expect(start_button(watcher)).to_be_enabled(timeout=TRAINING_TIMEOUT_MS)  # no run left over
    open_app_page(trainer, "/train", "Train")
    fill_training_form(trainer, model="VAE", epochs=50, batch_size=500)

    start_button(trainer).click()
    try:
        expect(start_button(trainer)).to_be_disabled()
        # The other tab notices by itself (its live area polls the shared job), without a reload.
        news = watcher.get_by_text(re.compile(r"^(Starting…|Training) · VAE on mnist-5k")).first
        expect(news).to_be_visible(timeout=POLL_TIMEOUT_MS)
        expect(start_button(watcher)).to_be_disabled(timeout=POLL_TIMEOUT_MS)
        expect(watcher.get_by_role("progressbar").first).to_be_visible()

        stop_button(watcher).first.click()  # either tab controls the one run
        expect(trainer.get_by_text("The run was stopped").first).to_be_visible(timeout=TRAINING_TIMEOUT_MS)
    except BaseException:
        stop_training_after_failure(trainer)
        raise
    expect(start_button(trainer)).to_be_enabled(timeout=POLL_TIMEOUT_MS)
    expect(start_button(watcher)).to_be_enabled(timeout=POLL_TIMEOUT_MS)


def test_typing_a_number_on_the_write_page_shows_its_strip(page, app_server):
    from multigen.checkpoints import list_checkpoints

    if not any(info.kind in ("cvae", "cgan") for info in list_checkpoints(*app_server.checkpoint_dirs)):
        pytest.skip("no CVAE or cGAN checkpoint for the Write a number page")
    open_app_page(page, "/write_number", "Write a number")
    before = image_sources(page)
    field = page.get_by_role("textbox", name="Number")

    field.fill("4711")
    field.press("Enter")

    wait_for_new_image(page, before)
    expect(page.get_by_text("“4711” in the style of seed 0", exact=True)).to_be_visible()


def test_a_hostile_recipe_upload_is_one_error_line_and_the_gan_page_goes_on(page, tmp_path):
    """A 400 KB PNG that claims 20000 x 20000 pixels, then a recipe whose text is Markdown for an image."""
    import io
    import json

    from PIL import Image

    open_app_page(page, "/gan_generator", "GAN generator")
    bomb = tmp_path / "bomb.png"
    buffer = io.BytesIO()
    Image.new("L", (20_000, 20_000)).save(buffer, "PNG")
    bomb.write_bytes(buffer.getvalue())
    page.get_by_text("Variations, interpolation and recipes").click()
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(bomb))
    error = page.locator("[data-testid=stAlertContentError]")
    expect(error).to_contain_text("claims more pixels than any multigen recipe PNG", timeout=POLL_TIMEOUT_MS)
    expect(page.locator("[data-testid=stException]")).to_have_count(0)
    expect(page.locator("[data-testid=stImage] img").first).to_have_js_property("complete", True)

    fetched = []
    page.on("request", lambda request: fetched.append(request.url) if "example.invalid" in request.url else None)
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"format": "multigen-recipe", "seed": 7, "sliders": [], "z": [],
                                  "checkpoint": "![x](http://example.invalid/pixel.png)"}))
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(recipe))
    success = page.locator("[data-testid=stAlertContentSuccess]")
    expect(success).to_contain_text("![x](http://example.invalid/pixel.png)", timeout=POLL_TIMEOUT_MS)  # as text
    assert success.locator("img").count() == 0 and fetched == []
