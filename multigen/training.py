"""The one training loop for all four models, written as an iterator of progress events.

``Trainer`` knows nothing model-specific: each model brings ``make_optimizers`` and
``training_step``. The CLI feeds the events to tqdm; the app runs the same loop in a background
thread through ``TrainingJob`` and draws the job's state. Events carry numpy arrays and plain
numbers, so whoever draws them never needs torch.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from multigen.checkpoints import load_checkpoint, save_checkpoint
from multigen.clusters import cluster_images
from multigen.data import DATASETS, ImageDataset, epoch_order, load_dataset, subset
from multigen.device import DEVICE_CHOICES, describe_device, use_default_threads
from multigen.distributed import SINGLE_PROCESS, Shard, average, broadcast, process_device, share_buffers, wrap
from multigen.errors import MultigenError
from multigen.images import image_grid, to_uint8
from multigen.models import GENERATIVE_KINDS, build_model

GRID_SIZE = 100  # fixed noise vectors drawn into each sample grid (10 x 10; column = digit when conditional)
RUNS_DIR = Path("runs")


class TrainingDiverged(MultigenError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class JobBusy(MultigenError):
    """A training job is already running."""


@dataclass
class TrainingConfig:
    """Everything a training run needs; saved in its checkpoints so ``--resume`` can continue it."""

    model: str = "vae"  # vae, cvae, gan or cgan
    dataset: str = "mnist-5k"  # mnist-5k works offline; mnist and fashion-mnist need their files
    epochs: int = 10  # passes over the training split (the total, also when resuming)
    batch_size: int = 64  # images per gradient step
    learning_rate: float | None = None  # None takes the model's default (VAE 1e-3, GAN 2e-4)
    latent_dim: int | None = None  # VAE latent size or GAN noise size; None takes the default
    seed: int = 0  # seeds weights, shuffling and noise: the same seed gives the same run on the CPU
    device: str = "auto"  # auto, cpu, cuda or mps
    data_dir: str | None = None  # folder of the torchvision data sets (default data/ or $MULTIGEN_DATA)
    out: str | None = None  # checkpoint path; None makes runs/<model>-<time>.safetensors
    sample_every: int = 50  # steps between sample grids from the fixed noise batch (and latent snapshots)
    snapshot_points: int = 500  # validation digits in each latent snapshot of a VAE
    eval_samples: int = 1000  # samples for the per-epoch FID / IS (/ accuracy, -ELBO); 0 turns them off
    lr_decay_from: int | None = None  # after this epoch every learning rate falls linearly to 0 at the end; None: constant
    model_config: dict[str, Any] = field(default_factory=dict)  # extra model fields, e.g. {"beta": 2.0}

    def validate(self) -> None:
        """Raise a one-line ``MultigenError`` for the first invalid field."""
        if self.model not in GENERATIVE_KINDS:
            raise MultigenError(f"Unknown model {self.model!r}: choose one of {', '.join(GENERATIVE_KINDS)}.")
        if self.dataset not in DATASETS:
            raise MultigenError(f"Unknown dataset {self.dataset!r}: choose one of {', '.join(DATASETS)}.")
        _check_int("epochs", self.epochs, 1, 100_000)
        _check_int("batch size", self.batch_size, 1, 65_536)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        _check_int("sample every", self.sample_every, 1, 10**9)
        if self.eval_samples != 0:
            _check_int("number of evaluation samples", self.eval_samples, 10, 100_000)
        if self.learning_rate is not None and not (
            isinstance(self.learning_rate, (int, float)) and math.isfinite(self.learning_rate) and 0 < self.learning_rate <= 1
        ):
            raise MultigenError(f"Learning rate must be a number in (0, 1], got {self.learning_rate}.")
        if self.lr_decay_from is not None:
            _check_int("epoch after which the learning rate falls", self.lr_decay_from, 0, self.epochs - 1)
        if self.latent_dim is not None:
            low, high = (2, 128) if self.model in ("vae", "cvae") else (1, 512)
            _check_int("latent size", self.latent_dim, low, high)
        if str(self.device).split(":")[0] not in DEVICE_CHOICES:
            raise MultigenError(f"Unknown device {self.device!r}: choose one of {', '.join(DEVICE_CHOICES)}.")

    def model_settings(self) -> dict[str, Any]:
        """The model config fields this run sets."""
        settings = dict(self.model_config)
        if self.latent_dim is not None:
            settings["latent_dim" if self.model in ("vae", "cvae") else "noise_dim"] = int(self.latent_dim)
        if self.learning_rate is not None:
            settings["learning_rate"] = float(self.learning_rate)
        return settings


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise MultigenError(f"The {name} must be a whole number from {low} to {high}, got {value!r}.")


# -- events --------------------------------------------------------------------------------------
@dataclass
class Started:
    """The run is set up: sizes, device and where its checkpoint goes."""

    config: dict[str, Any]
    model_config: dict[str, Any]
    device: str
    epochs: int
    steps_per_epoch: int
    total_steps: int
    start_step: int
    checkpoint: Path
    world_size: int = 1  # processes sharing each global batch (torchrun)
    batch_per_process: int = 0  # rows of the global batch each process trains on
    learning_rate: float = 0.0  # the optimizers' step size (the same for any number of processes)


@dataclass
class Progress:
    """One gradient step done."""

    epoch: int  # 1-based epoch being trained
    step: int  # global steps done
    total_steps: int
    losses: dict[str, float]
    images_per_second: float
    eta_seconds: float


@dataclass
class Samples:
    """Images from the fixed noise batch; the same noise every time, so the grids show learning."""

    epoch: int
    step: int
    images: np.ndarray  # (n, 28, 28) uint8
    labels: np.ndarray | None  # the digit asked for, for conditional models
    grid: np.ndarray  # (H, W) uint8, 10 per row


@dataclass
class LatentSnapshot:
    """A VAE's latent means of a fixed validation subset, as 2-D points (PCA when latent_dim > 2)."""

    epoch: int
    step: int
    points: np.ndarray  # (n, 2) float32
    labels: np.ndarray  # (n,) int64


