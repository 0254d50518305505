"""2-D maps of a latent space, and the way back from a position on the map to a latent vector.

Projections are scikit-learn's: ``PCA`` (a linear map, so clicking back is exact on its plane),
``TSNE`` (van der Maaten & Hinton, "Visualizing Data using t-SNE", JMLR 2008; no inverse map, so a
click goes back through the nearest projected points) and ``raw`` (the latent itself when it is 2-D).
t-SNE takes seconds to minutes, so the app runs it through ``ProjectionJobs``: one background
thread per key, results kept in memory and in ``.npz`` files that every session of the app shares.

scikit-learn's Barnes-Hut t-SNE is the default. Where openTSNE is installed (``pip install openTSNE``; BSD;
Policar et al., "openTSNE: a modular Python library for t-SNE dimensionality reduction and embedding", JSS 2024)
t-SNE runs through it instead (``tsne_engine``): its FFT-accelerated gradients (Linderman et al., "Fast
interpolation-based t-SNE for improved visualization of single-cell RNA-seq data", Nature Methods 2019) map 60,000
digits in about 2 minutes on 2 cores, where scikit-learn needs about 2.5 minutes for 20,000, and it reports its
iterations, so its progress is measured and a running job can be cancelled. ``MULTIGEN_TSNE=sklearn`` keeps
scikit-learn. Either way the map is cached under a key that names the engine, and clicks go back the same way.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from multigen.checkpoints.format import write_atomically
from multigen.errors import MultigenError

if TYPE_CHECKING:
    from sklearn.neighbors import NearestNeighbors

# scikit-learn is imported where it is used: its import takes about a second, and a raw map (a 2-D latent) or a
# map read from the caches never needs it.

PROJECTIONS = ("pca", "tsne", "raw")
INVERSE_NEIGHBOURS = 8  # projected points whose latents a t-SNE click averages
DEFAULT_CACHE_DIR = ".cache/projections"
# Seconds of t-SNE per n*ln(n) points, measured with one thread on a busy 2-core CPU (1,000 points
# of a 16-D latent took ~4 s, 5,000 took ~27 s). Finished jobs refine it for the machine at hand.
TSNE_SECONDS_PER_UNIT = 6.5e-4
TSNE_SECONDS_OVERHEAD = 0.3
QUICK_SECONDS = 0.2  # expected time of a PCA or raw "job"
RUNNING_FRACTION_CAP = 0.99  # a running job never claims to be finished
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

logger = logging.getLogger(__name__)


def _as_rows(array: np.ndarray, width: int | None, what: str) -> np.ndarray:
    """A (d,) or (k, d) array as (k, d) float32, checking d against ``width`` when given."""
    rows = np.asarray(array, dtype=np.float32)
    if rows.ndim == 1:
        rows = rows[None, :]
    if rows.ndim != 2 or (width is not None and rows.shape[1] != width):
        expected = f"(k, {width}) or ({width},)" if width is not None else "(k, d) or (d,)"
        raise MultigenError(f"{what} has shape {np.shape(array)} but {expected} is needed: pass vectors of that size.")
    return rows





@dataclass
class Projection:
    """Latent means mapped to 2-D (row i of ``points`` is row i of the codes), and the way back."""

    method: str
    points: np.ndarray  # (n, 2) float32
    latents: np.ndarray | None = None  # (n, latent_dim) float32, what was projected (the t-SNE inverse needs it)
    components: np.ndarray | None = None  # (2, latent_dim), PCA's principal axes
    mean: np.ndarray | None = None  # (latent_dim,), PCA's centre
    _neighbours: NearestNeighbors | None = field(default=None, init=False, repr=False, compare=False)
    _latent_neighbours: NearestNeighbors | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.method == "tsne":
            if self.latents is None:
                raise MultigenError("A t-SNE projection needs the latents it was made from: pass latents=.")
            from sklearn.neighbors import NearestNeighbors

            # Built once here, so that concurrent clicks from several sessions only read it.
            self._neighbours = NearestNeighbors(n_neighbors=min(INVERSE_NEIGHBOURS, len(self.points)))
            self._neighbours.fit(np.asarray(self.points, dtype=np.float64))
            self._latent_neighbours = NearestNeighbors(n_neighbors=min(INVERSE_NEIGHBOURS, len(self.points)))
            self._latent_neighbours.fit(np.asarray(self.latents, dtype=np.float64))
        elif self.method == "pca" and (self.components is None or self.mean is None):
            raise MultigenError("A PCA projection needs its components and mean: pass components= and mean=.")

    @property
    def latent_dim(self) -> int:
        """Size of the vectors that ``inverse`` returns."""
        if self.components is not None:
            return self.components.shape[1]
        return self.latents.shape[1] if self.latents is not None else 2

    def inverse(self, xy: np.ndarray) -> np.ndarray:
        """2-D positions (k, 2) or (2,) back to latent vectors (k, latent_dim) float32.

        PCA: the exact inverse onto the fitted plane. raw: the identity. t-SNE, which has no inverse
        map: the inverse-distance-weighted mean of the latents of the nearest projected points,
        which is exactly a point's latent when ``xy`` is exactly where that point was projected.
        """
        positions = _as_rows(xy, 2, "xy").astype(np.float64)
        if self.method == "raw":
            return positions.astype(np.float32)
        if self.method == "pca":
            # PCA.inverse_transform without whitening: x @ components + mean.
            return (positions @ self.components.astype(np.float64) + self.mean.astype(np.float64)).astype(np.float32)
        distances, indices = self._neighbours.kneighbors(positions)
        latents = np.asarray(self.latents, dtype=np.float64)
        spread = float(np.ptp(self.points, axis=0).max()) or 1.0
        tolerance = 1e-9 * spread
        weights = 1.0 / np.maximum(distances, tolerance)  # (k, neighbours)
        out = np.einsum("kn,knd->kd", weights, latents[indices]) / weights.sum(axis=1, keepdims=True)
        on_point = distances[:, 0] <= tolerance  # on a projected point: its own latent, not a blend
        out[on_point] = latents[indices[on_point, 0]]
        return out.astype(np.float32)


    def place(self, latents: np.ndarray) -> np.ndarray:
        """Latent vectors (k, latent_dim) or (latent_dim,) onto the map: (k, 2) float64 positions.

        raw: the latent itself. PCA: the exact projection onto the fitted plane, (z - mean) @ components.T.
        t-SNE, which cannot place a new point without refitting: the inverse-distance-weighted mean of the
        positions of the latents nearest to it (the mirror of ``inverse``), exactly a dot's position for that
        dot's own latent. The drawing pad places a drawn digit the same way in the page.
        """
        rows = _as_rows(latents, self.latent_dim, "latents").astype(np.float64)
        if self.method == "raw":
            return rows
        if self.method == "pca":
            return (rows - self.mean.astype(np.float64)) @ self.components.astype(np.float64).T
        distances, indices = self._latent_neighbours.kneighbors(rows)
        points = np.asarray(self.points, dtype=np.float64)
        spread = float(np.ptp(np.asarray(self.latents, dtype=np.float64), axis=0).max()) or 1.0
        tolerance = 1e-9 * spread
        weights = 1.0 / np.maximum(distances, tolerance)
        out = np.einsum("kn,knd->kd", weights, points[indices]) / weights.sum(axis=1, keepdims=True)
        on_latent = distances[:, 0] <= tolerance  # a dot's own latent: that dot's position
        out[on_latent] = points[indices[on_latent, 0]]
        return out


def place_gaussians(
    projection: Projection, means: np.ndarray, covariances: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussians of the latent space (means (k, d), covariances (k, d, d), e.g. a fitted prior's ``means`` and
    ``covariances``) on a raw or PCA map: their centres (k, 2) and 2 x 2 covariances (k, 2, 2) in the map's
    coordinates, float64, the exact linear images A m and A S A^T (an ellipse of radius r is the points x with
    (x - c)^T C^-1 (x - c) = r^2). t-SNE has no linear map, so it has no ellipses: draw them on PCA or raw."""
    # Tensors too (this module imports no torch): a CPU tensor converts as an array does.
    m = np.asarray(means.detach().cpu() if hasattr(means, "detach") else means, dtype=np.float64)
    s = np.asarray(covariances.detach().cpu() if hasattr(covariances, "detach") else covariances, dtype=np.float64)
    if projection.method == "tsne":
        raise MultigenError("A t-SNE map has no linear image of a Gaussian: show the prior's ellipses on the PCA or raw map.")
    if m.ndim != 2 or s.shape != (len(m), m.shape[1], m.shape[1]) or m.shape[1] != projection.latent_dim:
        raise MultigenError(f"Expected means (k, {projection.latent_dim}) and covariances (k, {projection.latent_dim}, "
                            f"{projection.latent_dim}), got {m.shape} and {s.shape}.")
    if projection.method == "raw":
        return m, s
    axes = projection.components.astype(np.float64)  # (2, d)
    return (m - projection.mean.astype(np.float64)) @ axes.T, axes @ s @ axes.T


