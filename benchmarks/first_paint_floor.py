"""What a first visit costs before any of multigen's code runs: Streamlit's own floor on this machine.

A scratch app with nothing but a title and a five-row ``st.dataframe`` (the Compare page's first content, at its
smallest) is served by ``streamlit run`` and opened in headless Chromium the moment its health check answers, as
``ui_latency.py --first-visit`` opens the app. The time runs from navigation until the title, then the table, is in
the page. Variants, each on a fresh server, in turn (``--runs`` rounds, median and worst):

- **alone**: the bare page;
- **torch imported beside it**: a thread of the server imports torch as the server starts, as multigen's warm-up
  does (``pages/ui/warmup.py``): its CPU and the GIL, beside the browser's loading;
- **torch imported in another process**: the same import's CPU without the GIL;
- **a Plotly chart after the table**: what the Compare page's curves did until 2026-12-05;
- **the chart once the table is drawn**: held back by ``pages/ui/when_drawn.py``, as the Compare page now does.

    python benchmarks/first_paint_floor.py --runs 5

Read the app's first-visit figures against these: a page cannot show its table sooner than the bare page does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import VIEWPORT, launch_chromium, start_app

APP = '''
import os, subprocess, sys, threading
from contextlib import asynccontextmanager
from pathlib import Path

import streamlit as st

VARIANT = os.environ["FLOOR_VARIANT"]
if __name__ != "__main__":  # the server: its start-up hook
    @asynccontextmanager
    async def at_server_start(_app):
        if VARIANT == "torch in the server":
            threading.Thread(target=lambda: __import__("torch"), daemon=True).start()
        elif VARIANT == "torch in another process":
            subprocess.Popen([sys.executable, "-c", "import torch"])
        yield

    app = st.App(__file__, lifespan=at_server_start)
else:
    st.title("Compare")
    st.dataframe([{"checkpoint": f"model {i}", "FID": 3.0 + i, "IS": 9.0 - i} for i in range(5)])
    if VARIANT == "chart after the table":
        import plotly.graph_objects as go
        st.plotly_chart(go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 3, 2])))
    elif VARIANT == "chart once the table is drawn":
        from pages.ui.when_drawn import drawn  # the repository is on PYTHONPATH (start_app)
        if drawn("[data-testid=stDataFrame]", key="floor_table_drawn"):
            import plotly.graph_objects as go
            st.plotly_chart(go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 3, 2])))
'''
VARIANTS = (
    ("alone", "alone"),
    ("torch in the server", "torch imported beside it (a thread of the server)"),
    ("torch in another process", "torch imported in another process"),
    ("chart after the table", "a Plotly chart after the table"),
    ("chart once the table is drawn", "the chart once the table is drawn (when_drawn)"),
)


def visit(chromium, app: Path, variant: str) -> tuple[float, float]:
    """Seconds from navigation to the title and to the table, on a server of ``variant`` started just before."""
    with tempfile.TemporaryDirectory(prefix="multigen-floor-server-") as scratch:
        server = start_app([], Path(scratch), env={"FLOOR_VARIANT": variant}, script=app)
        try:
            context = chromium.new_context(viewport=VIEWPORT)
            try:
                page = context.new_page()
                started = time.perf_counter()
                page.goto(server.base_url)
                page.wait_for_selector("h1")
                title = time.perf_counter() - started
                page.wait_for_selector("[data-testid=stDataFrame]")
                return title, time.perf_counter() - started
            finally:
                context.close()
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds of every variant (each on a fresh server)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    times: dict[str, list[tuple[float, float]]] = {variant: [] for variant, _ in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="multigen-floor-") as scratch, sync_playwright() as playwright:
        app = Path(scratch) / "floor_app.py"
        app.write_text(APP, encoding="utf-8")
        chromium = launch_chromium(playwright)
        try:
            for run in range(args.runs):
                for variant, _ in VARIANTS:  # interleaved: the machine's drift falls on every variant alike
                    times[variant].append(visit(chromium, app, variant))
                    title, table = times[variant][-1]
                    print(f"  run {run + 1}, {variant}: title {title:.2f} s, table {table:.2f} s", file=sys.stderr)
        finally:
            chromium.close()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; median (worst) of {args.runs}, seconds")
    print(f"{'variant':<52} {'title':>13} {'table':>13}")
    for variant, label in VARIANTS:
        titles, tables = zip(*times[variant])
        print(f"{label:<52} {statistics.median(titles):6.2f} ({max(titles):4.2f}) "
              f"{statistics.median(tables):6.2f} ({max(tables):4.2f})")


if __name__ == "__main__":
    main()
