"""UI latency: from a click to the new picture on screen, and how much of it is the model.

Two measurements on the shipped checkpoints:

1. in the server process alone: ``model.draw`` (VAE, CVAE, GAN, cGAN: the one path from vectors to digits)
   (GAN, cGAN) of one latent vector, on the device the app uses, median and p95 over ``--calls``;
2. in a real browser (the system Chromium through Playwright, against ``streamlit run app.py``):
   from the release of a click on a dot of the latent map until its decoded digit (the picture
   captioned "Reconstruction…") has loaded and been painted, and from the release of a GAN slider
   until the generated digit has; median and p95 over ``--tries``.

Times in the browser are taken by the page itself (``performance.now()`` at the ``pointerup`` and in
the first animation frame after the new image's ``load``), so Playwright's own round trips do not
count. Goals: decode under 5 ms, click to image under 300 ms median.

3. ``--first-visit``: the first visit of each page on a server that was just started (headless Chromium goes to
   the page the moment the health check answers): the time from navigation until the page's first meaningful
   content is on screen (the explorer's map: its picture, shown while Plotly loads, or the map Plotly drew; the GAN
   page's digit, the Write page's strip, the Compare page's table), then until the explorer's map is drawn by Plotly
   (hover and clicks work) and Compare's table is complete (every figure measured, no progress bar).
   Three starts: **cold** (a new server process with empty disk caches), **second start** (a new server process with
   the disk caches a previous server filled: its warm-up has finished) and **warm** (the same server again, a new
   browser session). Median over ``--runs``. For the two starts of a new server it also gives the time **from the
   command** (``streamlit run`` spawned) until that content: the server's start until its health check answers, plus
   the first visit. Whoever starts the app and opens it at once waits that long, wherever the server spends it. The ONNX exports in ``static/models`` stay as they are in every start
   (they are made once per checkpoint content; a fresh checkout makes them on first use, ~0.1-0.6 s each).

    python benchmarks/ui_latency.py --tries 20
    python benchmarks/ui_latency.py --first-visit --runs 3
    python benchmarks/ui_latency.py --first-visit --runs 5 --pages /compare   # one page's
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from multigen.checkpoints import list_checkpoints, load_checkpoint
from multigen.device import describe_device, resolve_device
from multigen.explore.noise import noise_vector
from multigen.models import kinds
from tests.e2e.conftest import VIEWPORT, launch_chromium, start_app
from tests.e2e.test_browser import (
    click_scatter_point,
    isolated_scatter_points,
    wait_for_latent_map,
    wait_until_idle,
)

DECODE_GOAL_MS = 5.0
CLICK_GOAL_MS = 300.0
DECODED_CAPTION = "Reconstruction"  # the caption of the decoded digit on the Latent explorer
SLIDER = "Direction 1"  # the GAN slider that is dragged
PAGE_TIMEOUT_MS = 90_000  # a page's first run loads models on 2 busy cores
TRY_TIMEOUT_MS = 30_000

# Installed in the page: the time of the last pointer release, and of the first paint after a new
# picture (one ``isWanted`` accepts) has loaded. ``window.__latency.arm()`` starts a new try.
TIMING_HOOKS = """isWanted => {
    const latency = window.__latency = {pressedAt: null, shownAt: null, before: new Set()};
    const wanted = new Function('image', 'return (' + isWanted + ')(image);');
    latency.arm = () => {
        latency.pressedAt = latency.shownAt = null;
        latency.before = new Set([...document.querySelectorAll('img')].map(image => image.src));
    };
    document.addEventListener('pointerup', () => { latency.pressedAt = performance.now(); }, true);
    document.addEventListener('load', event => {
        const image = event.target;
        if (image.tagName !== 'IMG' || latency.pressedAt === null || latency.shownAt !== null) return;
        if (latency.before.has(image.src) || !wanted(image)) return;
        requestAnimationFrame(() => { if (latency.shownAt === null) latency.shownAt = performance.now(); });
    }, true);
}"""
# Installed before the page loads (``--phases``): when, after the last pointer release, the browser sent
# its first message to the server (the rerun request), received the first answer, and set the source of
# a new picture.
PHASE_HOOKS = """() => {
    const phases = window.__phases = {releasedAt: null, sentAt: null, answeredAt: null, sourcedAt: null};
    const Socket = window.WebSocket;
    function Watched(...args) {
        const socket = new Socket(...args);
        socket.addEventListener('message', () => {
            if (phases.sentAt !== null && phases.answeredAt === null) phases.answeredAt = performance.now();
        });
        const send = socket.send.bind(socket);
        socket.send = data => {
            if (phases.releasedAt !== null && phases.sentAt === null) phases.sentAt = performance.now();
            return send(data);
        };
        return socket;
    }
    Watched.prototype = Socket.prototype;
    Object.assign(Watched, Socket);
    window.WebSocket = Watched;
    document.addEventListener('pointerup', () => {
        Object.assign(phases, {releasedAt: performance.now(), sentAt: null, answeredAt: null, sourcedAt: null});
    }, true);
    new MutationObserver(changes => {
        if (phases.releasedAt === null || phases.sourcedAt !== null) return;
        if (changes.some(change => change.target.tagName === 'IMG' || [...change.addedNodes].some(
                node => node.tagName === 'IMG' || (node.querySelector && node.querySelector('img'))))) {
            phases.sourcedAt = performance.now();
        }
    }).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
}"""
PHASES = (  # (name, from, to) over window.__phases and window.__latency
    ("release -> new picture's src set (in the browser, or by the rerun)", "releasedAt", "sourcedAt"),
    ("src set -> picture painted", "sourcedAt", "shownAt"),
    ("release -> rerun request sent (Plotly's selection, the widget message)", "releasedAt", "sentAt"),
    ("request -> first answer from the server", "sentAt", "answeredAt"),
)
# The explorer's clicked pictures are figures drawn by pages/components/digit_pictures.js; others are st.image.
IS_DECODED_DIGIT = f"""image => ((image.closest('[data-testid=stImage]') || image.closest('figure'))?.innerText || '')
    .includes('{DECODED_CAPTION}')"""
IS_GAN_PICTURE = """image => image === document.querySelector('[data-testid=stImage] img')"""


# -- statistics and printing ------------------------------------------------------------------------
def summary(times_ms: list[float]) -> tuple[float, float]:
    """Median and 95th percentile of a list of times."""
    return statistics.median(times_ms), float(np.percentile(times_ms, 95))


def print_table(rows: list[tuple[str, float, float, str]]) -> None:
    """One line per measurement: what, median, p95 (the worst, for the first visits), goal."""
    width = max(len(row[0]) for row in rows)
    print(f"{'measurement':<{width}}  {'median':>10}  {'p95/max':>10}  goal")
    for what, median, p95, goal in rows:
        unit = " /s" if "per second" in what else (" s " if what.endswith("(s)") else " ms")  # rates, or times
        print(f"{what:<{width}}  {median:>7.1f}{unit}  {p95:>7.1f}{unit}  {goal}")


# -- 1. decode in the server process ------------------------------------------------------------------
def time_calls(call: Callable[[], Any], calls: int, warmup: int = 10) -> list[float]:
    """Milliseconds per call of ``call``, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def decode_rows(folder: Path, calls: int) -> list[tuple[str, float, float, str]]:
    """Decode (VAE, CVAE) or generate (GAN, cGAN) one vector with every shipped checkpoint."""
    device = resolve_device("auto")
    rows = []
    for info in list_checkpoints(folder):
        if info.kind not in kinds():
            continue
        model = load_checkpoint(info.path, device=device).model
        z = noise_vector(0, model.latent_dim)
        label = 3 if model.conditional else None
        times = time_calls(lambda model=model, z=z, label=label: model.draw(z, label), calls)
        what = f"decode, {info.path.stem}: model.draw of 1 vector"
        rows.append((what, *summary(times), f"< {DECODE_GOAL_MS:.0f} ms"))
    return rows