@dataclass
class EpochEnd:
    """An epoch finished and was saved."""

    epoch: int
    step: int
    losses: dict[str, float]  # means over the epoch
    seconds: float
    checkpoint: Path
    metrics: dict[str, float] = field(default_factory=dict)  # cheap FID, IS, ... when the classifier is there


@dataclass
class Finished:
    """The run ended, completed or stopped; ``checkpoint`` holds its last state."""

    reason: str  # "completed" or "stopped"
    epoch: int
    step: int
    checkpoint: Path
    history: list[dict[str, Any]]


Event = Started | Progress | Samples | LatentSnapshot | EpochEnd | Finished


def default_checkpoint_path(config: TrainingConfig) -> Path:
    """runs/<model>-<dataset>-<UTC time>.safetensors"""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return RUNS_DIR / f"{config.model}-{config.dataset}-{stamp}.safetensors"


class Trainer:
    """Iterate over a training run's events; ``pause``, ``resume`` and ``stop`` work from any thread.

    Under torchrun, pass the process's ``shard`` (from ``multigen.distributed.process_group``): every
    process then trains its slice of each global batch and only rank 0 samples, measures and saves.
    """

    def __init__(self, config: TrainingConfig, *, resume: str | Path | None = None, shard: Shard = SINGLE_PROCESS) -> None:
        config.validate()
        shard.check_batch(config.batch_size)
        self.config = copy.deepcopy(config)
        self.shard = shard
        self.device = process_device(config.device, shard)
        self._resume_from = Path(resume) if resume is not None else None
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()
        self._stop_agreed = threading.Event()
        self.model: torch.nn.Module | None = None  # set when the run starts
        self.clusters: torch.Tensor | None = None  # a self-conditioned GAN's cluster id of each training digit

    # -- control from other threads ---------------------------------------------------------------
    def pause(self) -> None:
        """Hold the run after the current step."""
        self._running.clear()

    def resume(self) -> None:
        """Continue a paused run."""
        self._running.set()

    def stop(self) -> None:
        """End the run after the current step; it saves a checkpoint first."""
        self._stop.set()
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        """True once ``stop`` was called."""
        return self._stop.is_set()

    # -- the loop ---------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Event]:
        config, device, shard = self.config, self.device, self.shard
        main = shard.is_main
        torch.manual_seed(config.seed)
        model = build_model(config.model, config.model_settings()).to(device)
        optimizers = model.make_optimizers()
        base_rates = {name: [group["lr"] for group in opt.param_groups] for name, opt in optimizers.items()}
        networks = {name: wrap(net, shard, device) for name, net in model.trainable_networks().items()}
        self.model = model  # the model being trained (its weights change while the run goes on)
        noise = torch.Generator(device=device).manual_seed(config.seed + 1)
        start_step, history, saved_training, saved_clusters = 0, [], None, None
        if self._resume_from is not None:
            start_step, history, saved_training, saved_clusters = self._restore(model, optimizers, noise)

        train = load_dataset(config.dataset, "train", data_dir=config.data_dir).to(device)
        if config.batch_size > len(train):
            raise MultigenError(f"The batch size {config.batch_size} is larger than the {len(train)} training images: lower it.")
        steps_per_epoch = len(train) // config.batch_size  # the last, partial batch is dropped
        total_steps = steps_per_epoch * config.epochs
        if saved_training is not None:
            self._check_schedule(saved_training, start_step, steps_per_epoch)
        checkpoint = Path(config.out) if config.out else default_checkpoint_path(config)
        self.config.out = str(checkpoint)

        fixed = torch.Generator().manual_seed(config.seed + 2)
        fixed_z = torch.randn((GRID_SIZE, model.latent_dim), generator=fixed).to(device)
        fixed_labels = (torch.arange(GRID_SIZE) % 10).to(device) if model.conditional else None
        snapshot_set = None
        if config.model in ("vae", "cvae") and main:
            snapshot_set = subset(load_dataset(config.dataset, "val", data_dir=config.data_dir), config.snapshot_points)
            snapshot_set = snapshot_set.to(device)

        yield Started(
            dataclasses.asdict(self.config), dataclasses.asdict(model.config), describe_device(device),
            config.epochs, steps_per_epoch, total_steps, start_step, checkpoint,
            shard.world_size, config.batch_size // shard.world_size, float(model.config.learning_rate),
        )
        clusters = None
        if getattr(model.config, "cluster_code", False):  # a self-conditioned GAN trains on cluster ids, not labels
            clusters = self.clusters = self._clusters(train, int(model.config.categorical_code), saved_clusters)
            train = dataclasses.replace(train, labels=clusters.to(device))
        if start_step == 0 and total_steps > 0 and main:
            yield self._samples(model, fixed_z, fixed_labels, 0, 0)
            if snapshot_set is not None:
                yield self._snapshot(model, snapshot_set, 0, 0)

        def save(step: int) -> None:
            share_buffers(model, shard)
            if not main:  # the weights are the same in every process; one writes them
                return
            save_checkpoint(
                checkpoint, model, optimizers=optimizers,
                metadata=self._metadata(model, step, steps_per_epoch, history),
                extra={
                    "rng/noise": noise.get_state(), "rng/torch": torch.get_rng_state(),
                    **({"data/clusters": clusters} if clusters is not None else {}),
                },
            )

        def settle() -> None:
            """Let the model finish what it does once an epoch (a GAN's averaged generator's statistics)."""
            finished = getattr(model, "epoch_finished", None)
            if finished is not None:
                finished()

        step = start_step
        window: deque[tuple[float, int]] = deque(maxlen=20)
        window.append((time.perf_counter(), step))
        model.train()
        first_epoch = start_step // steps_per_epoch if steps_per_epoch else config.epochs
        for epoch_index in range(first_epoch, config.epochs):
            epoch = epoch_index + 1
            order = epoch_order(config.seed, epoch_index, len(train)).to(device)
            epoch_start = time.perf_counter()
            sums: dict[str, float] = {}
            done_in_epoch = 0
            for batch_index in range(step - epoch_index * steps_per_epoch, steps_per_epoch):
                if not self._running.is_set():
                    self._running.wait()
                    window.clear()
                    window.append((time.perf_counter(), step))
                if self._stopping():
                    settle()
                    save(step)
                    yield Finished("stopped", epoch, step, checkpoint, history)
                    return
                rows = shard.rows(order[batch_index * config.batch_size : (batch_index + 1) * config.batch_size])
                if config.lr_decay_from is not None:
                    factor = learning_rate_factor(step, total_steps, config.lr_decay_from * steps_per_epoch)
                    for name, optimizer in optimizers.items():
                        for group, rate in zip(optimizer.param_groups, base_rates[name]):
                            group["lr"] = rate * factor
                losses = model.training_step(
                    train.images[rows], train.labels[rows], optimizers, generator=noise, networks=networks, shard=shard
                )
                values = self._global_losses(losses)
                if not all(math.isfinite(v) for v in values.values()):
                    kept = f"the last good checkpoint {checkpoint} is kept" if checkpoint.exists() else "nothing was saved"
                    raise TrainingDiverged(
                        f"Training diverged at step {step + 1} (loss {values.get('loss')}): {kept}; "
                        f"try a lower learning rate or another seed."
                    )
                step += 1
                done_in_epoch += 1
                for name, value in values.items():
                    sums[name] = sums.get(name, 0.0) + value
                now = time.perf_counter()
                window.append((now, step))
                (t0, s0), (t1, s1) = window[0], window[-1]
                rate = (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0
                eta = (total_steps - step) / rate if rate > 0 else float("nan")
                yield Progress(epoch, step, total_steps, values, rate * config.batch_size, eta)
                if main and (step % config.sample_every == 0 or batch_index == steps_per_epoch - 1):
                    yield self._samples(model, fixed_z, fixed_labels, epoch, step)
                    if snapshot_set is not None:
                        yield self._snapshot(model, snapshot_set, epoch, step)
            means = {name: total / max(done_in_epoch, 1) for name, total in sums.items()}
            seconds = time.perf_counter() - epoch_start
            settle()
            metrics = self._epoch_metrics(model, checkpoint) if main else {}
            history.append({"epoch": epoch, "step": step, "seconds": round(seconds, 3), **means, **metrics})
            save(step)
            yield EpochEnd(epoch, step, means, seconds, checkpoint, metrics)
        yield Finished("completed", config.epochs, step, checkpoint, history)

    # -- helpers ----------------------------------------------------------------------------------
    def _metadata(self, model: torch.nn.Module, step: int, steps_per_epoch: int, history: list) -> dict[str, Any]:
        last = history[-1] if history else {}
        return {
            "dataset": self.config.dataset,
            "epoch": step // steps_per_epoch if steps_per_epoch else 0,
            "step": step,
            "metrics": {k: v for k, v in last.items() if k not in ("epoch", "step", "seconds")},
            "history": history,
            "training": dataclasses.asdict(self.config),
            "device": str(self.device),
            "world_size": self.shard.world_size,
        }

    def _global_losses(self, losses: dict[str, torch.Tensor]) -> dict[str, float]:
        """The step's losses as floats, averaged over all processes with one collective.

        A stop asked of any process travels with them, so every process stops after the same step.
        """
        if self.shard.world_size <= 1:
            return {name: float(value) for name, value in losses.items()}
        names = list(losses)
        stop = torch.tensor([1.0 if self._stop.is_set() else 0.0], device=self.device)
        packed = average(torch.cat([torch.stack([losses[n].float() for n in names]), stop]), self.shard).tolist()
        if packed[-1] > 0:
            self._stop_agreed.set()
        return dict(zip(names, packed[:-1]))

    def _stopping(self) -> bool:
        # With several processes, a stop counts only once all of them know of it (see _global_losses).
        return (self._stop_agreed if self.shard.world_size > 1 else self._stop).is_set()

    def _check_schedule(self, saved: dict[str, Any], start_step: int, steps_per_epoch: int) -> None:
        """Refuse a resume whose learning-rate schedule differs from the run's for steps already taken:
        it would not be the run that one uninterrupted ``train`` with these settings gives."""
        def constant_so_far(decay_from: int | None) -> bool:
            return decay_from is None or start_step <= decay_from * steps_per_epoch

        old, new = saved.get("lr_decay_from"), self.config.lr_decay_from
        if constant_so_far(old) and constant_so_far(new):
            return
        if old != new or saved.get("epochs") != self.config.epochs:
            raise MultigenError(
                f"The run's learning rate already falls (from epoch {old} of {saved.get('epochs')}; it is at step "
                f"{start_step}): resume it with its own --epochs and --lr-decay-from, or start a new run."
            )

    def _clusters(self, train: ImageDataset, k: int, saved: torch.Tensor | None) -> torch.Tensor:
        """The training digits' cluster ids: from the checkpoint when resuming, else found by rank 0 and sent
        to every other process. (t-SNE's result can differ with the thread count or BLAS, so a resumed run
        and every process must not cluster again.) Takes ~35 s for mnist-5k; pause and stop wait for it."""
        if saved is not None:
            if saved.shape != (len(train),) or int(saved.min()) < 0 or int(saved.max()) >= k:
                raise MultigenError(
                    f"{self._resume_from} holds no cluster ids 0-{k - 1} for the {len(train)} training digits of "
                    "this data set: resume it on the data set it was trained on, or train it anew."
                )
            return saved.long().cpu()
        if self.shard.is_main:
            ids = cluster_images(train.images, k, seed=self.config.seed)
        else:
            ids = torch.zeros(len(train), dtype=torch.int64)
        return broadcast(ids.to(self.device), self.shard).cpu()

    def _restore(self, model, optimizers, noise) -> tuple[int, list, dict[str, Any], torch.Tensor | None]:
        saved = load_checkpoint(self._resume_from, device=self.device)
        if saved.kind != self.config.model:
            raise MultigenError(f"{self._resume_from} holds a {saved.kind}, not a {self.config.model}: resume it with --model {saved.kind}.")
        if not saved.optimizer_states:
            raise MultigenError(f"{self._resume_from} has no optimizer state (it was exported): resume from the run's own checkpoint.")
        model.load_state_dict(saved.model.state_dict())
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(saved.optimizer_states[name])
        if "rng/noise" in saved.extra:
            noise.set_state(saved.extra["rng/noise"].cpu())
        if "rng/torch" in saved.extra:
            torch.set_rng_state(saved.extra["rng/torch"].cpu())
        step, history = int(saved.metadata.get("step", 0)), list(saved.metadata.get("history", []))
        return step, history, dict(saved.metadata.get("training") or {}), saved.extra.get("data/clusters")

    def _epoch_metrics(self, model: torch.nn.Module, checkpoint: Path) -> dict[str, float]:
        """The cheap version of ``multigen eval`` (``eval_samples`` samples), or {} when it cannot run.

        It needs the shipped digit classifier and a digit data set; without them training goes on
        without metrics. Sampling uses its own seeded generator, so the run's random state is untouched.
        """
        if not self.config.eval_samples or self.config.dataset not in ("mnist-5k", "mnist"):
            return {}
        from multigen.checkpoints import Checkpoint
        from multigen.metrics import evaluate, load_classifier

        try:
            classifier = load_classifier(device=self.device)
        except MultigenError:
            return {}
        model.eval()
        try:
            result = evaluate(
                Checkpoint(checkpoint, model, {"dataset": self.config.dataset, "kind": model.kind}, {}, {}),
                samples=self.config.eval_samples, seed=0, classifier=classifier,
                perceptual=False,  # diversity / copy checks cost seconds per epoch; `multigen eval` has them
            )
        finally:
            model.train()
        kept = ("fid", "inception_score", "conditional_accuracy", "negative_elbo")
        return {name: float(result[name]) for name in kept if name in result}

    @torch.no_grad()
    def _samples(self, model, z, labels, epoch: int, step: int) -> Samples:
        model.eval()
        images = to_uint8(model.generate(z, labels))
        model.train()
        return Samples(epoch, step, images, None if labels is None else labels.cpu().numpy(), image_grid(images, nrow=10))

    @torch.no_grad()
    def _snapshot(self, model, dataset, epoch: int, step: int) -> LatentSnapshot:
        from multigen.latent import project  # scikit-learn takes seconds to import: only when a VAE needs it

        model.eval()
        mu, _ = model.encode(dataset.images, dataset.labels if model.conditional else None)
        model.train()
        mu = mu.float().cpu().numpy()
        # The raw plane for a 2-D latent, else the two principal axes (the explorer's own projections).
        points = mu if mu.shape[1] == 2 else project(mu, "pca").points
        return LatentSnapshot(epoch, step, np.asarray(points, dtype=np.float32), dataset.labels.cpu().numpy())


def learning_rate_factor(step: int, total_steps: int, decay_start: int) -> float:
    """The share of its base learning rate step ``step`` (0-based) takes: 1 until ``decay_start``, then a
    straight line down to 1/(total - start) at the last step (the decay of, e.g., Zhu et al., "Unpaired
    Image-to-Image Translation using Cycle-Consistent Adversarial Networks", ICCV 2017)."""
    if step < decay_start:
        return 1.0
    return (total_steps - step) / max(total_steps - decay_start, 1)


def train(config: TrainingConfig, *, resume: str | Path | None = None, shard: Shard = SINGLE_PROCESS) -> Path:
    """Run training to the end and return the checkpoint path."""
    for event in Trainer(config, resume=resume, shard=shard):
        if isinstance(event, Finished):
            return event.checkpoint
    raise MultigenError("Training ended without finishing.")  # pragma: no cover - the loop always finishes


def resume_config(checkpoint: str | Path, **overrides: Any) -> TrainingConfig:
    """The training config saved in a run's checkpoint, with ``overrides`` (e.g. epochs) applied."""
    from multigen.checkpoints import read_metadata

    saved = read_metadata(checkpoint).get("training")
    if not saved:
        raise MultigenError(f"{checkpoint} records no training run: resume from a checkpoint that `multigen train` wrote.")
    known = {f.name for f in dataclasses.fields(TrainingConfig)}
    values = {k: v for k, v in saved.items() if k in known}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return TrainingConfig(**values)


# -- the background job the app shares between browser sessions ---------------------------------
@dataclass
class JobState:
    """A copy of a job's state, safe to read while the job goes on."""

    status: str = "idle"  # idle, starting, running, paused, finished, stopped, failed
    config: dict[str, Any] | None = None
    device: str = ""
    epoch: int = 0
    epochs: int = 0
    step: int = 0
    total_steps: int = 0
    images_per_second: float = 0.0
    eta_seconds: float = float("nan")
    losses: list[dict[str, float]] = field(default_factory=list)  # one row per step: {"step", losses...}
    epoch_history: list[dict[str, Any]] = field(default_factory=list)
    grids: list[tuple[int, int, np.ndarray]] = field(default_factory=list)  # (epoch, step, grid)
    latent: LatentSnapshot | None = None
    checkpoint: str | None = None
    error: str | None = None
    started_at: float | None = None

    @property
    def active(self) -> bool:
        """True while the run holds the job (starting, running or paused)."""
        return self.status in ("starting", "running", "paused")

    @property
    def fraction(self) -> float:
        return self.step / self.total_steps if self.total_steps else 0.0


class TrainingJob:
    """One training run in a background thread, shared by every browser session of the app.

    A lock guards all state; the thread never touches Streamlit. ``start`` refuses a second run
    while one is active, so two tabs cannot train at once.
    """

    MAX_GRIDS = 200  # sample grids kept for scrubbing back through a run

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = JobState()
        self._trainer: Trainer | None = None
        self._thread: threading.Thread | None = None

    def start(self, config: TrainingConfig, *, resume: str | Path | None = None) -> None:
        """Validate ``config`` and start training in the background; ``JobBusy`` if a run is active."""
        config.validate()
        with self._lock:
            if self._state.active:
                raise JobBusy("A training run is already going on: stop it or wait for it to finish before starting another.")
            trainer = Trainer(config, resume=resume)
            self._trainer = trainer
            self._state = JobState(status="starting", config=dataclasses.asdict(config), started_at=time.time())
            self._thread = threading.Thread(target=self._run, args=(trainer,), name="multigen-training", daemon=True)
            self._thread.start()

    def pause(self) -> None:
        with self._lock:
            if self._trainer is not None and self._state.status == "running":
                self._trainer.pause()
                self._state.status = "paused"

    def resume(self) -> None:
        with self._lock:
            if self._trainer is not None and self._state.status == "paused":
                self._trainer.resume()
                self._state.status = "running"

    def stop(self) -> None:
        with self._lock:
            if self._trainer is not None and self._state.active:
                self._trainer.stop()

    def state(self) -> JobState:
        """A snapshot copy of the job's state."""
        with self._lock:
            snapshot = copy.copy(self._state)
            snapshot.losses = list(self._state.losses)
            snapshot.epoch_history = list(self._state.epoch_history)
            snapshot.grids = list(self._state.grids)
            return snapshot

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run ends (True) or ``timeout`` seconds pass (False)."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _run(self, trainer: Trainer) -> None:
        use_default_threads()  # the app's script threads run inference on one thread; training wants all
        try:
            for event in trainer:
                with self._lock:
                    self._apply(event, trainer)
        except MultigenError as error:
            with self._lock:
                self._state.status, self._state.error = "failed", str(error)
        except Exception as error:  # noqa: BLE001 - the thread must report, never die silently
            with self._lock:
                self._state.status, self._state.error = "failed", f"Training failed: {type(error).__name__}: {error}"

    def _apply(self, event: Event, trainer: Trainer) -> None:
        state = self._state
        if isinstance(event, Started):
            state.status = "paused" if trainer.paused else "running"
            state.device, state.epochs, state.total_steps = event.device, event.epochs, event.total_steps
            state.step, state.checkpoint, state.config = event.start_step, str(event.checkpoint), event.config
        elif isinstance(event, Progress):
            state.epoch, state.step = event.epoch, event.step
            state.images_per_second, state.eta_seconds = event.images_per_second, event.eta_seconds
            state.losses.append({"step": event.step, **event.losses})
        elif isinstance(event, Samples):
            state.grids.append((event.epoch, event.step, event.grid))
            if len(state.grids) > self.MAX_GRIDS:
                del state.grids[1 : len(state.grids) - self.MAX_GRIDS + 1]  # keep the first grid for contrast
        elif isinstance(event, LatentSnapshot):
            state.latent = event
        elif isinstance(event, EpochEnd):
            state.epoch_history.append({"epoch": event.epoch, "step": event.step, **event.losses, **event.metrics})
        elif isinstance(event, Finished):
            state.status = "finished" if event.reason == "completed" else "stopped"
            state.checkpoint = str(event.checkpoint)
