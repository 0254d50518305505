"""The Latent explorer at full-MNIST scale: what a map of 2,000 to 60,000 digits costs, offline.

No data set of 60,000 digits can be downloaded here, so the script makes one: the 4,500 ``mnist-5k`` training digits,
each shifted by up to two pixels in x and y (24 shifts, then cut to 60,000), and the 500 validation digits the same way
(10,000), written as the IDX files of torchvision's MNIST into a scratch folder (``MULTIGEN_DATA``). The shipped VAE
checkpoints are copied beside it, saying they were trained on ``mnist``, so the explorer reads that folder.

For each size it measures, in this process: encoding the digits (``encode_dataset``), the PCA and t-SNE projections
(scikit-learn up to ``--tsne-max``; openTSNE at every size where it is installed), the bytes of the map's figure (Plotly JSON) and of the dots' sprite
sheets. With ``--browser``, headless Chromium on the app: bytes the browser received for the map, the time from
choosing the size to the first map drawn (digits not yet encoded: their first 5,000, the rest following) and to the
map drawn with every dot, the longest main-thread stall while it drew (the Performance API's long-task
entries), and a click on a dot to its digit on screen.

    python benchmarks/explorer_scale.py --sizes 2000 5000 20000 60000 --browser
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from multigen.checkpoints import load_checkpoint, save_checkpoint
from multigen.data import load_dataset, subset, write_idx
from multigen.explore.latent import encode_dataset
from multigen.explore.projection import project, tsne_engine

SHIFTS = [(dx, dy) for dx in (-2, -1, 0, 1, 2) for dy in (-2, -1, 0, 1, 2) if (dx, dy) != (0, 0)]
TRAIN_SIZE, VAL_SIZE = 60_000, 10_000


def shifted(images: np.ndarray, labels: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``size`` digits: the originals, then each shifted by every offset of SHIFTS in turn (zeros fill the edge)."""
    copies, copy_labels = [images], [labels]
    for dx, dy in SHIFTS:
        moved = np.zeros_like(images)
        source = images[:, max(0, -dy) : 28 - max(0, dy), max(0, -dx) : 28 - max(0, dx)]
        moved[:, max(0, dy) : 28 - max(0, -dy), max(0, dx) : 28 - max(0, -dx)] = source
        copies.append(moved)
        copy_labels.append(labels)
        if sum(len(part) for part in copies) >= size:
            break
    return np.concatenate(copies)[:size], np.concatenate(copy_labels)[:size]


def make_data(folder: Path) -> Path:
    """Write the 60,000 + 10,000 digit MNIST stand-in under ``folder`` (torchvision's layout); returns ``folder``."""
    raw = folder / "MNIST" / "raw"
    for split, prefix, size in (("train", "train", TRAIN_SIZE), ("val", "t10k", VAL_SIZE)):
        digits = load_dataset("mnist-5k", split)
        images = (digits.images[:, 0] * 255).round().byte().numpy()
        images, labels = shifted(images, digits.labels.numpy().astype(np.uint8), size)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return folder


def copy_checkpoints(folder: Path) -> list[Path]:
    """The shipped VAEs, saved again saying they were trained on ``mnist`` (the explorer reads that data set)."""
    copies = []
    for name in ("vae-16", "vae-2"):
        source = load_checkpoint(ROOT / "checkpoints" / f"{name}.safetensors")
        metadata = {key: value for key, value in source.metadata.items() if key in ("epoch", "step", "history", "training")}
        copies.append(save_checkpoint(folder / f"{name}.safetensors", source.model, metadata={**metadata, "dataset": "mnist"}))
    return copies


