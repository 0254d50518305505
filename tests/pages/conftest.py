"""Fixtures of the page tests: tiny checkpoints the app is pointed at, the shipped ones, and a way to wait
on the training job's own progress instead of the clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from app_driver import SHIPPED

from multigen.checkpoints import save_checkpoint
from multigen.models import build_model
from multigen.training import JobState

TINY_VAE = {"hidden_channels": 4, "hidden_features": 16}


@pytest.fixture(scope="session")
def _page_files(tmp_path_factory):
    return tmp_path_factory.mktemp("static-models"), tmp_path_factory.mktemp("static-rows")


@pytest.fixture(autouse=True)
def own_served_files(_page_files, monkeypatch):
    """The page tests' ONNX exports and map rows go to folders of their own, not to the app's static/ (which the
    browser tests' server serves from, on another pytest-xdist worker: pruning there would delete its files)."""
    from pages.ui import folders, live_digit, picture_panel

    models, rows = _page_files
    monkeypatch.setattr(folders, "EXPORTED_MODELS", models)
    monkeypatch.setattr(live_digit, "EXPORTED_MODELS", models)
    monkeypatch.setattr(picture_panel, "ROWS_DIR", rows)


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory):
    """Untrained vae-2, cvae, dcgan and cgan checkpoints: the pages only need models of the right shape."""
    folder = tmp_path_factory.mktemp("checkpoints")
    models = {
        "vae-2": ("vae", {**TINY_VAE, "latent_dim": 2}), "cvae": ("cvae", {**TINY_VAE, "latent_dim": 4}),
        "dcgan": ("gan", {"noise_dim": 16}), "cgan": ("cgan", {"noise_dim": 16}),
    }
    for name, (kind, config) in models.items():
        torch.manual_seed(0)
        save_checkpoint(folder / f"{name}.safetensors", build_model(kind, config).eval(),
                        metadata={"dataset": "mnist-5k", "epoch": 0, "step": 0})
    return folder


@pytest.fixture(scope="module")
def app_env(tiny_checkpoints, tmp_path_factory):
    """Point the app at the tiny checkpoints and at temporary runs and cache folders."""
    runs, cache = tmp_path_factory.mktemp("runs"), tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MULTIGEN_CHECKPOINT_DIRS", str(tiny_checkpoints))
        patch.setenv("MULTIGEN_RUNS_DIR", str(runs))
        patch.setenv("MULTIGEN_CACHE_DIR", str(cache))
        patch.setenv("MULTIGEN_OFFLINE", "1")
        yield {"checkpoints": tiny_checkpoints, "runs": runs, "cache": cache}


@pytest.fixture
def shipped_env(tmp_path, monkeypatch):
    """Point the app at the shipped checkpoints in ``checkpoints/``. Their disk caches stay in the test run's own
    folder (tests/conftest.py), as a user's stay in ``.cache/``: what is measured once per checkpoint (the sliders'
    calibrated directions, seconds each) is measured once per run, not once per test."""
    monkeypatch.setenv("MULTIGEN_CHECKPOINT_DIRS", str(SHIPPED))
    monkeypatch.setenv("MULTIGEN_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("MULTIGEN_OFFLINE", "1")


@pytest.fixture
def training_progress() -> Callable[[Callable[[JobState], bool], float], bool]:
    """``until(condition, timeout)``: wait until the app's training job reaches a state (``TrainingJob.wait_until``,
    woken by each event the job takes in), True as soon as ``condition(state)`` holds, False after ``timeout`` s."""
    from pages.ui.loaders import training_job

    return lambda condition, timeout: training_job().wait_until(condition, timeout)
