"""Shared fixtures: tiny seeded configs so the suite stays fast on 2 CPU cores."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Tests must never reach for the network: torchvision data sets fail at once instead.
os.environ.setdefault("MULTIGEN_OFFLINE", "1")
# The app's warm-up of the caches (pages/ui/warmup.py) would compete with the tests for the 2 cores; the tests of the
# warm-up turn it on themselves. The servers of the browser tests inherit this.
os.environ.setdefault("MULTIGEN_WARM_UP", "0")
# What the commands measure once per checkpoint (slider directions, kept by multigen.cache) goes to a folder of this
# test run, never to the repository's .cache/ (the pages' tests point the app at folders of their own). Under
# pytest-xdist every worker, and the browser tests' server, share it (its files are written atomically).
os.environ.setdefault("MULTIGEN_CACHE_DIR", tempfile.mkdtemp(prefix="multigen-test-cache-"))

TINY_MODEL = {
    "vae": {"hidden_channels": 4, "hidden_features": 16},
    "cvae": {"hidden_channels": 4, "hidden_features": 16},
    "gan": {},
    "cgan": {},
}


@pytest.fixture
def tiny_training_config(tmp_path):
    """A factory of fast TrainingConfigs writing into a temporary folder."""
    from multigen.training import TrainingConfig

    def make(model: str = "vae", **overrides):
        values = {
            "model": model, "epochs": 1, "batch_size": 64, "seed": 0, "device": "cpu", "out": str(tmp_path / f"{model}.safetensors"),
            "sample_every": 10, "snapshot_points": 100, "eval_samples": 0, "model_config": dict(TINY_MODEL[model]),
        }
        values.update(overrides)
        return TrainingConfig(**values)

    return make


@pytest.fixture(scope="session")
def classifier():
    """The shipped digit classifier (checkpoints/classifier.safetensors) on the CPU: the metrics' instrument."""
    from multigen.evaluation import load_classifier

    return load_classifier(device="cpu")


@pytest.fixture(scope="session")
def val():
    """The 500 validation digits of mnist-5k."""
    from multigen.data import load_dataset

    return load_dataset("mnist-5k", "val")


@pytest.fixture(scope="session")
def small_mnist(tmp_path_factory):
    """A 900 / 100 digit "mnist" data folder of real digits, written as torchvision's IDX files.

    GAN tests train on it: a DCGAN epoch over mnist-5k's 4,500 digits takes 20-30 s on 2 cores; with a
    batch of 100 this gives the same 9 steps an epoch as mnist-5k with a batch of 500, on a fifth of the work.
    Returns the TrainingConfig fields that select it.
    """
    from multigen.data import load_dataset, subset, write_idx

    root = tmp_path_factory.mktemp("small-mnist")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, split, n in (("train", "train", 900), ("t10k", "val", 100)):
        digits = subset(load_dataset("mnist-5k", split), n, seed=0)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", (digits.images[:, 0] * 255).round().byte().numpy())
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", digits.labels.numpy().astype("uint8"))
    return {"dataset": "mnist", "data_dir": str(root)}


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``-n 2``), the browser tests share one worker (one app server, one Chromium)."""
    browser_tests = ROOT / "tests" / "e2e"
    for item in items:
        if Path(item.path).is_relative_to(browser_tests):
            item.add_marker(pytest.mark.xdist_group("browser"))
