"""Models, codes, projections and the app's shared jobs, cached with ``st.cache_*``.

Everything cached with ``st.cache_resource`` is shared by all browser sessions: models loaded here are
used for inference only, arrays are read-only, and the training job is the one object that holds the
app's single training run. Caches are keyed by a checkpoint's path and modification time, so a
re-saved run is loaded afresh. ``st.cache_resource`` rather than ``st.cache_data`` for big arrays: a
whole split's codes hold tens of MB of images, and copying them on every click would cost more than
the rerun itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from multigen import cache
from multigen.checkpoints import Checkpoint, CheckpointInfo, load_checkpoint
from multigen.device import describe_device, resolve_device
from multigen.errors import MultigenError
from multigen.explore.latent import LatentCodes, manifold_grid, prior_latents
from multigen.explore.projection import Projection, ProjectionJobs, project, projection_key
from multigen.images import image_grid
from multigen.training import TrainingJob
from pages.ui.checkpoints import fingerprint, selected_checkpoint
from pages.ui.folders import cache_dir, checkpoint_dirs, display_path, projection_cache_dir
from pages.ui.site import Page
from pages.ui.text import plain

TSNE_SEED = 0  # every t-SNE map of the app is seeded alike, so a map is computed once per setting
# What each page shows first, which the warm-up (pages/ui/warmup.py) computes for the shipped checkpoints:
EXPLORER_POINTS = 2_000  # digits on a first latent map (of the first split, "train")
QUICK_POINTS = 5_000  # encoded within a page's run (under a second); a larger map shows these first (see encoded_soon)
GAN_SLIDERS = 10  # direction sliders of the GAN page (fewer when the noise vector is smaller)
EVALUATION_SAMPLES = (1000, 5000)  # the Compare page's sample counts, the first one by default
DEFAULT_PRIOR = "fitted"  # what Compare draws a VAE with a fitted prior from until asked (the warm-up measures it)
GRID_DIGITS = 20  # digits in a checkpoint's sample grid on the Compare page, 10 per row
GRID_SEED = 0


def _mtime(path: str | Path) -> int:
    return Path(path).stat().st_mtime_ns


# -- the device and the models ----------------------------------------------------------------------
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
    """The loaded checkpoint, cached per (path, modification time)."""
    return _load(str(info.path), info.path.stat().st_mtime_ns, inference_device())


def require_model(page: Page) -> tuple[CheckpointInfo, Checkpoint]:
    """The checkpoint picked for ``page``, loaded; otherwise say why on the page and stop it there."""
    info = selected_checkpoint(page)
    if info is None:
        st.info(
            f"There is no {page.models} checkpoint yet. Train one on the **Train** page, or put "
            f"shipped checkpoints in `{display_path(checkpoint_dirs()[0])}`."
        )
        st.stop()
    try:
        return info, load_model(info)
    except (MultigenError, OSError) as error:
        st.error(plain(error))
        st.stop()


# -- the shared jobs --------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def training_job() -> TrainingJob:
    """The app's one training job, shared by every browser tab: a second tab sees the same run."""
    return TrainingJob()


@st.cache_resource(show_spinner=False)
def _projection_jobs(folder: str) -> ProjectionJobs:
    return ProjectionJobs(folder)


def projection_jobs() -> ProjectionJobs:
    """Background t-SNE runs, cached on disk (in ``projection_cache_dir()``) and shared by every session."""
    return _projection_jobs(str(projection_cache_dir()))


def tsne_key(info: CheckpointInfo, split: str, n_points: int, perplexity: float) -> str:
    """The name of the t-SNE map of a checkpoint's codes in ``projection_jobs()``."""
    return projection_key(info.path, fingerprint(info), split, n_points, "tsne", TSNE_SEED, perplexity)


