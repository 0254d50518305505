"""What every page shares: where checkpoints live, the checkpoint picker, cached models, the training job.

Pages import this module and ``multigen``, never torch. Everything cached with ``st.cache_resource``
is shared by all browser sessions, so models loaded here are used for inference only and the
training job is the one object that holds the app's single training run.

Folders (each overridable through the environment, which the tests use):

- ``MULTIGEN_CHECKPOINT_DIRS``: folders searched for checkpoints, separated by ``os.pathsep``
  (default: ``checkpoints`` and the runs folder next to ``app.py``);
- ``MULTIGEN_RUNS_DIR``: where runs trained in the app are saved (default ``runs``), always searched;
- ``MULTIGEN_CACHE_DIR``: where t-SNE maps are cached on disk (default ``.cache/projections``).
"""

from __future__ import annotations

import json
import math
import os
import runpy
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from multigen.checkpoints import Checkpoint, CheckpointInfo, describe_checkpoint, list_checkpoints, load_checkpoint
from multigen.data import load_dataset, subset
from multigen.device import describe_device, resolve_device, single_threaded
from multigen.errors import MultigenError
from multigen.images import enlarge, png_data_url
from multigen.evaluation.perceptual import COPY_PERCENTILE, TRAINING_DATASET, NearestDigits, nearest_training_digits
from multigen.training import TrainingJob

APP_ROOT = Path(__file__).resolve().parents[1]

# Which model kinds each page can use, and the shipped checkpoint each page opens first.
FAMILIES: dict[str, tuple[str, ...]] = {
    "explorer": ("vae", "cvae"), "generator": ("gan", "cgan"), "writer": ("cvae", "cgan"),
}
PREFERRED: dict[str, tuple[str, ...]] = {
    "explorer": ("vae-2", "vae-16", "cvae"), "generator": ("cgan", "dcgan"), "writer": ("cgan", "cvae"),
}
FAMILY_NAMES = {"explorer": "VAE or CVAE", "generator": "GAN or cGAN", "writer": "CVAE or cGAN"}
PAGE_FILES = {
    "explorer": "pages/latent_explorer.py", "generator": "pages/gan_generator.py", "writer": "pages/write_number.py",
}

# One colour per digit, the same on every map (Plotly's D3 palette, in label order).
DIGIT_COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)
BACKGROUND_GRID = 30  # invisible clickable points per axis, so a click on empty space selects a position
WEBGL_ABOVE = 5000  # maps that do not say draw through WebGL above this many points, else SVG (works everywhere)
# Pictures are sent at their own size and enlarged by the browser: nearest-neighbour, so pixels stay square.
PAGE_STYLE = "<style>[data-testid='stImage'] img { image-rendering: pixelated; }</style>"
MAX_LOSS_POINTS = 2000  # loss rows drawn per curve; longer runs are thinned evenly


# -- folders ----------------------------------------------------------------------------------------
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


def projection_cache_dir() -> Path:
    configured = os.environ.get("MULTIGEN_CACHE_DIR")
    return _resolve(configured) if configured else APP_ROOT / ".cache" / "projections"


def display_path(path: str | Path) -> str:
    """A path relative to the app folder when it lies inside it, else as given."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(APP_ROOT))
    except ValueError:
        return str(path)


# -- checkpoints ------------------------------------------------------------------------------------
def is_run(info: CheckpointInfo) -> bool:
    """True for a checkpoint trained in this app (it lives in the runs folder)."""
    try:
        info.path.resolve().relative_to(runs_dir().resolve())
        return True
    except ValueError:
        return False


def available_checkpoints(family: str | None = None) -> list[CheckpointInfo]:
    """Shipped checkpoints first (preferred ones leading), then runs trained here, newest first.

    Reads headers only, so it is cheap enough to call on every rerun; that is how a run that just
    finished shows up in every picker.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unreadable file is skipped; the picker just lacks it
        found = list_checkpoints(*checkpoint_dirs(), recursive=False)  # not runs/<subfolder>/ work files
    if family is not None:
        found = [info for info in found if info.kind in FAMILIES[family]]
    preferred = PREFERRED.get(family or "", ())

    def order(info: CheckpointInfo) -> tuple:
        if is_run(info):
            return (1, 0, -info.path.stat().st_mtime, str(info.path))
        rank = preferred.index(info.path.stem) if info.path.stem in preferred else len(preferred)
        return (0, rank, 0.0, str(info.path))

    return sorted(found, key=order)


