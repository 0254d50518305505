"""The warm-up: a background thread that makes what each page shows first for the shipped checkpoints, once per
process, so that the first visitor finds it made, and fills the disk caches (``multigen.cache``) so that the next
server start finds it too.

``streamlit run app.py`` serves app.py through ``st.App`` (see app.py), whose start-up hook (``at_server_start``)
imports the libraries the pages need (torch and the rest, about 2 s) before the server answers, then starts the
warm-up, which makes, cheapest first, each page's first content. A server started without that hook (AppTest,
or app.py run some other way) starts it with its first script run instead (``start_warm_up`` in app.py). Either
way its first task waits until a first page run has ended (or ``QUIET_WAIT_S``): a task takes up to seconds and
cannot stop half-way, and one under way beside a first visit slowed that visit by half a second or more
(benchmarks/README.md). It does not slow a page down: before each task it waits until no page is being drawn
(``page_run``, around every script run of app.py, from its first import to the page's last line) for at most
``QUIET_WAIT_S``, and its torch work runs on one thread, leaving the other cores to the pages. A page that asks for
a result the warm-up is making waits for that one computation (``multigen.cache`` makes each entry once).
``MULTIGEN_WARM_UP=0`` turns it off (the tests do, except where they test it).

app.py imports this module before the server runs, so it imports nothing heavy at its top.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

QUIET_WAIT_S = 5.0  # the longest the warm-up waits for the pages to be idle before its next task


class _PageRuns:
    """How many page runs are going on, and whether one has ended yet (the warm-up waits for quiet)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._running = 0
        self._ended = 0

    @contextmanager
    def running(self) -> Iterator[None]:
        with self._changed:
            self._running += 1
        try:
            yield
        finally:
            with self._changed:
                self._running -= 1
                self._ended += 1
                self._changed.notify_all()

    def wait_until_quiet(self, *, after_a_page: bool, timeout: float = QUIET_WAIT_S) -> None:
        """Until no page run is going on (and, ``after_a_page``, one has ended), or ``timeout`` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: self._running == 0 and (self._ended > 0 or not after_a_page), timeout)


_page_runs = _PageRuns()
_start_lock = threading.Lock()
_thread: threading.Thread | None = None


def page_run():
    """A context around one page's script run: the warm-up holds back while it lasts."""
    return _page_runs.running()


def enabled() -> bool:
    """False when ``MULTIGEN_WARM_UP`` says 0, false, no or off."""
    return os.environ.get("MULTIGEN_WARM_UP", "1").strip().lower() not in ("0", "false", "no", "off")


def warm_up_tasks() -> Iterator[tuple[str, Callable[[], Any]]]:
    """What the warm-up makes for the shipped checkpoints, in the order a visitor needs it: the libraries the pages
    import; what each page shows first with the checkpoint it opens on (the explorer's map, the GAN page's slider
    directions, the Write page's style directions, their in-page models); the copy check's training digits; the whole
    training split encoded for the explorer (every size of its map); the same for the other checkpoints; then the
    Compare page's evaluations (seconds each)."""
    import numpy as np
    import plotly.io

    from multigen import cache
    from multigen.checkpoints import Checkpoint, CheckpointInfo, load_checkpoint
    from multigen.data import SPLITS, load_dataset
    from multigen.device import resolve_device
    from multigen.evaluation import nearest_training_digits
    from multigen.export import cached_onnx
    from multigen.models import kinds
    from pages.ui import charts, loaders
    from pages.ui.checkpoints import available_checkpoints, is_run, name_of, offered
    from pages.ui.folders import EXPORTED_MODELS, cache_dir
    from pages.ui.site import page

    yield "the libraries", lambda: None  # imported above, as the warm-up took its first task
    yield "the map's first drawing", lambda: plotly.io.to_json(  # Plotly's figure classes, built once
        charts.latent_map_figure(np.zeros((2, 2), np.float32), np.arange(2), class_names=("0", "1")), validate=False)
    device, folder = str(resolve_device("auto")), cache_dir()
    loaded: dict[str, Checkpoint] = {}

    def checkpoint(info: CheckpointInfo) -> Checkpoint:
        if str(info.path) not in loaded:
            loaded[str(info.path)] = load_checkpoint(info.path, device=device)
        return loaded[str(info.path)]

    def page_tasks(key: str, info: CheckpointInfo) -> Iterator[tuple[str, Callable[[], Any]]]:
        name = name_of(info)
        # Loading is a task of its own, so the warm-up can hold back for a page between loading and computing.
        yield f"loading {name}", lambda: checkpoint(info)
        if key == "explorer":
            dataset = info.metadata.get("dataset") or "mnist-5k"
            yield f"the data set {dataset}", lambda: load_dataset(dataset, "val")  # the page asks for its sizes
            yield f"the map of {name}", lambda: cache.encodings(
                checkpoint(info), dataset, SPLITS[0], loaders.EXPLORER_POINTS, cache_dir=folder)
        elif key == "generator":
            yield f"the slider directions of {name}", lambda: cache.gan_directions(
                checkpoint(info), min(loaders.GAN_SLIDERS, checkpoint(info).model.latent_dim), cache_dir=folder)
        else:
            yield f"the style directions of {name}", lambda: cache.style_directions(checkpoint(info), cache_dir=folder)
        for part in ("decoder", "encoder") if key == "explorer" else ("decoder",):
            yield f"the in-page {part} of {name}", lambda part=part: cached_onnx(info.path, part=part,
                                                                                    cache_dir=EXPORTED_MODELS)

    shipped = {key: [info for info in offered(page(key)) if not is_run(info)] for key in ("explorer", "generator", "writer")}
    for key, infos in shipped.items():  # what a first visit of each page shows
        yield from page_tasks(key, infos[0]) if infos else ()
    if any(shipped.values()):
        yield "the copy check's training digits", lambda: nearest_training_digits(np.zeros((1, 28, 28), np.uint8), k=1)
    def whole_split(info: CheckpointInfo) -> Iterator[tuple[str, Callable[[], Any]]]:
        # Every size of the explorer's map is then cut from it: 60,000 digits open as quickly as 2,000.
        dataset = info.metadata.get("dataset") or "mnist-5k"
        yield f"the whole {SPLITS[0]} split of {dataset} encoded by {name_of(info)}", lambda: cache.encodings(
            checkpoint(info), dataset, SPLITS[0], None, cache_dir=folder)

    yield from whole_split(shipped["explorer"][0]) if shipped["explorer"] else ()
    for key, infos in shipped.items():  # the other checkpoints of each page
        for info in infos[1:]:
            yield from page_tasks(key, info)
            yield from whole_split(info) if key == "explorer" else ()
    loaded.clear()  # the evaluations load their own models
    for info in [info for info in available_checkpoints(kinds()) if not is_run(info)]:
        # The evaluation Compare asks for first: a VAE with a fitted prior is measured drawing from it.
        yield f"the evaluation of {name_of(info)}", lambda info=info: cache.evaluation(
            info.path, samples=loaders.EVALUATION_SAMPLES[0], prior=loaders.prior_for(info, loaders.DEFAULT_PRIOR),
            device=device, cache_dir=folder)