# -- codes and maps of the latent explorer ----------------------------------------------------------
@st.cache_resource(max_entries=6, show_spinner="Encoding the digits…")
def _encoded(path: str, mtime_ns: int, dataset: str, split: str, n_points: int, _checkpoint: Checkpoint):
    return cache.encodings(_checkpoint, dataset, split, n_points, cache_dir=cache_dir())


def encoded(checkpoint: Checkpoint, dataset: str, split: str, n_points: int) -> LatentCodes:
    """``LatentCodes`` of a fixed, seeded, label-stratified sample of ``n_points`` digits of a split (kept on disk
    by ``multigen.cache``, in memory here)."""
    return _encoded(str(checkpoint.path), _mtime(checkpoint.path), dataset, split, n_points, checkpoint)


@st.cache_resource(show_spinner=False)
def encoding_jobs() -> cache.BackgroundJobs:
    """Whole splits encoded in the background for large maps (``encoded_soon``), one at a time, shared by every
    session; each checkpoint's split once per process."""
    return cache.BackgroundJobs("encodings")


def encoded_soon(
    checkpoint: Checkpoint, dataset: str, split: str, n_points: int
) -> tuple[LatentCodes, cache.JobStatus | None]:
    """The codes of the map of ``n_points`` digits and None, when they are on disk or quick to encode
    (``QUICK_POINTS`` or fewer). Else, while the whole split is encoded in the background and kept on disk (every
    size of map is then cut from it, as after the warm-up), the codes of the first ``QUICK_POINTS`` (digits of the
    same seeded sample: ``multigen.data.subset_rows``) and that job's status: the page draws those at once and polls
    the job (tens of thousands of digits take seconds). A job that failed, or whose codes could not be kept (an
    unwritable cache folder), leaves the encoding to this run, as for a small map: its error is the page's."""
    folder = cache_dir()
    if n_points <= QUICK_POINTS or cache.encodings_kept(checkpoint, dataset, split, n_points, cache_dir=folder):
        return encoded(checkpoint, dataset, split, n_points), None

    def encode_the_split() -> None:  # the codes go to disk, not into the job's result: the page reads them back once
        cache.encodings(checkpoint, dataset, split, None, cache_dir=folder)

    status = encoding_jobs().request(_encoding_key(checkpoint, dataset, split), encode_the_split)
    if status.state in ("done", "failed"):
        return encoded(checkpoint, dataset, split, n_points), None
    return encoded(checkpoint, dataset, split, QUICK_POINTS), status


def encoding_status(checkpoint: Checkpoint, dataset: str, split: str) -> cache.JobStatus | None:
    """Where the background encoding of a split that ``encoded_soon`` started stands (None: none was started)."""
    return encoding_jobs().status(_encoding_key(checkpoint, dataset, split))


def _encoding_key(checkpoint: Checkpoint, dataset: str, split: str) -> str:
    return f"{cache.weights_sha256(checkpoint.path)}:{dataset}:{split}:{cache_dir()}"


@st.cache_resource(max_entries=12, show_spinner="Projecting…")
def _projected(path: str, mtime_ns: int, dataset: str, split: str, n_points: int, method: str, _mu: np.ndarray):
    return project(_mu, method)


def projected(
    checkpoint: Checkpoint, dataset: str, split: str, n_points: int, method: str, mu: np.ndarray
) -> Projection:
    """The PCA or raw ``Projection`` of those codes (fast, so computed in the rerun and cached)."""
    return _projected(str(checkpoint.path), _mtime(checkpoint.path), dataset, split, n_points, method, mu)


@st.cache_data(max_entries=32, show_spinner=False)
def _manifold(path: str, mtime_ns: int, x_range: tuple, y_range: tuple, n: int, label: int | None,
              _checkpoint: Checkpoint) -> np.ndarray:
    return manifold_grid(_checkpoint.model, x_range, y_range, n, labels=label)


def manifold(checkpoint: Checkpoint, x_range, y_range, n: int, label: int | None) -> np.ndarray:
    """The decoded n x n grid over a 2-D latent range (cached)."""
    x_range = tuple(round(float(v), 6) for v in x_range)
    y_range = tuple(round(float(v), 6) for v in y_range)
    return _manifold(str(checkpoint.path), _mtime(checkpoint.path), x_range, y_range, n, label, checkpoint)


