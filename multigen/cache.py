"""Disk caches of what a page computes from a checkpoint before it can draw, so that a new server shows it at once.

Each result is a file named by a hash of the checkpoint's weights (``weights_sha256``: the SHA-256 of its ``model/``
tensors, with its fitted prior's for an evaluation; so a retrained checkpoint gets new entries, while a copied,
renamed or exported one keeps them, as does one whose slider directions or prior are stored later) and of the
settings that made it. Under one cache folder (the app's is ``.cache/`` next to ``app.py``, or
``$MULTIGEN_CACHE_DIR``; the t-SNE maps of ``multigen.explore.projection`` live beside these in ``projections/``):

- ``encodings/``: ``encode_dataset`` of a seeded sample of a split, or of the whole split, which then gives every
  sample (the latent explorer's map), ``.npz``;
- ``directions/``: a GAN's slider directions and a writer's style directions (``.npy``);
- ``evaluations/``: ``evaluate``'s figures (the Compare page), ``.json``, keyed by the sample count, the seed and the
  digit classifier's own checksum as well.

Files are written atomically (a temporary file beside the target, then a rename), read without unpickling, and a
file that cannot be read (cut short, damaged, of another shape) is logged, ignored and made again. Threads that ask
for the same entry at once wait for one computation and share it. Deleting the folder clears every cache.

``BackgroundJobs`` computes results in a background thread for a page that draws what it has first, and ``warm_up``
runs a list of such computations (the app runs it in a background thread when it starts).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from multigen.checkpoints import Checkpoint
from multigen.checkpoints.format import MODEL_PREFIX, PRIOR_PREFIX, read_header, tensors_checksum, write_atomically
from multigen.data import DEFAULT_DATASET, default_data_dir, load_dataset, subset, subset_rows
from multigen.device import single_threaded
from multigen.errors import MultigenError
from multigen.explore.latent import LatentCodes, encode_dataset

DEFAULT_CACHE_DIR = ".cache"
DIRECTIONS_VERSION = 4  # part of a direction's key: 2, each slider's length measured for legible digits (issue 19);
# 3, the GAN page's measured on 500 digits, not 200; 4, the GAN page's also with every pair held together, the Write
# page's regrown one at a time after the corners
EVALUATION_VERSION = 1  # part of an evaluation's key: raise it when evaluate()'s figures change meaning
# What a training run records in its history each epoch (multigen.training.trainer's EPOCH_METRICS, measured by
# evaluate() on ``eval_samples`` samples with seed 0): the Compare page shows these before the rest is measured.
RECORDED_FIGURES = ("fid", "inception_score", "conditional_accuracy", "negative_elbo")

T = TypeVar("T")
logger = logging.getLogger(__name__)


def prune_oldest(folder: Path, pattern: str, keep: int, *, never: Path | None = None) -> None:
    """Delete the files of ``folder`` matching ``pattern`` beyond the ``keep`` most recently used (by modification
    time), never ``never``. Several servers (or test workers) may share the folder: a file another one deletes
    meanwhile is passed over, never an error."""
    dated = []
    for file in folder.glob(pattern):
        try:
            dated.append((file.stat().st_mtime_ns, file))
        except OSError:  # deleted meanwhile
            continue
    dated.sort(key=lambda item: item[0], reverse=True)
    for _, old in dated[keep:]:
        if old != never:
            old.unlink(missing_ok=True)


# -- keys and files ---------------------------------------------------------------------------------
_checksums: dict[tuple[Any, ...], str] = {}
_checksums_lock = threading.Lock()
WEIGHTS = (MODEL_PREFIX,)  # the tensors that draw and encode: what the pages' results depend on
WEIGHTS_AND_PRIOR = (MODEL_PREFIX, PRIOR_PREFIX)  # and the fitted prior a VAE samples from


def _remembered(path: str | os.PathLike[str], what: tuple[str, ...], compute: Callable[[Path], str]) -> str:
    """``compute(path)``, remembered per file version (path, modification time, size) and ``what``."""
    path = Path(path)
    stat = path.stat()
    version = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, what)
    with _checksums_lock:
        known = _checksums.get(version)
    if known is None:
        known = compute(path)
        with _checksums_lock:
            _checksums[version] = known
    return known


def checkpoint_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of all of a checkpoint's tensors, from its header (remembered per file version, so reruns read
    nothing): what changes whenever the file's content does.

    Raises ``CheckpointError`` for a file that is not a readable checkpoint."""
    return _remembered(path, (), lambda file: read_header(file)[2])


