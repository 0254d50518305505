"""The real app in a real browser: one Streamlit server per test session, Chromium driven by Playwright.

The server runs ``streamlit run app.py`` from the repository root on a free port, with the shipped
checkpoints when ``checkpoints/`` has them (that is what a user sees) and tiny stand-ins otherwise;
runs trained by the tests and t-SNE caches go to a temporary folder. Chromium is the system one
(``/usr/bin/chromium``): ``playwright install`` needs the network, which CI does not have.

Without Playwright or Chromium the browser tests skip, unless ``MULTIGEN_REQUIRE_BROWSER=1`` (CI
sets it): then they fail, so a broken CI image cannot pass by skipping them.

``benchmarks/ui_latency.py`` imports the helpers below (``start_app``, ``launch_chromium``, ...).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CHECKPOINTS = ROOT / "checkpoints"
CHROMIUM = Path(os.environ.get("MULTIGEN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 1000}  # wide enough for the pages' side-by-side columns
BOOT_TIMEOUT_S = 60.0  # until /_stcore/health answers "ok"
FIRST_RENDER_TIMEOUT_MS = 90_000  # a page's first run loads torch models on 2 busy cores
ACTION_TIMEOUT_MS = 30_000  # any later wait: a rerun, a redraw, a click


# -- helpers ----------------------------------------------------------------------------------------
def browser_required() -> bool:
    """True when a missing browser must fail the tests instead of skipping them (CI)."""
    return os.environ.get("MULTIGEN_REQUIRE_BROWSER", "").strip() not in ("", "0", "false", "no")


def unavailable(reason: str) -> None:
    """Skip with ``reason``, or fail with it when the browser tests are required."""
    if browser_required():
        pytest.fail(f"{reason} (MULTIGEN_REQUIRE_BROWSER=1, so the browser tests may not skip)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def families() -> dict[str, tuple[str, ...]]:
    """The pages that need a checkpoint to show anything (explorer, generator), with the kinds each takes."""
    from pages.ui.site import page

    return {key: page(key).kinds for key in ("explorer", "generator")}


def shipped_families(folder: Path = SHIPPED_CHECKPOINTS) -> set[str]:
    """The pages (explorer, generator) that the shipped checkpoints cover."""
    from multigen.checkpoints import list_checkpoints

    kinds = {info.kind for info in list_checkpoints(folder)} if folder.is_dir() else set()
    return {family for family, family_kinds in families().items() if kinds & set(family_kinds)}


def make_stand_ins(folder: Path, families: set[str]) -> None:
    """Tiny untrained checkpoints for the families the shipped folder lacks, named like the shipped ones.

    Seeded and untrained, so they cost a second instead of a training run (a GAN epoch takes about
    40 s on 2 cores): the tests only need a map of distinct dots and pictures that change with the
    inputs, which random weights give too.
    """
    import torch

    from multigen.checkpoints import save_checkpoint
    from multigen.models import build_model

    stand_ins = {"explorer": ("vae-2", "vae", {"latent_dim": 2, "hidden_channels": 8, "hidden_features": 32}),
                 "generator": ("dcgan", "gan", {})}
    folder.mkdir(parents=True, exist_ok=True)
    for family in sorted(families):
        name, kind, config = stand_ins[family]
        torch.manual_seed(0)
        save_checkpoint(folder / f"{name}.safetensors", build_model(kind, config),
                        metadata={"dataset": "mnist-5k", "epoch": 0, "step": 0})


def checkpoint_folders(scratch: Path) -> list[Path]:
    """The shipped checkpoints folder, plus a folder of stand-ins for any family it lacks."""
    missing = set(families()) - shipped_families()
    folders = [SHIPPED_CHECKPOINTS] if SHIPPED_CHECKPOINTS.is_dir() else []
    if missing:
        make_stand_ins(scratch / "stand-ins", missing)
        folders.append(scratch / "stand-ins")
    return folders


@dataclass
class AppServer:
    """A running ``streamlit run app.py``; ``url(path)`` addresses one of its pages."""

    process: subprocess.Popen
    port: int
    runs_dir: Path
    log_path: Path
    checkpoint_dirs: list[Path] = field(default_factory=list)
    booted_s: float = 0.0  # seconds from the command until the health check answered

    @property
    def base_url(self) -> str:
        return f"http://localhost:{self.port}"

    def url(self, path: str = "") -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's output, for error messages."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no server log)"

    def served_checkpoint(self, address: str) -> Path:
        """The checkpoint behind an ONNX file this app serves (``app/static/models/NAME``): the one of its folders
        whose weights the file was exported from (exports are shared by checkpoints of the same weights, so the
        name it records may be another file's; older exports, without the weights' checksum, by that name)."""
        from multigen.cache import weights_sha256
        from multigen.export import read_onnx_metadata

        served = self.checkpoint_dirs[0].parent / "static" / "models" / address.rsplit("/", 1)[1]
        description = read_onnx_metadata(served)
        candidates = [path for folder in self.checkpoint_dirs for path in sorted(folder.glob("*.safetensors"))]
        if "weights_sha256" in description:
            return next(path for path in candidates if weights_sha256(path) == description["weights_sha256"])
        return next(path for path in candidates if path.name == description["checkpoint"])

    def stop(self) -> None:
        """Terminate the server (kill it if it does not exit within 10 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except (urllib.error.URLError, OSError):
        return False


def start_app(
    checkpoint_dirs: list[Path], scratch: Path, *, timeout: float = BOOT_TIMEOUT_S, env: dict[str, str] | None = None,
    script: Path = ROOT / "app.py",
) -> AppServer:
    """Start the app (or another Streamlit ``script``, as benchmarks/first_paint_floor.py does) on a free port and wait
    until its health check answers "ok".

    Runs trained in the app go to ``scratch/runs`` and the disk caches to ``scratch/cache``, so the
    repository's own folders stay untouched (but for ``static/models``, the exports the pages serve). ``env``
    adds environment variables (the tests turn the warm-up off: ``MULTIGEN_WARM_UP=0`` in tests/conftest.py).
    """
    scratch.mkdir(parents=True, exist_ok=True)
    runs_dir = scratch / "runs"
    port = free_port()
    extra, env = env, dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        MULTIGEN_OFFLINE="1",
        MULTIGEN_CHECKPOINT_DIRS=os.pathsep.join(str(folder) for folder in checkpoint_dirs),
        MULTIGEN_RUNS_DIR=str(runs_dir),
        MULTIGEN_CACHE_DIR=str(scratch / "cache"),
        STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
    )
    env.update(extra or {})
    log_path = scratch / "streamlit.log"
    command = [
        sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
        "--server.headless", "true", "--server.fileWatcherType", "none",
    ]
    began = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = AppServer(process, port, runs_dir, log_path, list(checkpoint_dirs))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}:\n{server.log_tail()}")
        if _healthy(server.url("_stcore/health")):
            server.booted_s = time.monotonic() - began
            return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"streamlit did not answer its health check within {timeout:.0f} s:\n{server.log_tail()}")