def start_warm_up(
    tasks: Callable[[], Iterator[tuple[str, Callable[[], Any]]]] | None = None, *, after_a_page: bool = True
) -> threading.Thread | None:
    """Start the warm-up thread (``tasks``: ``warm_up_tasks``) once per process (later calls return the same thread)
    and return at once; None when ``MULTIGEN_WARM_UP`` turns it off. ``after_a_page``: its first task waits until a
    page run has ended (when a page run starts it)."""
    global _thread
    with _start_lock:
        if _thread is None and enabled():
            _thread = threading.Thread(target=_run, args=(tasks or warm_up_tasks, after_a_page),
                                       name="multigen-warm-up", daemon=True)
            _thread.start()
        return _thread


def _run(tasks: Callable[[], Iterator[tuple[str, Callable[[], Any]]]], after_a_page: bool) -> None:
    from multigen.cache import warm_up  # here, in the thread: it imports torch

    warm_up(tasks(), wait=lambda: _page_runs.wait_until_quiet(after_a_page=after_a_page))


def page_libraries() -> list[str]:
    """The modules the app's scripts import at their top (``pages/*.py``, ``pages/ui/*.py``), but for their own
    ``pages.*`` and Streamlit: torch (through ``multigen``), NumPy, Plotly and the rest a first page run imports."""
    from pages.ui.folders import APP_ROOT

    found: set[str] = set()
    for script in sorted([*(APP_ROOT / "pages").glob("*.py"), *(APP_ROOT / "pages" / "ui").glob("*.py")]):
        for node in ast.parse(script.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
    return sorted(name for name in found if name.split(".")[0] not in ("pages", "streamlit", "__future__"))


def import_page_libraries() -> float:
    """Import ``page_libraries()``; the seconds it took."""
    started = time.perf_counter()
    for name in page_libraries():
        importlib.import_module(name)
    return time.perf_counter() - started


@asynccontextmanager
async def at_server_start(_app: Any) -> AsyncIterator[None]:
    """``st.App``'s start-up hook (app.py): the pages' libraries are imported before the server answers, then the
    warm-up starts, in the background.

    Why before: torch's import takes about 2 s of a core and the GIL. Made in the background while a first visitor's
    page loaded, the page's first run waited for it all the same, behind a spinner, on a server whose health check
    said it was ready (benchmarks/README.md, "the first visit"). Whoever runs ``streamlit run app.py`` and opens the
    page at once waits as long in all; a page opened once the server answers comes at once."""
    print("multigen: importing PyTorch and the pages' libraries before the server answers...", file=sys.stderr,
          flush=True)
    seconds = await asyncio.to_thread(import_page_libraries)  # off the event loop: Ctrl-C still stops the server
    print(f"multigen: imported in {seconds:.1f} s.", file=sys.stderr, flush=True)
    start_warm_up()  # its first task waits for a first page run to end (or QUIET_WAIT_S): it takes seconds, whole
    yield