def weights_sha256(path: str | os.PathLike[str], *, with_prior: bool = False) -> str:
    """The SHA-256 of a checkpoint's weights (``model/`` tensors; with its fitted prior's too when ``with_prior``),
    remembered per file version: the key of what is computed from them, which a file keeps when slider directions
    or a fitted prior are stored in it (``calibrate-sliders``, ``fit-prior``) or when it is exported from a run's
    checkpoint with its optimizer state. For a file of weights alone it is the header's checksum.

    Raises ``CheckpointError`` for a file that is not a readable checkpoint."""
    parts = WEIGHTS_AND_PRIOR if with_prior else WEIGHTS
    return _remembered(path, parts, lambda file: tensors_checksum(file, parts))


def cache_key(sha256: str, what: str, **settings: Any) -> str:
    """A file-safe name for one result (``what``) of one checkpoint's weights under ``settings``:
    ``"encodings-3fa2…"`` (32 hex digits of a SHA-256 over all three)."""
    document = json.dumps([sha256, what, settings], sort_keys=True)
    return f"{what}-{hashlib.sha256(document.encode()).hexdigest()[:32]}"


_flights: dict[str, threading.Lock] = {}
_flights_lock = threading.Lock()


def _flight(path: Path) -> threading.Lock:
    """The lock that one computation of ``path`` holds (every thread asking for it waits on the same one)."""
    with _flights_lock:
        return _flights.setdefault(str(path), threading.Lock())


def _read(path: Path, read: Callable[[Path], T], *, warn: bool = True) -> T | None:
    """The cached value, or None when there is none or the file cannot be read (then it is made again; ``warn``: say
    so in the log)."""
    if not path.is_file():
        return None
    try:
        return read(path)
    except Exception as error:  # noqa: BLE001 - a damaged cache file is recomputed, never fatal
        if warn:
            logger.warning("Ignoring unreadable cache file %s (%s); it will be made again.", path, error)
        return None


def _cached(
    path: Path | None, read: Callable[[Path], T], write: Callable[[Path, T], None], make: Callable[[], T], *,
    looked: bool = False,
) -> T:
    """``read(path)`` if the file is there and sound, else ``make()`` once (other threads asking meanwhile wait for it)
    and keep it with ``write``. No path: just ``make()``. ``looked``: the caller has just read it, in vain."""
    if path is None:
        return make()
    found = None if looked else _read(path, read)
    if found is not None:
        return found
    with _flight(path):
        found = _read(path, read, warn=False)  # made by another thread while this one waited (a damaged file: said)
        if found is not None:
            return found
        value = make()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path, value)
        except OSError as error:  # the cache only saves time: the result stands without it
            logger.warning("Could not write the cache file %s: %s", path, error)
        return value


def _entry(cache_dir: str | os.PathLike[str] | None, folder: str, key: str, suffix: str) -> Path | None:
    return None if cache_dir is None else Path(cache_dir) / folder / f"{key}{suffix}"


def _write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_atomically(path, buffer.getvalue())


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _write_json(path: Path, document: dict[str, Any]) -> None:
    write_atomically(path, json.dumps(document, indent=1).encode())