def launch_chromium(playwright: Any) -> Any:
    """The system Chromium, headless, through Playwright."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


# -- fixtures -----------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session (skips, or fails under MULTIGEN_REQUIRE_BROWSER=1, without it)."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        unavailable("Playwright is not installed: `pip install playwright` (the browser itself is the system Chromium)")
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"No Chromium at {CHROMIUM}: `apt-get install chromium` (or set MULTIGEN_CHROMIUM)")
    expect.set_options(timeout=ACTION_TIMEOUT_MS)
    with sync_playwright() as playwright:
        try:
            chromium = launch_chromium(playwright)
        except PlaywrightError as error:
            unavailable(f"Chromium at {CHROMIUM} does not start: {str(error).splitlines()[0]}")
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory) -> Iterator[AppServer]:
    """The app, served once for the whole session and always terminated at its end."""
    scratch = tmp_path_factory.mktemp("e2e")
    # The disk caches of the test run (tests/conftest.py), which the pages' tests read too: what is measured once per
    # shipped checkpoint (its calibrated slider directions, seconds each) is measured once per run.
    server = start_app(checkpoint_folders(scratch), scratch, env={"MULTIGEN_CACHE_DIR": os.environ["MULTIGEN_CACHE_DIR"]})
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def context(browser, app_server) -> Iterator[Any]:
    """A fresh browser context (its own cookies and tabs, so its own Streamlit sessions) per test."""
    context = browser.new_context(viewport=VIEWPORT, base_url=app_server.base_url)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


# Counts the script runs that have ended in a tab (``window.__multigenRuns``): "idle" right after a click can be the
# moment before the click's run has started, which tests then take for its end. A record's old value tells, as the
# attribute can have gone from running to idle again before the observer is called.
COUNT_RUNS = """window.__multigenRuns = 0;
new MutationObserver(records => {
    for (const record of records) if (record.oldValue === 'running') window.__multigenRuns += 1;
}).observe(document, {attributes: true, attributeOldValue: true, subtree: true,
                      attributeFilter: ['data-test-script-state']});"""


@pytest.fixture
def page(context) -> Any:
    """A fresh tab for one test (its script runs counted: COUNT_RUNS)."""
    context.add_init_script(COUNT_RUNS)
    return context.new_page()