# -- directions of the GAN and Write pages ----------------------------------------------------------
@st.cache_data(max_entries=16, show_spinner="Finding the slider directions…")
def _slider_directions(path: str, mtime_ns: int, k: int, _checkpoint: Checkpoint) -> np.ndarray:
    return cache.gan_directions(_checkpoint, k, cache_dir=cache_dir())


def gan_directions(checkpoint: Checkpoint, k: int) -> np.ndarray:
    """The GAN's k GANSpace directions (computed once per checkpoint's weights, kept on disk)."""
    return _slider_directions(str(checkpoint.path), _mtime(checkpoint.path), k, checkpoint)


@st.cache_data(max_entries=16, show_spinner="Measuring how the style changes slant, thickness and width…")
def _style_directions(path: str, mtime_ns: int, _checkpoint: Checkpoint) -> np.ndarray:
    return cache.style_directions(_checkpoint, cache_dir=cache_dir())


def writing_directions(checkpoint: Checkpoint) -> np.ndarray:
    """The slant, thickness and width directions of a CVAE's or cGAN's style (measured once per checkpoint's weights,
    kept on disk)."""
    return _style_directions(str(checkpoint.path), _mtime(checkpoint.path), checkpoint)


# -- the Compare page's figures and samples ---------------------------------------------------------
@st.cache_resource(show_spinner=False)
def evaluation_jobs() -> cache.BackgroundJobs:
    """The evaluations the Compare page waits for, measured one at a time in the background, shared by every session."""
    return cache.BackgroundJobs("evaluations")


def known_figures(info: CheckpointInfo, samples: int, prior: str | None = None) -> tuple[dict[str, Any], bool]:
    """What is known of a checkpoint's figures without measuring: (figures, complete) from the disk cache, else
    what its training run recorded (``multigen.cache.known_evaluation``). Cheap enough for every rerun. ``prior``: a
    VAE's ("standard", "fitted"; None: the fitted one where it has one)."""
    return cache.known_evaluation(info.path, samples=int(samples), prior=prior, metadata=info.metadata,
                                  cache_dir=cache_dir())


def measure_in_background(info: CheckpointInfo, samples: int, prior: str | None = None) -> cache.JobStatus:
    """Queue ``evaluate`` of one checkpoint (once per content and settings; the result is kept on disk) and say
    where it stands."""
    key = cache.evaluation_key(info.path, samples=int(samples), prior=prior)
    path, device, folder = str(info.path), inference_device(), cache_dir()
    return evaluation_jobs().request(
        key, lambda: cache.evaluation(path, samples=int(samples), prior=prior, device=device, cache_dir=folder))


def prior_for(info: CheckpointInfo, choice: str) -> str | None:
    """What to sample a checkpoint's latents from when the page asks for ``choice`` ("fitted" or "standard"): the
    choice for a VAE with a fitted prior (its header says), None (the model's own) for every other."""
    return choice if info.metadata.get("prior") else None


@st.cache_data(max_entries=32, show_spinner=False)
def _sample_grid(path: str, mtime_ns: int, prior: str | None, _checkpoint: Checkpoint) -> np.ndarray:
    model = _checkpoint.model
    z = prior_latents(model, GRID_DIGITS, seed=GRID_SEED, prior=prior)
    labels = np.arange(GRID_DIGITS) % 10 if model.conditional else None  # conditional: digits 0-9 in turn
    return image_grid(model.draw(z, labels), nrow=10)


def sample_grid(info: CheckpointInfo, prior: str | None = None) -> np.ndarray:
    """GRID_DIGITS digits of a checkpoint from a fixed seed, as one picture (a VAE's latents from ``prior``)."""
    return _sample_grid(str(info.path), _mtime(info.path), prior, load_model(info))