def timed(function, *args, **kwargs) -> tuple[Any, float]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def server_rows(checkpoint: Path, data: Path, sizes: list[int], tsne_max: int) -> list[dict[str, Any]]:
    """Per size: encode, PCA, t-SNE seconds; the figure's and the sprite sheets' bytes."""
    from multigen.images import png_data_url, sprite_sheet
    from pages.ui import charts, picture_panel

    model = load_checkpoint(checkpoint).model
    train = load_dataset("mnist", "train", data_dir=data)
    rows = []
    for size in sizes:
        digits = subset(train, size)
        codes, encode_s = timed(encode_dataset, model, digits)
        projection, pca_s = timed(project, codes.mu, "pca")
        figure = charts.latent_map_figure(projection.points, codes.labels, clickable_background=True)
        figure_bytes = len(figure.to_json().encode())
        sheet_bytes = None
        if size <= picture_panel.ATLAS_MAX_POINTS:
            sheet, _ = sprite_sheet(codes.images)
            sheet_bytes = len(png_data_url(sheet, compress_level=6))
        tsne_s, opentsne_s = None, None
        if size <= tsne_max:
            os.environ["MULTIGEN_TSNE"] = "sklearn"
            _, tsne_s = timed(project, codes.mu, "tsne", seed=0)
        os.environ.pop("MULTIGEN_TSNE", None)
        if tsne_engine() == "openTSNE":  # installed: it runs at every size
            _, opentsne_s = timed(project, codes.mu, "tsne", seed=0)
        row = {"points": size, "encode_s": encode_s, "pca_s": pca_s, "tsne_s": tsne_s, "opentsne_s": opentsne_s,
               "figure_bytes": figure_bytes, "sheet_bytes": sheet_bytes}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


# -- in the browser ----------------------------------------------------------------------------------
LONG_TASKS = """() => {
    window.__longTasks = [];
    document.addEventListener('pointerdown', () => { window.__pressedAt = performance.now(); }, true);
    document.addEventListener('pointerup', () => { window.__releasedAt = performance.now(); }, true);
    new PerformanceObserver(list => window.__longTasks.push(...list.getEntries().map(
        entry => ({start: entry.startTime, duration: entry.duration})))).observe({type: 'longtask', buffered: true});
}"""
MAP_HAS = """n => {
    const plot = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');
    if (!plot || !plot._fullData || !plot._fullLayout || !plot._fullLayout.xaxis) return false;
    const dots = plot._fullData.filter(trace => trace.name !== 'empty space' && trace.x)
        .reduce((sum, trace) => sum + trace.x.length, 0);
    return dots === n && Boolean(plot.querySelector('.scatterlayer, canvas'));
}"""
# A map of digits not yet encoded first shows QUICK_POINTS of them, under a note: the first map, either way.
# The whole map is a new figure (plotly.js replaces ``_fullData`` on every update; the one before is kept in
# ``__mapBefore``); the first digits' map may be the one already shown (a map of QUICK_POINTS, the same digits).
FIRST_MAP = ("([n, quick]) => { const has = " + MAP_HAS + ";\n"
             "const plot = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');\n"
             "const fresh = Boolean(plot) && plot._fullData !== window.__mapBefore;\n"
             "return (fresh && has(n)) || (document.body.innerText.includes('while the rest are encoded') && has(quick)); }")