def _read_json(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise TypeError(f"expected a JSON object, found {type(document).__name__}")
    return document


# -- the latent explorer's encodings ----------------------------------------------------------------
def _codes_from(arrays: dict[str, np.ndarray], latent_dim: int) -> LatentCodes:
    codes = LatentCodes(mu=arrays["mu"], logvar=arrays["logvar"], labels=arrays["labels"], images=arrays["images"])
    n = len(codes.labels)
    shapes = {"mu": (n, latent_dim), "logvar": (n, latent_dim), "labels": (n,), "images": (n, 28, 28)}
    dtypes = {"mu": np.float32, "logvar": np.float32, "labels": np.int64, "images": np.uint8}
    for name, shape in shapes.items():
        array = arrays[name]
        if array.shape != shape or array.dtype != dtypes[name]:
            raise ValueError(f"{name} is {array.dtype} {array.shape}, expected {np.dtype(dtypes[name])} {shape}")
    return codes


def encodings(
    checkpoint: Checkpoint, dataset: str, split: str, n_points: int | None = None, *,
    cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE_DIR,
) -> LatentCodes:
    """``encode_dataset`` of the fixed, seeded, label-stratified sample of ``n_points`` digits of a split (``subset``;
    None: the whole split), kept in ``cache_dir/encodings`` (``None``: not kept). The digits themselves are kept too,
    so a cached map needs no data set loaded. Once the whole split is kept (the app's warm-up encodes it), every size
    is cut from it (``subset_rows``): a map of 60,000 digits is then as quick to open as one of 2,000."""
    model = checkpoint.model

    def read(path: Path) -> LatentCodes:
        return _codes_from(_read_arrays(path), model.latent_dim)

    def write(path: Path, codes: LatentCodes) -> None:
        _write_arrays(path, {name: getattr(codes, name) for name in ("mu", "logvar", "labels", "images")})

    whole_path, path = _encoding_entries(checkpoint, dataset, split, n_points, cache_dir)
    whole = None if whole_path is None else _read(whole_path, read)
    if whole is not None:
        return whole if n_points is None else _rows_of(whole, n_points)
    if path is not None and (found := _read(path, read)) is not None:
        return found
    digits = load_dataset(dataset, split)
    if n_points is None or n_points >= len(digits):
        return _cached(whole_path, read, write, lambda: encode_dataset(model, digits), looked=True)
    return _cached(path, read, write, lambda: encode_dataset(model, subset(digits, int(n_points))), looked=True)


def encodings_kept(
    checkpoint: Checkpoint, dataset: str, split: str, n_points: int | None = None, *,
    cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE_DIR,
) -> bool:
    """True when ``encodings`` of these digits would be read from ``cache_dir``, not encoded (a look at the files
    only: a damaged one counts as kept until it is read)."""
    return any(path is not None and path.is_file()
               for path in _encoding_entries(checkpoint, dataset, split, n_points, cache_dir))


def _encoding_entries(
    checkpoint: Checkpoint, dataset: str, split: str, n_points: int | None, cache_dir: str | os.PathLike[str] | None
) -> tuple[Path | None, Path | None]:
    """Where the whole split's encodings are kept, and where those of ``n_points`` digits alone (None: no such file)."""
    sha256 = weights_sha256(checkpoint.path)
    # Two folders can hold different copies of a downloaded data set; the bundled one is the same everywhere.
    folder = {} if dataset == DEFAULT_DATASET else {"data": str(default_data_dir().resolve())}

    def entry(points: int | str) -> Path | None:
        key = cache_key(sha256, "encodings", dataset=dataset, split=split, points=points, **folder)
        return _entry(cache_dir, "encodings", key, ".npz")

    return entry("all"), None if n_points is None else entry(int(n_points))


def _rows_of(codes: LatentCodes, n_points: int) -> LatentCodes:
    """The rows of ``subset(split, n_points)`` out of the whole split's encodings."""
    rows = subset_rows(torch.from_numpy(codes.labels), int(n_points)).numpy()
    return LatentCodes(mu=codes.mu[rows], logvar=codes.logvar[rows], labels=codes.labels[rows], images=codes.images[rows])


# -- directions of the GAN and Write pages ----------------------------------------------------------
_said_unusable: set[tuple[str, str, tuple[int, ...], str]] = set()  # (path, name, shape, measurement) said once


def classifier_checksum() -> str:
    """The digit classifier's own checksum ("none" when it is missing): part of the key of what it measured."""
    from multigen.evaluation import classifier as instrument

    try:
        return checkpoint_sha256(instrument.DEFAULT_CLASSIFIER)
    except (MultigenError, OSError):
        return "none"


def directions_measurement() -> dict[str, Any]:
    """What slider directions measured now are measured with: the measurement's version and the classifier that set
    their lengths (``store_directions`` keeps it beside them; stored ones of another measurement are not used)."""
    return {"version": DIRECTIONS_VERSION, "classifier": classifier_checksum()}


def _stored_directions(checkpoint: Checkpoint, name: str, shape: tuple[int, int]) -> np.ndarray | None:
    """The directions ``name`` stored in the checkpoint (``multigen calibrate-sliders``), or None when it has none of
    this shape and measurement (then they are measured as if it had none; said once in the log)."""
    stored = checkpoint.directions.get(name)
    if stored is None:
        return None
    described = checkpoint.metadata.get("directions")
    about = described.get(name) if isinstance(described, dict) else None  # a hostile header: as if undescribed
    about = about if isinstance(about, dict) else {}
    wanted = directions_measurement()
    measured = {key: about.get(key) for key in wanted}
    if (tuple(stored.shape) == shape and stored.dtype == torch.float32 and measured == wanted
            and bool(torch.isfinite(stored).all())):
        return stored.numpy().copy()
    said = (str(checkpoint.path), name, tuple(stored.shape), json.dumps(measured, sort_keys=True, default=str))
    if said not in _said_unusable:
        _said_unusable.add(said)
        logger.warning("Measuring the %s slider directions of %s again: the stored ones are %s %s measured as %s, not "
                       "float32 %s measured as %s (`multigen calibrate-sliders %s` stores them anew).", name,
                       checkpoint.path, stored.dtype, list(stored.shape), measured, list(shape), wanted, checkpoint.path)
    return None


def _directions(checkpoint: Checkpoint, what: str, shape: tuple[int, int], make: Callable[[], np.ndarray],
                cache_dir: str | os.PathLike[str] | None) -> np.ndarray:
    stored = _stored_directions(checkpoint, what.removesuffix("-directions"), shape)
    if stored is not None:  # measured when the checkpoint was made: nothing to compute or keep
        return stored
    key = cache_key(weights_sha256(checkpoint.path), what, shape=list(shape), **directions_measurement())

    def read(path: Path) -> np.ndarray:
        directions = np.load(path, allow_pickle=False)
        if directions.shape != shape or directions.dtype != np.float32 or not np.isfinite(directions).all():
            raise ValueError(f"holds {directions.dtype} {directions.shape}, expected finite float32 {shape}")
        return directions

    def write(path: Path, directions: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.save(buffer, directions)
        write_atomically(path, buffer.getvalue())

    return _cached(_entry(cache_dir, "directions", key, ".npy"), read, write, make)


def gan_directions(checkpoint: Checkpoint, k: int, *, cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE_DIR) -> np.ndarray:
    """A GAN's ``k`` GANSpace slider directions (``multigen.explore.noise.slider_directions``): those stored in the
    checkpoint, else measured once and kept on disk."""
    from multigen.explore.noise import slider_directions

    model = checkpoint.model
    return _directions(checkpoint, "gan-directions", (int(k), model.latent_dim),
                       lambda: slider_directions(model, int(k)), cache_dir)


def style_directions(checkpoint: Checkpoint, *, cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE_DIR) -> np.ndarray:
    """A CVAE's or cGAN's slant, thickness and width directions (``multigen.explore.handwriting``): those stored in
    the checkpoint, else measured once and kept on disk."""
    from multigen.explore.handwriting import STYLE_NAMES
    from multigen.explore.handwriting import style_directions as measure

    model = checkpoint.model
    return _directions(checkpoint, "style-directions", (len(STYLE_NAMES), model.latent_dim),
                       lambda: measure(model), cache_dir)


def measure_directions(checkpoint: Checkpoint) -> dict[str, np.ndarray]:
    """Every set of slider directions the pages use for this checkpoint, measured now (no cache) with the digit
    classifier, for ``multigen.checkpoints.store_directions``: ``gan`` for a GAN or cGAN (the GAN page's sliders),
    ``style`` for a CVAE or cGAN (the Write page's). Refuses without the classifier, which sets their lengths, and a
    model too untrained to measure them by (a page would use them at full length, but they are not stored as
    measured)."""
    from multigen.evaluation.classifier import load_classifier
    from multigen.explore.handwriting import style_directions as measure_style
    from multigen.explore.noise import PAGE_SLIDERS, slider_directions
    from multigen.models import GAN

    model = checkpoint.model
    load_classifier()  # raises the one-line "train the classifier" error: uncalibrated directions are not stored
    measured = {}
    if isinstance(model, GAN):
        measured["gan"] = slider_directions(model, min(PAGE_SLIDERS, model.latent_dim), strict=True)
    if getattr(model, "conditional", False):
        measured["style"] = measure_style(model, strict=True)
    if not measured:
        raise MultigenError(f"A {checkpoint.kind} has no sliders to calibrate: pass a GAN, cGAN or CVAE checkpoint.")
    return measured


# -- the Compare page's evaluations ---------------------------------------------------------------
def evaluation_key(checkpoint: str | os.PathLike[str], *, samples: int, seed: int = 0, prior: str | None = None) -> str:
    """The cache key of ``evaluate(checkpoint, samples=samples, seed=seed, prior=prior)``: the checkpoint's weights
    (and its fitted prior, unless N(0, I) is asked for: storing or refitting one keeps those figures), the settings
    and the digit classifier that measures them (its own checksum, or "none" when it is missing)."""
    weights = weights_sha256(checkpoint, with_prior=prior != "standard")
    return cache_key(weights, "evaluation", samples=int(samples), seed=int(seed), prior=prior,
                     classifier=classifier_checksum(), version=EVALUATION_VERSION)


def _read_evaluation(path: Path) -> dict[str, Any]:
    figures = _read_json(path)
    if not isinstance(figures.get("kind"), str):
        raise TypeError("it holds no evaluation")
    return figures


def evaluation(
    checkpoint: str | os.PathLike[str], *, samples: int, seed: int = 0, prior: str | None = None, device: str = "auto",
    cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE_DIR,
) -> dict[str, Any]:
    """``evaluate``'s figures for a checkpoint file, measured once per content and settings and kept in
    ``cache_dir/evaluations`` (the JSON ``multigen eval --format json`` prints). ``prior``: a VAE's, as ``evaluate``
    takes it (None: its fitted prior where it has one). Raises what ``evaluate`` raises."""
    from multigen.evaluation import evaluate

    key = evaluation_key(checkpoint, samples=samples, seed=seed, prior=prior)
    return _cached(_entry(cache_dir, "evaluations", key, ".json"), _read_evaluation, _write_json,
                   lambda: evaluate(checkpoint, samples=int(samples), seed=int(seed), prior=prior, device=device))


def recorded_figures(metadata: dict[str, Any], *, samples: int, seed: int = 0, prior: str | None = None) -> dict[str, Any]:
    """The figures a training run recorded for its last epoch (``--eval-samples``), when they were measured with
    these settings (a run measures with seed 0, sampling from N(0, I): not what a VAE with a fitted prior draws
    unless ``prior`` is "standard"); else nothing. FID, IS, accuracy and -ELBO only: a run leaves out the perceptual
    figures."""
    history = metadata.get("history")
    training = metadata.get("training")
    if not (isinstance(history, list) and history and isinstance(history[-1], dict) and isinstance(training, dict)):
        return {}
    last = history[-1]
    if seed != 0 or training.get("eval_samples") != samples or last.get("epoch") != metadata.get("epoch"):
        return {}
    if metadata.get("prior") and prior != "standard":  # fitted after the run: its samples are other digits
        return {}
    return {name: last[name] for name in RECORDED_FIGURES if isinstance(last.get(name), (int, float))}


def known_evaluation(
    checkpoint: str | os.PathLike[str], *, samples: int, seed: int = 0, prior: str | None = None,
    metadata: dict[str, Any] | None = None, cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE_DIR,
) -> tuple[dict[str, Any], bool]:
    """What is known of a checkpoint's figures without measuring anything: ``(figures, complete)``. Complete: the
    cached evaluation; else what its training run recorded (``recorded_figures``, from ``metadata``), or nothing."""
    path = _entry(cache_dir, "evaluations", evaluation_key(checkpoint, samples=samples, seed=seed, prior=prior), ".json")
    cached = None if path is None else _read(path, _read_evaluation)
    if cached is not None:
        return cached, True
    return recorded_figures(metadata or {}, samples=samples, seed=seed, prior=prior), False


# -- computing in the background --------------------------------------------------------------------
@dataclass(frozen=True)
class JobStatus:
    """Where one background job stands."""

    state: str  # "queued" | "running" | "done" | "failed"
    result: Any = None  # set when done
    error: str | None = None  # one line, set when failed
    elapsed: float = 0.0  # seconds it has run (its whole run once finished)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")


def _one_line(error: BaseException) -> str:
    message = str(error) if isinstance(error, MultigenError) else f"{type(error).__name__}: {error}"
    return " ".join(message.split()) or type(error).__name__


class BackgroundJobs:
    """Jobs run one at a time, in the order asked, in one background (daemon) thread with one torch thread, each
    key at most once per process; safe to use from any thread, so every session of the app can share one.

    ``request`` returns at once; a page polls ``status`` (a fragment that reruns every second) and draws what is
    done. Results stay in memory; a job that saves its result (``evaluation``) also keeps it for the next server.
    """

    def __init__(self, name: str = "background-jobs") -> None:
        self.name = name
        self._changed = threading.Condition()
        self._queue: list[tuple[str, Callable[[], Any]]] = []
        self._status: dict[str, JobStatus] = {}
        self._started: dict[str, float] = {}
        self._thread: threading.Thread | None = None

    def request(self, key: str, compute: Callable[[], Any]) -> JobStatus:
        """The job under ``key``: queued now if it is new (``compute`` runs later, in the background thread)."""
        with self._changed:
            if key not in self._status:
                self._status[key] = JobStatus("queued")
                self._queue.append((key, compute))
                if self._thread is None:
                    self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                    self._thread.start()
                self._changed.notify_all()
            return self._current(key)

    def status(self, key: str) -> JobStatus | None:
        """Where the job under ``key`` stands; None if it was never requested."""
        with self._changed:
            return self._current(key) if key in self._status else None

    def wait(self, keys: Iterable[str] | None = None, timeout: float | None = None) -> bool:
        """Block until every job of ``keys`` (None: every job requested so far) has finished (True) or ``timeout``
        seconds have passed (False)."""
        with self._changed:
            keys = list(self._status) if keys is None else list(keys)
            return self._changed.wait_for(
                lambda: all(key in self._status and self._status[key].finished for key in keys), timeout)

    def _current(self, key: str) -> JobStatus:
        status = self._status[key]
        if status.state == "running":
            return JobStatus("running", elapsed=time.monotonic() - self._started[key])
        return status

    def _work(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._queue)
                key, compute = self._queue.pop(0)
                self._status[key] = JobStatus("running")
                self._started[key] = time.monotonic()
            try:
                with single_threaded():  # one core for the job, the other for the pages
                    status = JobStatus("done", result=compute())
            except Exception as error:  # noqa: BLE001 - a failure is the job's answer, shown as one line
                status = JobStatus("failed", error=_one_line(error))
            with self._changed:
                self._status[key] = JobStatus(status.state, status.result, status.error,
                                              time.monotonic() - self._started[key])
                self._changed.notify_all()


def warm_up(tasks: Iterable[tuple[str, Callable[[], Any]]], *, wait: Callable[[], None] | None = None) -> int:
    """Run ``tasks`` ((what, function) pairs) one after another with one torch thread, and return how many succeeded;
    meant for a background thread (the app's warm-up, ``pages/ui/warmup.py``). Before asking ``tasks`` for each task
    (a generator's work between two tasks included), ``wait()`` (the app's: until no page is being drawn). A task
    that fails is logged and skipped. The functions fill caches (``encodings``, ``evaluation``, ...), so a page that
    asks for the same result meanwhile waits for that one computation instead of making a second."""
    started, done = time.monotonic(), 0
    try:
        # wait() comes before the next task is asked for: making it (a generator's imports and listings) is work too.
        remaining = iter(tasks)
        while True:
            if wait is not None:
                wait()
            what, task = next(remaining, (None, None))
            if task is None:
                break
            try:
                with single_threaded():
                    task()
                done += 1
            except Exception as error:  # noqa: BLE001 - warming is best effort; the page will say what is wrong
                logger.warning("Warm-up: %s failed: %s", what, _one_line(error))
    except Exception as error:  # noqa: BLE001 - e.g. the list of tasks could not be made
        logger.warning("Warm-up stopped: %s", _one_line(error))
    logger.info("Warm-up: %d tasks done in %.1f s.", done, time.monotonic() - started)
    return done