def checkpoint_label(info: CheckpointInfo) -> str:
    """``vae-2 — VAE, latent 2, epoch 30, mnist-5k`` (``run ·`` in front of runs trained here)."""
    prefix = "run · " if is_run(info) else ""
    return f"{prefix}{info.path.stem} — {describe_checkpoint(info.metadata)}"


def picker_key(family: str) -> str:
    return f"checkpoint_{family}"


def checkpoint_picker(family: str) -> CheckpointInfo | None:
    """The sidebar's checkpoint picker for a page family; the choice is kept per user session."""
    infos = available_checkpoints(family)
    if not infos:
        st.caption(f"No {FAMILY_NAMES[family]} checkpoint yet.")
        return None
    by_path = {str(info.path): info for info in infos}
    key = picker_key(family)
    if st.session_state.get(key) not in by_path:  # first visit, or the picked file went away
        st.session_state[key] = next(iter(by_path))
    chosen = st.selectbox(
        "Checkpoint",
        list(by_path),
        format_func=lambda path: checkpoint_label(by_path[path]),
        key=key,
        help="The shipped models, then every run trained on the Train page (newest first).",
        persist_state="session",
    )
    return by_path.get(chosen)


def selected_checkpoint(family: str) -> CheckpointInfo | None:
    """The checkpoint this user picked for a page family (the first available one by default)."""
    infos = available_checkpoints(family)
    chosen = st.session_state.get(picker_key(family))
    for info in infos:
        if str(info.path) == chosen:
            return info
    return infos[0] if infos else None


# -- the shared sidebar -----------------------------------------------------------------------------
_shell = threading.local()  # per script thread: is app.py running the current page?


def draw_sidebar(family: str | None) -> None:
    """The sidebar every page shares: the checkpoint picker for the page's kind of model, and the device."""
    with st.sidebar:
        st.markdown("### multigen")
        st.caption("A latent-space lab for GANs and VAEs on handwritten digits.")
        if family is not None:
            checkpoint_picker(family)
        else:
            runs = [info for info in available_checkpoints() if is_run(info)]
            st.caption(
                f"Runs trained here are saved in `{display_path(runs_dir())}` ({len(runs)} so far) and appear "
                "in the checkpoint pickers of the other pages."
            )
        if training_job().state().active:
            st.caption("A training run is going on: see the Train page.")
        st.caption(f"Device: {device_description()}")


@contextmanager
def shell() -> Iterator[None]:
    """Mark that app.py is running the current page (it has drawn the page config and the sidebar)."""
    _shell.active = True
    try:
        # Pages run inference on a few vectors at a time: one torch thread answers fastest and
        # leaves the other cores to a training run (see multigen.device.single_threaded).
        with single_threaded():
            yield
    finally:
        _shell.active = False


def run_inside_app() -> None:
    """Run the calling page through app.py when Streamlit ran the page file on its own.

    Streamlit treats a folder named ``pages/`` next to the entrypoint as a legacy multipage folder
    until the entrypoint calls ``st.navigation``. So the first request of a fresh server to a page
    URL (``/train`` from a bookmark) runs the page script alone, without app.py's page config,
    sidebar and navigation, and the server stays in that mode; ``AppTest.switch_page`` does the
    same on every run. Running app.py here registers the real navigation (which ends that mode for
    the server) and runs this page inside it; then the stand-alone run stops.
    """
    if getattr(_shell, "active", False):
        return
    runpy.run_path(str(APP_ROOT / "app.py"), run_name="__main__")
    st.stop()


# -- models -----------------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def inference_device() -> str:
    """The device models run on: resolved once per process (``auto``: CUDA, then MPS, then CPU)."""
    return str(resolve_device("auto"))


@st.cache_resource(show_spinner=False)
def device_description() -> str:
    return describe_device(resolve_device(inference_device()))