KEEP_MAP = "() => { window.__mapBefore = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot')?._fullData; }"
# A few dots far from every other: candidates spread over the map, each measured against all (n x 300, not n^2).
SPREAD_DOTS = """(plot, count) => {
    const xaxis = plot._fullLayout.xaxis, yaxis = plot._fullLayout.yaxis, box = plot.getBoundingClientRect();
    const all = [];
    for (const trace of plot._fullData) {
        if (trace.name === 'empty space' || !trace.x) continue;
        for (let i = 0; i < trace.x.length; i++)
            all.push({px: xaxis.l2p(trace.x[i]) + xaxis._offset, py: yaxis.l2p(trace.y[i]) + yaxis._offset,
                      row: Number(trace.customdata[i])});
    }
    const step = Math.max(1, Math.floor(all.length / 300));
    const candidates = all.filter((dot, i) => i % step === 0 && dot.py > yaxis._offset + 40);
    for (const dot of candidates) {
        dot.gap = Infinity;
        for (const other of all) {
            const d = Math.hypot(other.px - dot.px, other.py - dot.py);
            if (d > 0 && d < dot.gap) dot.gap = d;
        }
    }
    candidates.sort((a, b) => b.gap - a.gap);
    return candidates.slice(0, count).map(dot => ({x: box.left + dot.px, y: box.top + dot.py, row: dot.row, gap: dot.gap}));
}"""
# From the next animation frame on, the first frame (rAF runs just before the paint) that shows the row's original.
WATCH_FOR_ORIGINAL = """row => {
    window.__shownAt = null;
    const shown = ORIGINAL_SHOWN;
    const watch = () => { if (shown(row)) window.__shownAt = performance.now(); else requestAnimationFrame(watch); };
    requestAnimationFrame(watch);
}"""
ORIGINAL_SHOWN = """row => [...document.querySelectorAll('.mg-pictures')].some(root =>
    (root.querySelector('h3')?.textContent || '').endsWith('row ' + row)
    && [...root.querySelectorAll('img')].some(image => image.complete && image.naturalWidth > 0))"""