# -- 2. in the browser ------------------------------------------------------------------------------
def open_page(page: Any, path: str, is_wanted: str, *, phases: bool = False) -> None:
    """Open an app page, wait for its first run to end, and install the timing hooks."""
    if phases:
        page.add_init_script(f"({PHASE_HOOKS})()")
    page.goto(path)
    page.locator("[data-testid=stImage] img, [data-testid=stPlotlyChart]").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    wait_until_idle(page, timeout=PAGE_TIMEOUT_MS)
    page.evaluate(TIMING_HOOKS, is_wanted)


def timed(page: Any, action: Callable[[], None], phase_times: dict[str, list[float]] | None = None) -> float | None:
    """Milliseconds from the pointer release in ``action`` to the wanted new picture on screen.

    With ``phase_times`` (and PHASE_HOOKS installed), each phase of PHASES is appended to it as well.

    None (with a line on stderr saying what the page showed) when no new picture came within
    TRY_TIMEOUT_MS, so that one lost try does not throw away the others.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.evaluate("() => window.__latency.arm()")
    action()
    try:
        page.wait_for_function("() => window.__latency.shownAt !== null", timeout=TRY_TIMEOUT_MS)
    except PlaywrightTimeout:
        headings = page.eval_on_selector_all("h3", "headings => headings.map(h => h.textContent)")
        released = page.evaluate("() => window.__latency.pressedAt !== null")
        print(f"  a try showed no new picture within {TRY_TIMEOUT_MS / 1000:.0f} s (pointer released: {released}; "
              f"headings: {headings})", file=sys.stderr)
        return None
    elapsed = page.evaluate("() => window.__latency.shownAt - window.__latency.pressedAt")
    if phase_times is not None:
        stamps = page.evaluate("() => ({...(window.__phases || {}), shownAt: window.__latency.shownAt})")
        for name, start, end in PHASES:
            if stamps.get(start) is not None and stamps.get(end) is not None:
                phase_times.setdefault(name, []).append(stamps[end] - stamps[start])
    wait_until_idle(page)  # let this rerun end before the next try
    return elapsed


def completed(times: list[float | None], what: str) -> tuple[str, list[float]]:
    """The tries that showed a picture, and ``what`` with their count when some did not."""
    done = [time for time in times if time is not None]
    if not done:
        raise SystemExit(f"No try of '{what}' showed a new picture.")
    return (what if len(done) == len(times) else f"{what} ({len(done)} of {len(times)} tries)"), done


def click_latencies(
    page: Any, tries: int, phase_times: dict[str, list[float]] | None = None, *, svg: bool = False
) -> list[float | None]:
    """Click ``tries`` different dots of the latent map; time each until its decoded digit shows.

    ``svg`` first turns the explorer's "Draw the map with WebGL" setting off.
    """
    open_page(page, "/", IS_DECODED_DIGIT, phases=phase_times is not None)
    wait_for_latent_map(page)
    if svg:
        page.get_by_text("Settings: t-SNE", exact=False).click()
        page.get_by_text("Draw the map with WebGL", exact=True).click()
        page.wait_for_function("() => document.querySelector('.js-plotly-plot')?._fullData?.[0]?.type === 'scatter'")
        wait_until_idle(page)
    dots = isolated_scatter_points(page, tries)
    if len(dots) < tries:
        raise SystemExit(f"The latent map has only {len(dots)} dots to click, fewer than --tries {tries}.")
    return [timed(page, lambda dot=dot: click_scatter_point(page, dot), phase_times) for dot in dots]


def slider_latencies(page: Any, tries: int) -> list[float | None]:
    """Drag a GAN slider ``tries`` times, alternately to 1/4 and 3/4 of its track; time each release."""
    open_page(page, "/gan_generator", IS_GAN_PICTURE)
    group = page.get_by_role("group", name=SLIDER, exact=True)
    track = group.locator(":scope > div").first
    thumb = group.get_by_role("slider").locator("xpath=../..")

    def drag(fraction: float) -> None:
        start, box = thumb.bounding_box(), track.bounding_box()
        page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2, steps=4)
        page.mouse.up()

    return [timed(page, lambda fraction=(0.25, 0.75)[i % 2]: drag(fraction)) for i in range(tries)]


LIVE_GOAL_MS = 8  # issue 16: the DCGAN generator decoded in the page
DRAG_GOAL_FPS = 30


def live_rows(page: Any, tries: int) -> list[tuple[str, float, float, str]]:
    """The GAN page's in-page generator (pages/components/live_digit.js): time to the model being ready on a
    fresh page and the bytes it took, the decode time per digit, and digit updates per second during a
    2-second slider drag with the pointer held down."""
    started = time.perf_counter()
    page.goto("/gan_generator")
    page.locator(".mg-live[data-ready=true]").wait_for(state="attached", timeout=PAGE_TIMEOUT_MS)
    ready_ms = (time.perf_counter() - started) * 1000
    transferred = page.evaluate(r"""() => performance.getEntriesByType('resource')
        .filter(entry => /\/app\/static\//.test(entry.name))
        .reduce((sum, entry) => sum + (entry.transferSize || entry.encodedBodySize || 0), 0)""")
    wait_until_idle(page)
    decode_ms = page.evaluate("""async (tries) => {
        const live = globalThis.__multigenLiveDigit, times = [];
        const values = live.state.data.values.slice();
        for (let i = 0; i < tries; i++) {
            values[0] = -3 + 6 * (i / tries);
            const start = performance.now();
            await live.decode(values);
            times.push(performance.now() - start);
        }
        return times;
    }""", max(tries, 50))
    slider = page.get_by_role("slider", name=re.compile(r"^Direction 1\b"))
    box = slider.bounding_box()
    before = int(page.locator(".mg-live").get_attribute("data-frames") or 0)
    page.mouse.move(box["x"] + 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    drag_started = time.perf_counter()
    while time.perf_counter() - drag_started < 2.0:  # back and forth along the track for two seconds
        phase = (time.perf_counter() - drag_started) % 1.0
        x = box["x"] + box["width"] * (phase if phase < 0.5 else 1 - phase) * 2
        page.mouse.move(x, box["y"] + box["height"] / 2)
    seconds = time.perf_counter() - drag_started
    frames = int(page.locator(".mg-live").get_attribute("data-frames") or 0) - before
    # From one pointer move (the pointer still down) to the new digit painted, as the page times it.
    move_ms = []
    for step in range(max(tries, 20)):
        x = box["x"] + box["width"] * (0.2 + 0.6 * ((step * 7) % 10) / 10)
        page.evaluate("""() => { const live = document.querySelector('.mg-live');
            window.__movedAt = performance.now(); window.__framesAt = Number(live.dataset.frames || 0); }""")
        page.mouse.move(x, box["y"] + box["height"] / 2)
        page.wait_for_function("() => Number(document.querySelector('.mg-live').dataset.frames || 0) > window.__framesAt")
        move_ms.append(page.evaluate("() => performance.now() - window.__movedAt"))
    page.mouse.up()
    return [
        ("page: pointer move -> new digit painted, mid-drag (ms)", *summary(move_ms), "< 40 ms"),
        ("page: fresh GAN page -> in-page model ready (ms)", ready_ms, ready_ms, f"{transferred / 1e6:.1f} MB loaded"),
        ("page: in-page decode of one digit (ms)", *summary(decode_ms), f"median < {LIVE_GOAL_MS} ms"),
        ("page: digit updates per second while dragging", frames / seconds, frames / seconds, f">= {DRAG_GOAL_FPS}"),
    ]


def model_decode_rows(page: Any, folder: Path, calls: int) -> list[tuple[str, float, float, str]]:
    """The in-page decode of one digit with each shipped decoder or generator: exported as the app exports
    it (static/models/), then run by the page's own onnxruntime-web (loaded by the GAN page)."""
    from multigen.export import cached_onnx, read_onnx_metadata

    rows = []
    for info in list_checkpoints(folder):
        if info.kind not in kinds():
            continue
        path = cached_onnx(info.path, cache_dir=ROOT / "static" / "models")
        metadata = read_onnx_metadata(path)
        times = page.evaluate("""async ([url, dim, conditional, calls]) => {
            const ort = await globalThis.__multigenModels.runtime;
            const session = await ort.InferenceSession.create(new URL(url, location.href).href, { executionProviders: ['wasm'] });
            const feeds = { z: new ort.Tensor('float32', new Float32Array(dim).fill(0.1), [1, dim]) };
            if (conditional) feeds.labels = new ort.Tensor('int64', BigInt64Array.from([3n]), [1]);
            for (let i = 0; i < 5; i++) await session.run(feeds);  // warm up
            const times = [];
            for (let i = 0; i < calls; i++) { const start = performance.now(); await session.run(feeds); times.push(performance.now() - start); }
            return times;
        }""", [f"app/static/models/{path.name}", metadata["latent_dim"], metadata["conditional"], calls])
        rows.append((f"page: in-page decode, {info.path.stem} ({metadata['kind']})", *summary(times), f"median < {LIVE_GOAL_MS} ms"))
    return rows


def hover_rows(page: Any) -> list[tuple[str, float, float, str]]:
    """The Latent explorer's in-page decode under the pointer: updates per second during a 2-second sweep."""
    page.goto("/")
    page.locator(".mg-live[data-ready=true]").wait_for(state="attached", timeout=PAGE_TIMEOUT_MS)
    wait_for_latent_map(page)
    wait_until_idle(page)
    chart = page.locator("[data-testid=stPlotlyChart] .js-plotly-plot").first.bounding_box()
    before = int(page.locator(".mg-live").get_attribute("data-frames") or 0)
    started = time.perf_counter()
    while time.perf_counter() - started < 2.0:
        phase = (time.perf_counter() - started) % 1.0
        page.mouse.move(chart["x"] + chart["width"] * (0.2 + 0.6 * phase), chart["y"] + chart["height"] * (0.3 + 0.4 * phase))
    seconds = time.perf_counter() - started
    frames = int(page.locator(".mg-live").get_attribute("data-frames") or 0) - before
    return [("page: digit updates per second while hovering the map", frames / seconds, frames / seconds, f">= {DRAG_GOAL_FPS}")]


def pad_rows(page: Any) -> list[tuple[str, float, float, str]]:
    """The drawing pad: updates per second (the digit preprocessed, encoded, decoded and placed on the map in the
    page; its ``data-updates`` counter) while a stroke is drawn with the mouse for 2 seconds."""
    page.goto("/")
    wait_for_latent_map(page)
    page.get_by_role("tab", name="Your digit").click()
    page.locator(".mg-pad[data-ready=true]").wait_for(state="attached", timeout=PAGE_TIMEOUT_MS)
    canvas = page.locator(".mg-pad canvas").first.bounding_box()
    before = int(page.locator(".mg-pad").get_attribute("data-updates") or 0)
    page.mouse.move(canvas["x"] + canvas["width"] * 0.3, canvas["y"] + canvas["height"] * 0.2)
    page.mouse.down()
    started = time.perf_counter()
    while time.perf_counter() - started < 2.0:
        phase = (time.perf_counter() - started) / 2.0
        page.mouse.move(canvas["x"] + canvas["width"] * (0.3 + 0.4 * phase), canvas["y"] + canvas["height"] * (0.2 + 0.6 * phase))
    seconds = time.perf_counter() - started
    page.mouse.up()
    updates = int(page.locator(".mg-pad").get_attribute("data-updates") or 0) - before
    return [("page: pad updates per second while drawing (each: preprocess, encode, decode, place)",
             updates / seconds, updates / seconds, f">= {DRAG_GOAL_FPS}")]


def browser_rows(
    folder: Path, tries: int, *, phases: bool = False, svg: bool = False
) -> list[tuple[str, float, float, str]]:
    """Serve the app on the shipped checkpoints and time clicks and slider releases in Chromium."""
    from playwright.sync_api import sync_playwright

    families = {info.kind for info in list_checkpoints(folder)}
    rows = []
    with tempfile.TemporaryDirectory(prefix="multigen-latency-") as scratch, sync_playwright() as playwright:
        server = start_app([folder], Path(scratch))
        chromium = launch_chromium(playwright)
        try:
            context = chromium.new_context(viewport=VIEWPORT, base_url=server.base_url)
            context.set_default_timeout(TRY_TIMEOUT_MS)
            if families & {"vae", "cvae"}:
                phase_times: dict[str, list[float]] | None = {} if phases else None
                what, times = completed(click_latencies(context.new_page(), tries, phase_times, svg=svg),
                                        "browser: click a dot -> its decoded digit on screen" + (" (SVG map)" * svg))
                rows.append((what, *summary(times), f"median < {CLICK_GOAL_MS:.0f} ms"))
                rows += [(f"  click phase: {name}", *summary(values), "") for name, values in (phase_times or {}).items()]
                rows += hover_rows(context.new_page())
                rows += pad_rows(context.new_page())
            if families & {"gan", "cgan"}:
                what, times = completed(slider_latencies(context.new_page(), tries),
                                        "browser: release a GAN slider -> new digit on screen")
                rows.append((what, *summary(times), f"median < {CLICK_GOAL_MS:.0f} ms"))
                live_page = context.new_page()
                rows += live_rows(live_page, tries)
                rows += model_decode_rows(live_page, folder, max(tries, 50))
        finally:
            chromium.close()
            server.stop()
    return rows


# -- 3. the first visit -----------------------------------------------------------------------------
FIRST_VISIT_GOAL_S = 3.0
COMPARE_COMPLETE_GOAL_S = 5.0  # on a second start
IMAGE_SHOWN = """() => { const image = document.querySelector('[data-testid=stImage] img');
    return Boolean(image && image.complete && image.naturalWidth); }"""
MAP_DRAWN = """() => { const plot = document.querySelector('.st-key-latent_map .js-plotly-plot');
    return Boolean(plot && plot._fullLayout && plot._fullData && plot._fullData.length); }"""
FIRST_CONTENT = {  # page path -> (what a first visit waits for, true in the page once it is on screen)
    # the map's picture (pages/ui/charts.latent_map_style) while Plotly loads, or the map Plotly drew, whichever first
    "/": ("Latent explorer: the map (its picture or Plotly's)", f"""() => {{
        const box = document.querySelector('.st-key-latent_map');
        return Boolean(box && getComputedStyle(box).backgroundImage.startsWith('url(')) || ({MAP_DRAWN})(); }}"""),
    "/gan_generator": ("GAN generator: the digit", IMAGE_SHOWN),
    "/write_number": ("Write a number: the strip", IMAGE_SHOWN),
    "/compare": ("Compare: the table", "() => Boolean(document.querySelector('[data-testid=stDataFrame]'))"),
}
COMPARE_COMPLETE = """() => Boolean(document.querySelector('[data-testid=stDataFrame]'))
    && !document.querySelector('[data-testid=stProgress]')
    && Boolean(document.querySelector('[data-testid=stApp][data-test-script-state=notRunning]'))"""
THEN = {  # page path -> (what comes after the first content, true in the page once it has)
    "/": ("Latent explorer: the map drawn by Plotly (hover, click)", MAP_DRAWN),
    "/compare": ("Compare: the complete table", COMPARE_COMPLETE),
}
WARMED_TIMEOUT_S = 300.0  # a server's warm-up of the shipped checkpoints on 2 busy cores


def visit(chromium: Any, server: Any, path: str) -> tuple[float, float | None]:
    """Open ``path`` in a new browser session: seconds until its first content is on screen, and until what comes
    after it (``THEN``: the explorer's map drawn by Plotly, Compare's complete table) has."""
    context = chromium.new_context(viewport=VIEWPORT, base_url=server.base_url)
    try:
        page = context.new_page()
        started = time.perf_counter()
        page.goto(path)
        page.wait_for_function(FIRST_CONTENT[path][1], timeout=PAGE_TIMEOUT_MS)
        first = time.perf_counter() - started
        complete = None
        if path in THEN:
            page.wait_for_function(THEN[path][1], timeout=PAGE_TIMEOUT_MS)
            complete = time.perf_counter() - started
        return first, complete
    finally:
        context.close()


def wait_until_warmed(cache: Path, folder: Path) -> None:
    """Until a server's warm-up has measured every shipped checkpoint (its last tasks): one evaluation file each."""
    expected = len([info for info in list_checkpoints(folder, recursive=False) if info.kind in kinds()])
    deadline = time.monotonic() + WARMED_TIMEOUT_S
    while len(list((cache / "evaluations").glob("*.json"))) < expected:
        if time.monotonic() > deadline:
            raise SystemExit(f"The warm-up did not measure {expected} checkpoints within {WARMED_TIMEOUT_S:.0f} s.")
        time.sleep(1.0)
    time.sleep(3.0)  # its very last writes


def first_visit_rows(folder: Path, runs: int, paths: list[str] | None = None) -> list[tuple[str, float, float, str]]:
    """Cold, second-start and warm first visits of every page (or of ``paths``), ``runs`` times (see the module's
    docstring)."""
    from playwright.sync_api import sync_playwright

    cold: dict[str, list[float]] = {}
    second: dict[str, list[float]] = {}
    warm: dict[str, list[float]] = {}
    warm_up = {"MULTIGEN_WARM_UP": "1"}  # what a user's server does (the tests turn it off)
    paths = paths or list(FIRST_CONTENT)
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            for run in range(runs):
                for path in paths:
                    with tempfile.TemporaryDirectory(prefix="multigen-cold-") as scratch:
                        server = start_app([folder], Path(scratch), env=warm_up)
                        try:
                            first, complete = visit(chromium, server, path)
                        finally:
                            server.stop()
                    cold.setdefault(path, []).append(first)
                    cold.setdefault(f"command {path}", []).append(server.booted_s + first)
                    if complete is not None:
                        cold.setdefault(f"then {path}", []).append(complete)
                    print(f"  run {run + 1}, cold {path}: {first:.1f} s" + (f", then {complete:.1f} s" if complete else "")
                          + f" (health after {server.booted_s:.1f} s)", file=sys.stderr)
                with tempfile.TemporaryDirectory(prefix="multigen-second-") as scratch:
                    server = start_app([folder], Path(scratch), env=warm_up)  # fills the disk caches, then goes away
                    try:
                        wait_until_warmed(Path(scratch) / "cache", folder)
                    finally:
                        server.stop()
                    for path in paths:
                        server = start_app([folder], Path(scratch), env=warm_up)
                        try:
                            first, complete = visit(chromium, server, path)
                            again, complete_again = visit(chromium, server, path)
                        finally:
                            server.stop()
                        second.setdefault(path, []).append(first)
                        second.setdefault(f"command {path}", []).append(server.booted_s + first)
                        warm.setdefault(path, []).append(again)
                        if complete is not None:
                            second.setdefault(f"then {path}", []).append(complete)
                            warm.setdefault(f"then {path}", []).append(complete_again)
                        print(f"  run {run + 1}, second start {path}: {first:.1f} s, then warm {again:.1f} s"
                              + (f" (then {complete:.1f} s, {complete_again:.1f} s)" if complete else "")
                              + f"; health after {server.booted_s:.1f} s", file=sys.stderr)
        finally:
            chromium.close()
    rows = []
    shown = [*((path, FIRST_CONTENT[path]) for path in paths), *((f"then {path}", THEN[path]) for path in paths if path in THEN)]
    for path, (what, _) in shown:
        goal = {"then /compare": f"< {COMPARE_COMPLETE_GOAL_S:.0f} s on a second start", "then /": ""}.get(
            path, f"< {FIRST_VISIT_GOAL_S:.0f} s")
        for start, times in (("cold", cold), ("second start", second), ("warm", warm)):
            rows.append((f"first visit, {start}: {what} (s)", statistics.median(times[path]), max(times[path]), goal))
    for path in paths:  # the whole wait of whoever starts the server and opens the page at once
        for start, times in (("cold", cold), ("second start", second)):
            command = times[f"command {path}"]
            rows.append((f"from the command, {start}: {FIRST_CONTENT[path][0]} (s)", statistics.median(command),
                         max(command), ""))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=20, help="clicks and slider releases timed in the browser")
    parser.add_argument("--calls", type=int, default=200, help="decode calls timed in this process")
    parser.add_argument("--checkpoints", type=Path, default=ROOT / "checkpoints", help="the shipped checkpoints")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for the decode timing (default: torch's own, as the app runs)")
    parser.add_argument("--no-browser", action="store_true", help="time decoding only")
    parser.add_argument("--phases", action="store_true",
                        help="also split each click's time into phases (browser, server, page update, paint)")
    parser.add_argument("--svg", action="store_true", help="click on the SVG map (the explorer's WebGL setting off)")
    parser.add_argument("--first-visit", action="store_true",
                        help="only the first visit of each page: cold, second start and warm (see above)")
    parser.add_argument("--runs", type=int, default=3, help="server starts per page and kind of start (--first-visit)")
    parser.add_argument("--pages", nargs="+", choices=list(FIRST_CONTENT), default=None,
                        help="the pages whose first visit is timed (--first-visit; default: all)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if not list_checkpoints(args.checkpoints):
        raise SystemExit(f"No checkpoints in {args.checkpoints}: run checkpoints/rebuild.sh or pass --checkpoints.")

    print(f"device: {describe_device(resolve_device('auto'))}; decode with {torch.get_num_threads()} torch threads; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; checkpoints: {args.checkpoints}")
    if args.first_visit:
        rows = first_visit_rows(args.checkpoints.resolve(), args.runs, args.pages)
        print_table(rows)
        return
    rows = decode_rows(args.checkpoints, args.calls)
    if not args.no_browser:
        rows += browser_rows(args.checkpoints.resolve(), args.tries, phases=args.phases, svg=args.svg)
    print_table(rows)


if __name__ == "__main__":
    main()