@st.cache_resource(max_entries=8, show_spinner="Loading the model…")
def _load(path: str, mtime_ns: int, device: str) -> Checkpoint:
    # Shared by every session: callers only run inference on it (the model is in eval mode).
    return load_checkpoint(path, device=device)


def load_model(info: CheckpointInfo) -> Checkpoint:
    """The loaded checkpoint, cached per (path, modification time): a re-saved run is loaded afresh."""
    return _load(str(info.path), info.path.stat().st_mtime_ns, inference_device())


def require_model(family: str) -> tuple[CheckpointInfo, Checkpoint]:
    """The picked checkpoint, loaded; otherwise say why on the page and stop it there."""
    info = selected_checkpoint(family)
    if info is None:
        st.info(
            f"There is no {FAMILY_NAMES[family]} checkpoint yet. Train one on the **Train** page, or put "
            f"shipped checkpoints in `{display_path(checkpoint_dirs()[0])}`."
        )
        st.stop()
    try:
        return info, load_model(info)
    except (MultigenError, OSError) as error:
        st.error(str(error))
        st.stop()


def fingerprint(info: CheckpointInfo | Checkpoint) -> str:
    """What identifies a checkpoint's contents for disk caches: its checksum, else its time and size."""
    metadata = info.metadata
    sha = metadata.get("sha256")
    if isinstance(sha, str) and sha:
        return sha
    stat = Path(info.path).stat()
    return f"{metadata.get('created', '')}-{stat.st_mtime_ns}-{stat.st_size}"


# -- data the pages share (cached; callers treat the arrays as read-only) -------------------------
# st.cache_resource rather than st.cache_data: a whole split's codes hold tens of MB of images, and
# copying them on every click would cost more than the rerun itself.
def _mtime(path: str | Path) -> int:
    return Path(path).stat().st_mtime_ns


def split_size(dataset: str, split: str) -> int:
    """Digits in a split (loads it once per process; ``DatasetUnavailable`` when its files are missing)."""
    return len(load_dataset(dataset, split))


def class_names(dataset: str) -> tuple[str, ...]:
    """The names of a data set's ten classes ("0".."9" for the digits)."""
    return load_dataset(dataset, "val").class_names


def label_text(label: int, names: tuple[str, ...]) -> str:
    """``Digit 7`` for the digits, the class name (``Coat``) for other data sets."""
    name = names[label] if 0 <= label < len(names) else str(label)
    return f"Digit {name}" if name.isdigit() else name


@st.cache_resource(max_entries=6, show_spinner="Encoding the digits…")
def _encoded(path: str, mtime_ns: int, dataset: str, split: str, n_points: int, _checkpoint: Checkpoint):
    from multigen.latent import encode_dataset

    return encode_dataset(_checkpoint.model, subset(load_dataset(dataset, split), n_points))


def encoded(checkpoint: Checkpoint, dataset: str, split: str, n_points: int):
    """``LatentCodes`` of a fixed, seeded, label-stratified sample of ``n_points`` digits of a split."""
    return _encoded(str(checkpoint.path), _mtime(checkpoint.path), dataset, split, n_points, checkpoint)


@st.cache_resource(max_entries=12, show_spinner="Projecting…")
def _projected(path: str, mtime_ns: int, dataset: str, split: str, n_points: int, method: str, _mu: np.ndarray):
    from multigen.latent import project

    return project(_mu, method)


def projected(checkpoint: Checkpoint, dataset: str, split: str, n_points: int, method: str, mu: np.ndarray):
    """The PCA or raw ``Projection`` of those codes (fast, so computed in the rerun and cached)."""
    return _projected(str(checkpoint.path), _mtime(checkpoint.path), dataset, split, n_points, method, mu)


@st.cache_data(max_entries=32, show_spinner=False)
def _manifold(path: str, mtime_ns: int, x_range: tuple, y_range: tuple, n: int, label: int | None,
              _checkpoint: Checkpoint) -> np.ndarray:
    from multigen.latent import manifold_grid

    return manifold_grid(_checkpoint.model, x_range, y_range, n, labels=label)