def browser_rows(
    checkpoints: Path, data: Path, sizes: list[int], clicks: int, hold_ms: int = 80, *, warm_up: bool = False
) -> list[dict[str, Any]]:
    """The app on the 60,000-digit data set: for each size, the map after choosing it, and clicks on its dots (the
    time from the press, the button held ``hold_ms``, to the dot's original on screen). ``warm_up``: the app's warm-up
    runs, and the sizes are chosen once it has kept the whole split's encodings (a server that has been up a while)."""
    from playwright.sync_api import sync_playwright

    from pages.ui.loaders import QUICK_POINTS
    from tests.e2e.conftest import VIEWPORT, launch_chromium, start_app
    from tests.e2e.test_browser import hover_scatter_point, wait_for_latent_map, wait_until_idle

    rows = []
    with tempfile.TemporaryDirectory(prefix="multigen-scale-app-") as scratch, sync_playwright() as playwright:
        server = start_app([checkpoints], Path(scratch), env={"MULTIGEN_DATA": str(data), "MULTIGEN_WARM_UP": str(int(warm_up))})
        chromium = launch_chromium(playwright)
        try:
            page = chromium.new_context(viewport=VIEWPORT, base_url=server.base_url).new_page()
            page.set_default_timeout(60_000)
            received = [0]
            page.on("websocket", lambda socket: socket.on(
                "framereceived", lambda frame: received.__setitem__(0, received[0] + len(frame if isinstance(frame, (bytes, str)) else b""))))
            page.on("pageerror", lambda error: print(f"  page error: {error}", file=sys.stderr))
            page.add_init_script(f"({LONG_TASKS})()")
            page.goto("/")
            wait_for_latent_map(page)
            wait_until_idle(page)
            if warm_up:  # the first map's encodings, then the whole split's
                while len(list(Path(scratch, "cache", "encodings").glob("*.npz"))) < 2:
                    time.sleep(0.5)
                print("  the warm-up has encoded the whole split", file=sys.stderr)
            slider = page.locator(".st-key-explorer_points input[type=range]")
            for size in sizes:
                current = slider.get_attribute("aria-valuetext") or ""
                slider.focus()
                # Move to the size: End for the whole split, else one step at a time (the moves before the key's
                # release debounce into one rerun).
                page.evaluate(KEEP_MAP)
                before, started = received[0], time.perf_counter()
                mark = page.evaluate("() => performance.now()")
                if size >= TRAIN_SIZE:
                    slider.press("End")
                for _ in range(40):
                    text = (slider.get_attribute("aria-valuetext") or "").replace(",", "").replace("all ", "")
                    if text.isdigit() and int(text) >= size:
                        break
                    slider.press("ArrowRight")
                print(f"  {size:,} points: chose {slider.get_attribute('aria-valuetext')}", file=sys.stderr)
                if (slider.get_attribute("aria-valuetext") or "") == current:  # the map shown already: nothing new
                    page.evaluate("() => { window.__mapBefore = null; }")
                page.wait_for_function(FIRST_MAP, arg=[size, QUICK_POINTS])
                first = time.perf_counter() - started
                page.wait_for_function(MAP_HAS, arg=size)
                drawn = time.perf_counter() - started
                wait_until_idle(page)
                tasks = page.evaluate("mark => window.__longTasks.filter(task => task.start >= mark)", mark)
                row = {"points": size, "first_map_s": first, "map_s": drawn, "received_bytes": received[0] - before,
                       "longest_task_ms": max((task["duration"] for task in tasks), default=0.0),
                       "long_tasks_ms": sum(task["duration"] for task in tasks), "from": current}
                dots = page.eval_on_selector("[data-testid=stPlotlyChart] .js-plotly-plot", SPREAD_DOTS, clicks)
                times, after_release, instant = [], [], []
                for dot in dots:
                    hover_scatter_point(page, dot)  # as a person does, before pressing
                    page.evaluate(WATCH_FOR_ORIGINAL.replace("ORIGINAL_SHOWN", ORIGINAL_SHOWN), dot["row"])
                    page.mouse.down()
                    page.wait_for_timeout(hold_ms)  # a person's click holds the button down a while
                    page.mouse.up()
                    page.wait_for_function("() => window.__shownAt !== null")
                    shown, pressed, released = page.evaluate("() => [window.__shownAt, window.__pressedAt, window.__releasedAt]")
                    times.append(shown - pressed)
                    after_release.append(max(0.0, shown - released))
                    # One picture: the original fetched in the page at once; more: the rerun's answer came first.
                    instant.append(page.evaluate("() => document.querySelectorAll('.mg-pictures figure').length") == 1)
                    wait_until_idle(page)
                row["click_ms"] = statistics.median(times) if times else None
                row["after_release_ms"] = statistics.median(after_release) if after_release else None
                row["clicks_shown_in_page"] = f"{sum(instant)} of {len(instant)}"
                print(json.dumps(row), flush=True)
                rows.append(row)
        finally:
            chromium.close()
            server.stop()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000, 5_000, 20_000, 60_000])
    parser.add_argument("--tsne-max", type=int, default=20_000,
                        help="the largest map whose scikit-learn t-SNE is timed (openTSNE, where installed: every size)")
    parser.add_argument("--browser", action="store_true", help="also time the app in headless Chromium")
    parser.add_argument("--clicks", type=int, default=5, help="dots clicked per map (--browser)")
    parser.add_argument("--hold-ms", type=int, default=80,
                        help="how long each click holds the button down (--browser; a person's click: about 100 ms)")
    parser.add_argument("--warm-up", action="store_true",
                        help="start the app with its warm-up and choose the sizes once it has encoded the whole split")
    parser.add_argument("--no-server", action="store_true", help="skip the in-process measurements")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory(prefix="multigen-scale-") as scratch:
        scratch = Path(scratch)
        data = make_data(scratch / "data")
        checkpoints = copy_checkpoints(scratch / "checkpoints")
        if not args.no_server:
            server_rows(checkpoints[0], data, args.sizes, args.tsne_max)
        if args.browser:
            only_vae16 = scratch / "browser-checkpoints"  # the explorer opens on its first VAE: the 16-D one
            only_vae16.mkdir()
            (only_vae16 / checkpoints[0].name).write_bytes(checkpoints[0].read_bytes())
            browser_rows(only_vae16, data, args.sizes, args.clicks, args.hold_ms, warm_up=args.warm_up)


if __name__ == "__main__":
    main()
