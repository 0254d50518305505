"""app.py's frame around every page, and the way back into it for a page Streamlit ran on its own.

Why this exists: Streamlit still treats a folder named ``pages/`` next to the entry script as a legacy
multipage folder until the entry script calls ``st.navigation`` (``PagesManager.uses_pages_directory``,
set when the server starts; ``st.navigation`` clears it). In that mode it runs the page file of the
requested URL by itself, without app.py: so the first request of a fresh server to a page URL
(``/train`` from a bookmark) gets no page config, no sidebar and no navigation. ``AppTest`` resets the
flag before every run, so there every run of ``switch_page`` goes that way. Keeping the folder's name
``pages/`` makes this unavoidable; each page therefore calls ``run_inside_app()`` first.
"""

from __future__ import annotations

import runpy
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from multigen.device import single_threaded
from pages.ui.folders import APP_ROOT

_inside = threading.local()  # per script thread: is app.py running the current page?


@contextmanager
def shell() -> Iterator[None]:
    """Run the current page inside app.py (which has drawn the page config and the sidebar)."""
    _inside.active = True
    try:
        # Pages run inference on a few vectors at a time: one torch thread answers fastest and
        # leaves the other cores to a training run (see multigen.device.single_threaded).
        with single_threaded():
            yield
    finally:
        _inside.active = False


def run_inside_app() -> None:
    """When Streamlit ran the calling page on its own, run app.py instead, then stop the lone run.

    app.py registers the real navigation (which ends the legacy mode for the whole server) and runs
    this page inside its frame.
    """
    if getattr(_inside, "active", False):
        return
    runpy.run_path(str(APP_ROOT / "app.py"), run_name="__main__")
    st.stop()