def manifold(checkpoint: Checkpoint, x_range, y_range, n: int, label: int | None) -> np.ndarray:
    """The decoded n x n grid over a 2-D latent range (cached)."""
    x_range = tuple(round(float(v), 6) for v in x_range)
    y_range = tuple(round(float(v), 6) for v in y_range)
    return _manifold(str(checkpoint.path), _mtime(checkpoint.path), x_range, y_range, n, label, checkpoint)


@st.cache_data(max_entries=16, show_spinner="Finding the slider directions…")
def _directions(path: str, mtime_ns: int, k: int, _checkpoint: Checkpoint) -> np.ndarray:
    from multigen.explore.noise import slider_directions

    return slider_directions(_checkpoint.model, k)


def slider_directions(checkpoint: Checkpoint, k: int) -> np.ndarray:
    """The GAN's k GANSpace directions (computed once per checkpoint)."""
    return _directions(str(checkpoint.path), _mtime(checkpoint.path), k, checkpoint)


def nearest_training(checkpoint: Checkpoint, images: np.ndarray, k: int) -> NearestDigits:
    """The ``k`` nearest training digits of each image, with its copy threshold (``multigen.perceptual``).

    Raises ``MultigenError`` when the model was trained on another data set than the one searched, or
    when the digit classifier is missing; the pages show that as a line and draw everything else.
    """
    return nearest_training_digits(images, k=k, trained_on=checkpoint.metadata.get("dataset"))


def copy_check_note() -> str:
    """What the distances to the nearest training digits mean, for the caption under them."""
    return (
        f"Perceptual distances to the training digits of {TRAINING_DATASET} (0: the same picture; LPIPS-style, on "
        f"the digit classifier). A digit is a possible copy when it is closer to a training digit than all but "
        f"{COPY_PERCENTILE:g}% of real digits that no model saw are to one of their kind."
    )


def visible_range(points: np.ndarray, pad: float = 0.05) -> tuple[tuple[float, float], tuple[float, float]]:
    """The x and y extent of 2-D points, padded by ``pad`` of their spread on each side."""
    points = np.asarray(points, dtype=np.float64)
    low, high = points.min(0), points.max(0)
    margin = np.maximum((high - low) * pad, 1e-3)
    x_range = (float(low[0] - margin[0]), float(high[0] + margin[0]))
    y_range = (float(low[1] - margin[1]), float(high[1] + margin[1]))
    return x_range, y_range


def nearest_row(points: np.ndarray, xy) -> int:
    """The row of the projected point nearest to a position."""
    return int(np.argmin(((np.asarray(points) - np.asarray(xy, dtype=np.float32)) ** 2).sum(axis=1)))


@dataclass
class Clicked:
    """What a chart selection means: one pick (a dot or a position), or a region (box or lasso)."""

    pick: dict[str, Any] | None = None  # {"row": int} or {"xy": [x, y]}
    region: dict[str, Any] | None = None  # {"rows": [int, ...], "box": ((x0, x1), (y0, y1)) | None}


def _row_of(point: dict[str, Any]) -> int | None:
    data = point.get("customdata")
    if isinstance(data, (list, tuple)):
        data = data[0] if data else None
    elif isinstance(data, dict):  # a typed array from plotly.js arrives as {"0": row, "1": label}
        data = data.get("0", data.get(0))
    try:
        return None if data is None else int(data)
    except (TypeError, ValueError):
        return None


def read_selection(selection: dict[str, Any], points: np.ndarray) -> Clicked:
    """Turn a ``st.plotly_chart`` selection into picks, by each point's ``customdata`` row.

    Rows come from ``customdata`` (never from trace-local indices: every digit has its own trace);
    -1 marks the invisible background grid, whose x and y are the clicked position.
    """
    chosen = selection.get("points") or []
    boxes, lassos = selection.get("box") or [], selection.get("lasso") or []
    rows, positions = [], []
    for point in chosen:
        row = _row_of(point)
        if row is None:
            continue
        if 0 <= row < len(points):
            rows.append(row)
        elif row < 0 and point.get("x") is not None and point.get("y") is not None:
            positions.append([float(point["x"]), float(point["y"])])
    if boxes or lassos or len(chosen) > 1:
        box = None
        for drawn in boxes:
            xs, ys = drawn.get("x") or [], drawn.get("y") or []
            if len(xs) >= 2 and len(ys) >= 2:
                box = ((float(min(xs)), float(max(xs))), (float(min(ys)), float(max(ys))))
        return Clicked(region={"rows": sorted(set(rows)), "box": box})
    if rows:
        return Clicked(pick={"row": rows[0]})
    if positions:
        return Clicked(pick={"xy": positions[0]})
    return Clicked()


