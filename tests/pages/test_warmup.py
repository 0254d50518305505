"""The warm-up of the caches (pages/ui/warmup.py): it starts once, in the background, never keeps a page waiting,
holds back while a page is drawn, and leaves the shipped checkpoints' first contents on disk."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from app_driver import APP, TIMEOUT
from streamlit.testing.v1 import AppTest

from pages.ui import warmup


@pytest.fixture
def fresh_warm_up(monkeypatch):
    """The warm-up on (the tests turn it off) and not yet started in this process."""
    monkeypatch.setenv("MULTIGEN_WARM_UP", "1")
    monkeypatch.setattr(warmup, "_thread", None)


def blocking_tasks(release: threading.Event, ran: list[str]):
    def tasks():
        yield "a slow task", lambda: (ran.append("slow"), release.wait(30))
        yield "a quick task", lambda: ran.append("quick")

    return tasks


def test_starting_the_warm_up_returns_at_once_and_only_once(fresh_warm_up):
    release, ran = threading.Event(), []
    started = time.monotonic()
    thread = warmup.start_warm_up(blocking_tasks(release, ran), after_a_page=False)
    assert time.monotonic() - started < 5  # the slow task (30 s unless released) runs in the background
    assert thread.is_alive() and thread.daemon  # a daemon: it never keeps the server from stopping
    assert warmup.start_warm_up(blocking_tasks(release, ran)) is thread  # a second session: the same warm-up
    release.set()
    thread.join(10)
    assert ran == ["slow", "quick"]


def test_the_warm_up_is_off_when_multigen_warm_up_says_0(fresh_warm_up, monkeypatch):
    monkeypatch.setenv("MULTIGEN_WARM_UP", "0")
    assert warmup.start_warm_up(blocking_tasks(threading.Event(), [])) is None


def test_the_warm_up_holds_back_while_a_page_is_drawn(fresh_warm_up):
    release, ran = threading.Event(), []
    release.set()
    with warmup.page_run():
        thread = warmup.start_warm_up(blocking_tasks(release, ran), after_a_page=False)
        time.sleep(0.5)
        assert ran == []  # a page is being drawn: the warm-up waits (at most QUIET_WAIT_S)
    thread.join(10)
    assert ran == ["slow", "quick"]


def test_app_py_starts_the_warm_up_and_draws_its_page_without_waiting_for_it(fresh_warm_up, app_env, monkeypatch):
    release, ran = threading.Event(), []
    monkeypatch.setattr(warmup, "warm_up_tasks", blocking_tasks(release, ran))
    try:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
        assert not at.exception and at.title[0].value == "Latent explorer"
        assert warmup._thread is not None and warmup._thread.is_alive()  # still on its slow task
    finally:
        release.set()
    warmup._thread.join(10)
    assert ran == ["slow", "quick"]


def test_the_warm_up_leaves_each_page_s_first_content_of_the_shipped_checkpoints_on_disk(app_env):
    done = []
    for what, task in warmup.warm_up_tasks():
        if what.startswith("the evaluation"):  # the last tasks, seconds each: tested in tests/test_cache.py
            break
        task()
        done.append(what)
    assert done[:3] == ["the libraries", "the map's first drawing", "loading vae-2"]  # the app opens on vae-2's map
    cache = app_env["cache"]
    # vae-2 and cvae, the explorer's checkpoints: each its first map, then the whole training split, from which the
    # explorer cuts a map of any size without encoding.
    assert len(list((cache / "encodings").glob("*.npz"))) == 4
    assert [what for what in done if what.startswith("the whole")] == [
        "the whole train split of mnist-5k encoded by vae-2", "the whole train split of mnist-5k encoded by cvae"]
    directions = sorted(path.name.rsplit("-", 1)[0] for path in (cache / "directions").glob("*.npy"))
    assert directions == ["gan-directions"] * 2 + ["style-directions"] * 2  # cgan, dcgan; cgan, cvae


def test_the_warm_up_measures_the_evaluations_compare_asks_for_first(shipped_env, monkeypatch):
    """A VAE with a fitted prior is measured drawing from it, as Compare first shows it: on a second server start the
    complete table is read from disk, not measured again (it was: 13.9 s instead of about 4)."""
    from multigen import cache
    from pages.ui import loaders

    asked = []
    monkeypatch.setattr(cache, "evaluation", lambda path, *, samples, prior=None, **_: asked.append((path.stem, samples, prior)))
    for what, task in warmup.warm_up_tasks():
        if what.startswith("the evaluation"):
            task()
    assert sorted(asked) == [("cgan", 1000, None), ("cvae", 1000, None), ("dcgan", 1000, None),
                             ("vae-16", 1000, "fitted"), ("vae-2", 1000, "fitted")]
    assert loaders.DEFAULT_PRIOR == "fitted"


def test_the_server_answers_once_the_pages_libraries_are_imported_and_its_warm_up_waits_for_a_first_page(
    fresh_warm_up, monkeypatch
):
    release, ran, done = threading.Event(), [], []
    release.set()
    monkeypatch.setattr(warmup, "_page_runs", warmup._PageRuns())  # a new server: no page drawn yet
    monkeypatch.setattr(warmup, "import_page_libraries", lambda: done.append("imported") or 0.0)
    monkeypatch.setattr(warmup, "warm_up_tasks", blocking_tasks(release, ran))

    async def start_the_server():
        async with warmup.at_server_start(None):
            done.append("answering")

    # A thread of its own: a browser test before this one in the same worker may leave an event loop running here.
    server = threading.Thread(target=asyncio.run, args=(start_the_server(),))
    server.start()
    server.join(timeout=TIMEOUT)
    assert done == ["imported", "answering"] and warmup._thread.is_alive()
    time.sleep(0.5)
    assert ran == []  # the first visitor's page is drawn before the warm-up takes a core (at most QUIET_WAIT_S)
    with warmup.page_run():
        pass
    warmup._thread.join(10)
    assert ran == ["slow", "quick"]
