"""Where the app finds checkpoints and keeps its runs and caches (each folder overridable through the
environment, which the tests use):

- ``MULTIGEN_CHECKPOINT_DIRS``: folders searched for checkpoints, separated by ``os.pathsep``
  (default: ``checkpoints`` next to ``app.py``), plus the runs folder, always;
- ``MULTIGEN_RUNS_DIR``: where runs trained in the app are saved (default ``runs``);
- ``MULTIGEN_CACHE_DIR``: the disk caches (default ``.cache`` next to ``app.py``): t-SNE maps in ``projections/``,
  and encodings, directions and evaluations (``multigen.cache``) in folders of their own. Deleting it clears them.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_ROOT = Path(__file__).resolve().parents[2]
# The ONNX exports the pages run in the browser, named by the checkpoint's weights; served by Streamlit's static file
# serving, so it is a fixed folder of the app (static/), not one of the caches below.
EXPORTED_MODELS = APP_ROOT / "static" / "models"


def _resolve(folder: str | Path) -> Path:
    path = Path(folder).expanduser()
    return path if path.is_absolute() else (Path.cwd() / path)


def runs_dir() -> Path:
    """Where runs trained in the app are saved."""
    configured = os.environ.get("MULTIGEN_RUNS_DIR")
    return _resolve(configured) if configured else APP_ROOT / "runs"


def checkpoint_dirs() -> list[Path]:
    """The folders searched for checkpoints: the configured (or shipped) ones plus the runs folder."""
    configured = os.environ.get("MULTIGEN_CHECKPOINT_DIRS")
    if configured:
        folders = [_resolve(part) for part in configured.split(os.pathsep) if part.strip()]
    else:
        folders = [APP_ROOT / "checkpoints"]
    runs = runs_dir()
    if runs not in folders:
        folders.append(runs)
    return folders


def cache_dir() -> Path:
    """The folder of the app's disk caches (``multigen.cache``'s folders, and ``projections/``)."""
    configured = os.environ.get("MULTIGEN_CACHE_DIR")
    return _resolve(configured) if configured else APP_ROOT / ".cache"


def projection_cache_dir() -> Path:
    """Where background t-SNE maps are cached."""
    return cache_dir() / "projections"


def display_path(path: str | Path) -> str:
    """A path relative to the app folder when it lies inside it, else as given."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(APP_ROOT))
    except ValueError:
        return str(path)