# -- shared objects ---------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def training_job() -> TrainingJob:
    """The app's one training job, shared by every browser tab: a second tab sees the same run."""
    return TrainingJob()


@st.cache_resource(show_spinner=False)
def projection_jobs():
    """Background t-SNE runs, cached on disk and shared by every session."""
    from multigen.latent import ProjectionJobs

    return ProjectionJobs(projection_cache_dir())


# -- drawing helpers --------------------------------------------------------------------------------
def picture(image: np.ndarray, factor: int = 8) -> np.ndarray:
    """A digit or grid enlarged with nearest-neighbour upscaling, so it stays crisp on screen."""
    return enlarge(np.asarray(image, dtype=np.uint8), factor)


def show_picture(image: np.ndarray, *, factor: int = 8, caption: str | None = None, container: Any = st) -> None:
    """Draw a uint8 picture ``factor`` times its size, crisp.

    The picture travels inside the page as a small PNG data URL (no second request, which would wait
    behind the rest of a busy script run) and the browser enlarges it without smoothing (PAGE_STYLE).
    """
    image = np.asarray(image, dtype=np.uint8)
    container.image(picture_url(image), caption=caption, width=image.shape[1] * factor)


@st.cache_data(max_entries=256, show_spinner=False)
def picture_url(image: np.ndarray) -> str:
    """``image`` as a PNG data URL, encoded once: most pictures of a page stay the same from click to click."""
    return png_data_url(image)


def latent_map_figure(
    points: np.ndarray,
    labels: np.ndarray,
    *,
    class_names: tuple[str, ...] | None = None,
    rows: np.ndarray | None = None,
    clickable_background: bool = False,
    height: int = 560,
    axis_titles: tuple[str, str] = ("", ""),
    webgl: bool | None = None,
) -> go.Figure:
    """A scatter of 2-D points, one trace per label (so the legend lists the digits in order).

    Every point carries ``customdata = row``: its row in the page's arrays, whatever trace it falls
    in; each trace's ``meta`` is its label. With ``clickable_background``, an invisible grid of points
    (``customdata = -1``) covers the plot so a click on empty space selects a position too. Rows travel
    as one typed array per trace (numpy, base64 in the figure's JSON), not as thousands of small lists
    that plotly.js would copy and compare on every selection. ``webgl`` draws through WebGL (fast, one
    canvas) or SVG (one element per dot, works without WebGL); None picks WebGL above WEBGL_ABOVE points.
    """
    points = np.asarray(points, dtype=np.float32)
    labels = np.asarray(labels).astype(np.int64)
    rows = np.arange(len(points)) if rows is None else np.asarray(rows)
    names = class_names or tuple(str(d) for d in range(10))
    scatter = go.Scattergl if (len(points) > WEBGL_ABOVE if webgl is None else webgl) else go.Scatter
    figure = go.Figure()
    if clickable_background and len(points):
        low, high = points.min(0), points.max(0)
        pad = np.maximum((high - low) * 0.05, 1e-3)
        xs = np.linspace(low[0] - pad[0], high[0] + pad[0], BACKGROUND_GRID)
        ys = np.linspace(low[1] - pad[1], high[1] + pad[1], BACKGROUND_GRID)
        gx, gy = np.meshgrid(xs, ys)
        figure.add_trace(
            scatter(
                x=gx.ravel(), y=gy.ravel(), mode="markers", name="empty space",
                marker={"size": 10, "opacity": 0, "color": "#000000"},
                customdata=np.full(gx.size, -1, dtype=np.int32), hoverinfo="none", showlegend=False,
            )
        )
    for label in range(10):
        mask = labels == label
        if not mask.any():
            continue
        name = names[label] if label < len(names) else str(label)
        figure.add_trace(
            scatter(
                x=points[mask, 0], y=points[mask, 1], mode="markers", name=name,
                marker={"size": 6, "color": DIGIT_COLORS[label], "opacity": 0.85, "line": {"width": 0}},
                customdata=rows[mask].astype(np.int32), meta=label,
                hovertemplate=f"<b>{name}</b><br>row %{{customdata}}<extra></extra>",
            )
        )
    legend = {"title": "digit" if names[0].isdigit() else "class", "itemsizing": "constant"}
    figure.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend=legend, hovermode="closest",
        plot_bgcolor="#fafafa", xaxis_title=axis_titles[0], yaxis_title=axis_titles[1],
    )
    return figure