def _check_method(method: str) -> None:
    if method not in PROJECTIONS:
        raise MultigenError(f"Unknown projection {method!r}: choose one of {', '.join(PROJECTIONS)}.")


def _tsne_threads() -> int:
    # Barnes-Hut t-SNE spin-waits in OpenMP; on a busy machine (or next to torch's own OpenMP pool)
    # two threads ran 10x slower than one, so use at most half the cores.
    return max(1, (os.cpu_count() or 1) // 2)


TSNE_ENGINES = ("scikit-learn", "openTSNE")
# openTSNE's two phases (early exaggeration, then the rest), in iterations, and how often it reports.
OPENTSNE_ITERATIONS = (250, 500)
OPENTSNE_REPORT_EVERY = 10


class ProjectionCancelled(MultigenError):
    """A t-SNE was stopped before it finished (``ProjectionJobs.cancel``)."""


def _opentsne_installed() -> bool:
    # Looked up, not imported: the page asks on every rerun (its cache key names the engine).
    return importlib.util.find_spec("openTSNE") is not None


def tsne_engine() -> str:
    """The t-SNE this process runs: "openTSNE" where it is installed (and ``MULTIGEN_TSNE`` does not say
    sklearn), else "scikit-learn"."""
    if os.environ.get("MULTIGEN_TSNE", "").strip().lower() in ("sklearn", "scikit-learn"):
        return "scikit-learn"
    return "openTSNE" if _opentsne_installed() else "scikit-learn"


def _opentsne(latents: np.ndarray, seed: int, perplexity: float, progress: Callable[[float], bool] | None) -> np.ndarray:
    from openTSNE import TSNE

    total, reports = sum(OPENTSNE_ITERATIONS), [0]

    def report(_iteration: int, _error: float, _embedding: object) -> bool:
        reports[0] += 1
        if progress is not None and not progress(min(1.0, reports[0] * OPENTSNE_REPORT_EVERY / total)):
            raise ProjectionCancelled("The t-SNE map was cancelled.")
        return False  # go on

    tsne = TSNE(
        n_components=2, perplexity=perplexity, initialization="pca", random_state=seed, n_jobs=_tsne_threads(),
        early_exaggeration_iter=OPENTSNE_ITERATIONS[0], n_iter=OPENTSNE_ITERATIONS[1],
        callbacks=report, callbacks_every_iters=OPENTSNE_REPORT_EVERY, verbose=False,
    )
    return np.asarray(tsne.fit(latents.astype(np.float64)), dtype=np.float32)


def project(
    mu: np.ndarray, method: str = "pca", *, seed: int = 0, perplexity: float = 30.0,
    progress: Callable[[float], bool] | None = None,
) -> Projection:
    """Map latent means (n, d) to 2-D with scikit-learn's PCA, t-SNE (``tsne_engine``), or as they are when d == 2.

    Runs synchronously; t-SNE can take minutes on tens of thousands of points, so the app uses ``ProjectionJobs``.
    ``progress(fraction)`` is called as openTSNE iterates (scikit-learn's t-SNE does not report); when it returns
    False the t-SNE stops with ``ProjectionCancelled``.
    """
    _check_method(method)
    latents = np.asarray(mu, dtype=np.float32)
    if latents.ndim != 2 or len(latents) < 2:
        raise MultigenError(f"Need at least 2 latent vectors shaped (n, d) to project, got shape {latents.shape}.")
    if not np.isfinite(latents).all():
        raise MultigenError("The latent vectors contain NaN or infinity: retrain or pick another checkpoint.")
    n, latent_dim = latents.shape
    if method == "raw":
        if latent_dim != 2:
            raise MultigenError(
                f"The raw projection shows a 2-D latent as it is, but this one has {latent_dim} dimensions: "
                "choose pca or tsne."
            )
        return Projection("raw", latents.copy(), latents=latents.copy())
    if method == "pca":
        from sklearn.decomposition import PCA

        # The full SVD is exact and deterministic, and cheap for latents of at most 128 dimensions.
        pca = PCA(n_components=2, svd_solver="full").fit(latents)
        points = pca.transform(latents).astype(np.float32)
        return Projection(
            "pca", points, latents=latents.copy(),
            components=pca.components_.astype(np.float32), mean=pca.mean_.astype(np.float32),
        )
    if n < 4:
        raise MultigenError(f"t-SNE needs at least 4 points, got {n}: project more digits or use pca.")
    # perplexity < n is required; (n - 1) / 3 is the largest that still gives each point ~3 neighbours' worth.
    perplexity = min(float(perplexity), (n - 1) / 3)
    if tsne_engine() == "openTSNE":
        return Projection("tsne", _opentsne(latents, seed, perplexity, progress), latents=latents.copy())
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    with threadpool_limits(limits=_tsne_threads(), user_api="openmp"):
        points = tsne.fit_transform(latents).astype(np.float32)
    return Projection("tsne", points, latents=latents.copy())


def projection_key(
    checkpoint_path: str | Path,
    checkpoint_sha: str,
    split: str,
    n_points: int,
    method: str,
    seed: int,
    perplexity: float,
) -> str:
    """A short file-safe name for one projection of one checkpoint's codes, e.g. ``"tsne-3fa2…"`` (16 hex digits)."""
    _check_method(method)
    inputs = [str(checkpoint_path), str(checkpoint_sha), str(split), int(n_points), method, int(seed)]
    inputs.append(float(perplexity))  # 30 and 30.0 name the same projection
    if method == "tsne":  # each engine draws its own map
        inputs.append(tsne_engine())
    digest = hashlib.sha256(json.dumps(inputs).encode()).hexdigest()[:16]
    return f"{method}-{digest}"


# -- background projections ------------------------------------------------------------------------


@dataclass
class ProjectionStatus:
    """Where one projection job stands."""

    state: str  # "running" | "queued" (behind another job of its group) | "done" | "failed" | "cancelled"
    fraction: float  # estimated progress 0..1 (elapsed / expected time while running)
    elapsed: float  # seconds since it started (its whole duration once done; 0 when read from disk)
    projection: Projection | None = None  # set when done
    error: str | None = None  # one line, set when failed

    @property
    def done(self) -> bool:
        """True when ``projection`` is ready."""
        return self.state == "done"


def _save_projection(path: Path, projection: Projection) -> None:
    """Write a projection as .npz atomically, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"method": np.array(projection.method), "points": projection.points}
    for name in ("latents", "components", "mean"):
        value = getattr(projection, name)
        if value is not None:
            arrays[name] = value
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_atomically(path, buffer.getvalue())


def _load_projection(path: Path) -> Projection:
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    return Projection(
        method=str(arrays["method"]),
        points=arrays["points"].astype(np.float32),
        latents=arrays.get("latents"),
        components=arrays.get("components"),
        mean=arrays.get("mean"),
    )


def _work_units(n: int) -> float:
    return n * math.log(max(n, 2))


class ProjectionJobs:
    """Background projections shared by all sessions of the app: one thread per key, cached in memory and on disk.

    ``request`` returns at once; call ``status`` (e.g. from a fragment that reruns every second) until it is
    "done". Safe to call from any thread; a key is computed at most once per process.
    """

    def __init__(self, cache_dir: str | Path = DEFAULT_CACHE_DIR) -> None:
        self.cache_dir = Path(cache_dir)
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._running_in: dict[str, str] = {}  # group -> the key of its running job
        self._queued: dict[str, tuple] = {}  # group -> the arguments of the one job waiting for it
        self._cancelled: set[str] = set()  # keys queued, then replaced by a newer request of their group
        self._started: dict[str, float] = {}
        self._expected: dict[str, float] = {}
        self._finished: dict[str, float] = {}
        self._results: dict[str, Projection] = {}
        self._errors: dict[str, str] = {}
        self._progress: dict[str, float] = {}  # measured progress of running jobs that report it (openTSNE)
        self._stopping: set[str] = set()  # running jobs asked to stop
        self._seconds_per_unit = TSNE_SECONDS_PER_UNIT

    def path(self, key: str) -> Path:
        """The .npz file that caches ``key``."""
        if not _KEY_PATTERN.match(key):
            raise MultigenError(f"Projection key {key!r} is not a plain file name: build it with projection_key().")
        return self.cache_dir / f"{key}.npz"

    def request(
        self, key: str, mu: np.ndarray, method: str, *, seed: int = 0, perplexity: float = 30.0, group: str | None = None
    ) -> ProjectionStatus:
        """The projection under ``key`` if cached (memory or disk), else start computing it once and say "running".

        Jobs of one ``group`` (say, one checkpoint and split) run one at a time: a request while another key of
        the group runs waits as "queued", and a newer request replaces it ("cancelled"), so a person sliding
        through settings starts at most two jobs, the running one and the last one asked for.
        """
        path = self.path(key)
        with self._lock:
            if key in self._results or key in self._errors or key in self._threads:
                return self._status_locked(key)
            if self._load_locked(key, path):
                return self._status_locked(key)
            arguments = (key, path, np.array(mu, dtype=np.float32, copy=True), method, seed, perplexity, group)
            busy = group is not None and group in self._running_in
            if busy:
                replaced = self._queued.get(group)
                if replaced is not None and replaced[0] != key:
                    self._cancelled.add(replaced[0])
                self._queued[group] = arguments
                self._cancelled.discard(key)
                return self._status_locked(key)
            self._start_locked(*arguments)
            return self._status_locked(key)

    def status(self, key: str) -> ProjectionStatus:
        """Where the job under ``key`` stands; a key never requested is looked up on disk."""
        path = self.path(key)
        with self._lock:
            known = key in self._results or key in self._errors or key in self._threads or key in self._cancelled
            if known or any(waiting[0] == key for waiting in self._queued.values()) or self._load_locked(key, path):
                return self._status_locked(key)
        raise MultigenError(f"No projection {key!r} was requested and none is cached: call request() first.")

    def cancel(self, key: str) -> bool:
        """Stop the job under ``key``: a queued one at once, a running openTSNE at its next report (within a
        second); it then says "cancelled", and a later ``request`` starts it again. False when it cannot be
        stopped: scikit-learn's t-SNE does not report while it runs, so it finishes (and is cached) in the
        background; or the job is not waiting or running."""
        with self._lock:
            for group, waiting in list(self._queued.items()):
                if waiting[0] == key:
                    del self._queued[group]
                    self._cancelled.add(key)
                    return True
            thread = self._threads.get(key)
            if thread is None or key in self._results or key in self._errors or key not in self._progress:
                return False
            self._stopping.add(key)
            return True

    def wait(self, key: str, timeout: float | None = None) -> ProjectionStatus:
        """Block until the job under ``key`` has finished (or ``timeout`` seconds passed), then its status; a
        queued job is waited for through the job it waits behind."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                own = self._threads.get(key)
                queued_in = next((group for group, waiting in self._queued.items() if waiting[0] == key), None)
                blocker = own or self._threads.get(self._running_in.get(queued_in, ""))
            if blocker is None:
                break
            blocker.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if own is not None or (deadline is not None and time.monotonic() >= deadline):
                break
        return self.status(key)

    # -- internals ---------------------------------------------------------------------------------
    def _start_locked(self, key: str, path: Path, latents: np.ndarray, method: str, seed: int, perplexity: float,
                      group: str | None) -> None:
        self._started[key] = time.monotonic()
        self._expected[key] = self._expected_seconds(method, len(latents))
        self._cancelled.discard(key)
        self._stopping.discard(key)
        self._progress.pop(key, None)
        if method == "tsne" and tsne_engine() == "openTSNE":
            self._progress[key] = 0.0  # it reports its iterations from now on
        thread = threading.Thread(
            target=self._run, args=(key, path, latents, method, seed, perplexity, group),
            name=f"projection-{key}", daemon=True,
        )
        self._threads[key] = thread
        if group is not None:
            self._running_in[group] = key
        thread.start()

    def _finish_locked(self, group: str | None) -> None:
        """The group's job ended: start the one waiting for it, if any."""
        if group is None:
            return
        self._running_in.pop(group, None)
        waiting = self._queued.pop(group, None)
        if waiting is not None:
            self._start_locked(*waiting)

    def _expected_seconds(self, method: str, n: int) -> float:
        if method != "tsne":
            return QUICK_SECONDS
        return TSNE_SECONDS_OVERHEAD + self._seconds_per_unit * _work_units(n)

    def _load_locked(self, key: str, path: Path) -> bool:
        if not path.is_file():
            return False
        try:
            projection = _load_projection(path)
        except Exception as error:  # noqa: BLE001 - a damaged cache file is recomputed, not fatal
            logger.warning("Ignoring unreadable projection cache %s (%s); it will be recomputed.", path, error)
            return False
        self._results[key] = projection
        self._started[key] = self._finished[key] = time.monotonic()
        return True

    def _run(self, key: str, path: Path, latents: np.ndarray, method: str, seed: int, perplexity: float,
             group: str | None = None) -> None:
        def progress(fraction: float) -> bool:
            with self._lock:
                self._progress[key] = fraction
                return key not in self._stopping

        try:
            projection = project(latents, method, seed=seed, perplexity=perplexity, progress=progress)
        except ProjectionCancelled:
            with self._lock:
                self._threads.pop(key, None)  # a later request starts it again
                self._stopping.discard(key)
                self._progress.pop(key, None)
                self._cancelled.add(key)
                self._finish_locked(group)
            return
        except Exception as error:  # noqa: BLE001 - any failure becomes a one-line "failed" status
            message = str(error) if isinstance(error, MultigenError) else f"{type(error).__name__}: {error}"
            message = " ".join(message.split()) or type(error).__name__
            with self._lock:
                self._errors[key] = message
                self._finished[key] = time.monotonic()
                self._finish_locked(group)
            return
        try:
            _save_projection(path, projection)
        except OSError as error:  # the cache only saves time; keep the result in memory regardless
            logger.warning("Could not cache projection %s in %s: %s", key, path, error)
        with self._lock:
            self._results[key] = projection
            self._finished[key] = time.monotonic()
            if method == "tsne":
                # Learn this machine's speed so the next progress estimate is closer.
                measured = (self._finished[key] - self._started[key]) / _work_units(len(latents))
                self._seconds_per_unit = 0.5 * self._seconds_per_unit + 0.5 * measured
            self._finish_locked(group)

    def _status_locked(self, key: str) -> ProjectionStatus:
        if key not in self._threads and key not in self._results and key not in self._errors:
            if any(waiting[0] == key for waiting in self._queued.values()):
                return ProjectionStatus("queued", 0.0, 0.0, None, None)
            if key in self._cancelled:
                return ProjectionStatus("cancelled", 0.0, 0.0, None, None)
        started = self._started.get(key, time.monotonic())
        end = self._finished.get(key, time.monotonic())
        elapsed = max(0.0, end - started)
        if key in self._results:
            return ProjectionStatus("done", 1.0, elapsed, self._results[key], None)
        if key in self._errors:
            return ProjectionStatus("failed", 0.0, elapsed, None, self._errors[key])
        if key in self._progress:  # measured
            return ProjectionStatus("running", min(RUNNING_FRACTION_CAP, self._progress[key]), elapsed, None, None)
        expected = self._expected.get(key, 1.0)
        return ProjectionStatus("running", min(RUNNING_FRACTION_CAP, elapsed / expected), elapsed, None, None)