def thin(rows: list[dict[str, float]], limit: int = MAX_LOSS_POINTS) -> list[dict[str, float]]:
    """At most ``limit`` rows, evenly spaced, always keeping the last one."""
    if len(rows) <= limit:
        return rows
    stride = math.ceil(len(rows) / limit)
    kept = rows[::stride]
    return kept if kept[-1] is rows[-1] else [*kept, rows[-1]]


def loss_figure(rows: list[dict[str, float]], *, height: int = 320) -> go.Figure | None:
    """Loss curves by step (thinned to MAX_LOSS_POINTS); scores in [0, 1] go on a second axis."""
    rows = thin(rows)
    if not rows:
        return None
    steps = [row["step"] for row in rows]
    names = [name for name in rows[-1] if name != "step"]
    figure = go.Figure()
    for name in names:
        score = name.endswith("_score")
        figure.add_trace(
            go.Scatter(
                x=steps, y=[row.get(name) for row in rows], mode="lines", name=name.replace("_", " "),
                yaxis="y2" if score else "y", line={"dash": "dot" if score else "solid", "width": 1.6},
            )
        )
    layout: dict[str, Any] = {
        "height": height, "margin": {"l": 10, "r": 10, "t": 30, "b": 10}, "xaxis_title": "step", "yaxis_title": "loss",
        "legend": {"orientation": "h", "y": 1.12}, "hovermode": "x unified",
    }
    if any(name.endswith("_score") for name in names):
        layout["yaxis2"] = {"title": "D score", "overlaying": "y", "side": "right", "range": [0, 1], "showgrid": False}
    figure.update_layout(**layout)
    return figure


def format_seconds(seconds: float) -> str:
    """``1 h 02 min``, ``3 min 05 s`` or ``12 s``; ``…`` while unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "…"
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


def epoch_metrics_figure(rows: list[dict[str, Any]], *, height: int = 280) -> go.Figure | None:
    """FID and Inception Score by epoch (IS on a second axis), or None when the run logged none."""
    rows = [row for row in rows if "fid" in row]
    if not rows:
        return None
    epochs = [row["epoch"] for row in rows]
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=epochs, y=[row["fid"] for row in rows], mode="lines+markers", name="FID"))
    figure.add_trace(
        go.Scatter(x=epochs, y=[row.get("inception_score") for row in rows], mode="lines+markers",
                   name="Inception Score", yaxis="y2", line={"dash": "dot"})
    )
    figure.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10}, xaxis_title="epoch",
        yaxis={"title": "FID"}, yaxis2={"title": "IS", "overlaying": "y", "side": "right", "range": [1, 10]},
        legend={"orientation": "h", "y": 1.12},
    )
    return figure


def recipe_downloads(
    png: bytes, recipe: dict[str, Any], name: str, *, keys: tuple[str, str], what: str, recipe_help: str,
    scale: int, columns: Any,
) -> None:
    """The "Download PNG" / "Download recipe" pair: the picture with its recipe inside, and the recipe alone."""
    png_column, json_column = columns
    png_column.download_button(
        "Download PNG", png, file_name=f"{name}.png", mime="image/png", key=keys[0], on_click="ignore",
        icon=":material/image:", help=f"The {what} enlarged {scale}x, with its recipe inside the file.",
    )
    json_column.download_button(
        "Download recipe", json.dumps(recipe, indent=2), file_name=f"{name}.json", mime="application/json",
        key=keys[1], on_click="ignore", icon=":material/data_object:", help=recipe_help,
    )
