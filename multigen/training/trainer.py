"""The one training loop for every model, written as an iterator of progress events.

``Trainer`` knows nothing model-specific: each model brings ``make_optimizers`` and ``training_step``
and answers the loop's hooks (``prepare``, ``learning_rate_factor``, ``on_epoch_end``,
``validation_metrics``, ``preview``, ``latent_means``; see ``multigen.models.base``). The CLI feeds
the events to tqdm; the app runs the same loop in a background thread (``multigen.training.job``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from multigen.checkpoints import Checkpoint, load_checkpoint, save_checkpoint
from multigen.data import ImageDataset, epoch_order, load_dataset, subset
from multigen.device import describe_device, resolve_device
from multigen.distributed import SINGLE_PROCESS, Shard, average, process_device, share_buffers, wrap
from multigen.errors import MultigenError
from multigen.images import image_grid
from multigen.models import ClassifierConfig, TrainableModel, build_model
from multigen.training.config import TrainingConfig, default_checkpoint_path, run_path
from multigen.training.events import EpochEnd, Event, Finished, LatentSnapshot, Progress, Samples, Started
from multigen.training.kernels import fused_optimizers, with_kernels_of
from multigen.training.precision import autocast, resolve_precision

GRID_SIZE = 100  # fixed noise vectors drawn into each sample grid (10 x 10; column = digit when conditional)
MAX_TOTAL_STEPS = 2_000_000  # about a day at 40 ms a step: a longer run is a typing mistake (e.g. batch size 1)
PACE_WINDOW = 20  # steps over which images/s and the ETA are measured
EPOCH_METRICS = ("fid", "inception_score", "conditional_accuracy", "negative_elbo")  # what a cheap eval keeps


class TrainingDiverged(MultigenError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


@dataclasses.dataclass
class _Run:
    """What one pass of ``Trainer.__iter__`` works with, set up once by ``Trainer._setup``."""

    model: TrainableModel
    optimizers: dict[str, torch.optim.Optimizer]
    base_rates: dict[str, list[float]]
    networks: dict[str, torch.nn.Module]
    noise: torch.Generator  # the model's random numbers during training steps (saved, so resumes continue it)
    train: ImageDataset
    validation: ImageDataset | None  # rank 0 only: per-epoch figures
    snapshot: ImageDataset | None  # rank 0 only: the validation digits of each latent snapshot
    checkpoint: Path
    steps_per_epoch: int
    total_steps: int
    step: int
    history: list[dict[str, Any]]
    saved_extra: dict[str, torch.Tensor]


class _Pace:
    """Images per second and the time left, over the last ``PACE_WINDOW`` steps."""

    def __init__(self, step: int) -> None:
        self.window: deque[tuple[float, int]] = deque(maxlen=PACE_WINDOW)
        self.restart(step)

    def restart(self, step: int) -> None:
        """Forget the steps before a pause."""
        self.window.clear()
        self.window.append((time.perf_counter(), step))

    def steps_per_second(self, step: int) -> float:
        self.window.append((time.perf_counter(), step))
        (t0, s0), (t1, s1) = self.window[0], self.window[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0


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
        self.precision = resolve_precision(config.precision, self.device)  # fp32 or bf16, "auto" decided here
        self._resume_from = Path(resume) if resume is not None else None
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()
        self._stop_agreed = threading.Event()
        self.model: TrainableModel | None = None  # set when the run starts (its weights change as it goes on)

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
        run = self._setup()
        model, config = run.model, self.config
        yield Started(
            dataclasses.asdict(config), dataclasses.asdict(model.config), describe_device(self.device),
            config.epochs, run.steps_per_epoch, run.total_steps, run.step, run.checkpoint,
            self.shard.world_size, config.batch_size // self.shard.world_size, float(model.config.learning_rate),
            self.precision,
        )
        # After Started, so that a slow preparation (a self-conditioned GAN's clustering) shows as started.
        run.train = model.prepare(run.train, saved=run.saved_extra, seed=config.seed, shard=self.shard)
        if run.step == 0 and run.total_steps > 0:
            yield from self._pictures(run, 0)
        model.train()
        pace = _Pace(run.step)
        first_epoch = run.step // run.steps_per_epoch if run.steps_per_epoch else config.epochs
        for epoch_index in range(first_epoch, config.epochs):
            epoch, started, sums, done = epoch_index + 1, time.perf_counter(), {}, 0
            order = epoch_order(config.seed, epoch_index, len(run.train)).to(self.device)
            for batch_index in range(run.step - epoch_index * run.steps_per_epoch, run.steps_per_epoch):
                if not self._running.is_set():
                    self._running.wait()
                    pace.restart(run.step)
                if self._stopping():
                    model.on_epoch_end()
                    self._save(run)
                    yield Finished("stopped", epoch, run.step, run.checkpoint, run.history)
                    return
                values = self._step(run, order, batch_index)
                done += 1
                for name, value in values.items():
                    sums[name] = sums.get(name, 0.0) + value
                rate = pace.steps_per_second(run.step)
                eta = (run.total_steps - run.step) / rate if rate > 0 else float("nan")
                yield Progress(epoch, run.step, run.total_steps, values, rate * config.batch_size, eta)
                if run.step % config.sample_every == 0 or batch_index == run.steps_per_epoch - 1:
                    yield from self._pictures(run, epoch)
            yield self._end_epoch(run, epoch, {name: total / max(done, 1) for name, total in sums.items()},
                                  time.perf_counter() - started)
        yield Finished("completed", config.epochs, run.step, run.checkpoint, run.history)

    # -- the loop's steps -------------------------------------------------------------------------
    def _setup(self) -> _Run:
        """Build the model and its optimizers (restored when resuming), load the data, name the checkpoint."""
        config, device, shard = self.config, self.device, self.shard
        torch.manual_seed(config.seed)
        model = build_model(config.model, config.model_settings()).to(device)
        optimizers = fused_optimizers(model.make_optimizers(), device)  # before _restore loads their state
        base_rates = {name: [group["lr"] for group in opt.param_groups] for name, opt in optimizers.items()}
        networks = {name: wrap(net, shard, device) for name, net in model.trainable_networks().items()}
        self.model = model
        noise = torch.Generator(device=device).manual_seed(config.seed + 1)
        step, history, saved_training, saved_extra = 0, [], None, {}
        if self._resume_from is not None:
            step, history, saved_training, saved_extra = self._restore(model, optimizers, noise)

        train = load_dataset(config.dataset, "train", data_dir=config.data_dir).to(device)
        if config.batch_size > len(train):
            raise MultigenError(f"The batch size {config.batch_size} is larger than the {len(train)} training images: lower it.")
        steps_per_epoch = len(train) // config.batch_size  # the last, partial batch is dropped
        if steps_per_epoch * config.epochs > MAX_TOTAL_STEPS:
            raise MultigenError(
                f"{config.epochs:,} epochs of {steps_per_epoch:,} steps make {steps_per_epoch * config.epochs:,} steps, "
                f"more than the {MAX_TOTAL_STEPS:,} a run may take: use fewer epochs or a larger batch."
            )
        if saved_training is not None:
            self._check_schedule(saved_training, step, steps_per_epoch)
        checkpoint = Path(config.out) if config.out else default_checkpoint_path(config)
        self.config.out = str(checkpoint)
        validation = snapshot = None
        if shard.is_main:
            validation = load_dataset(config.dataset, "val", data_dir=config.data_dir)
            snapshot = subset(validation, config.snapshot_points).to(device)
            validation = validation.to(device)
        return _Run(
            model, optimizers, base_rates, networks, noise, train, validation, snapshot, checkpoint,
            steps_per_epoch, steps_per_epoch * config.epochs, step, history, saved_extra,
        )

    def _step(self, run: _Run, order: torch.Tensor, batch_index: int) -> dict[str, float]:
        """One gradient step on this process's slice of global batch ``batch_index``; its losses as floats."""
        size = self.config.batch_size
        rows = self.shard.rows(order[batch_index * size : (batch_index + 1) * size])
        decay_start = None if self.config.lr_decay_from is None else self.config.lr_decay_from * run.steps_per_epoch
        factor = run.model.learning_rate_factor(run.step, run.total_steps, decay_start)
        for name, optimizer in run.optimizers.items():
            for group, rate in zip(optimizer.param_groups, run.base_rates[name]):
                group["lr"] = rate * factor
        with autocast(self.precision, self.device):  # forward and backward in bfloat16 for bf16; losses in float32
            losses = run.model.training_step(
                run.train.images[rows], run.train.labels[rows], run.optimizers,
                generator=run.noise, networks=run.networks, shard=self.shard,
            )
        values = self._global_losses(losses)
        if not all(math.isfinite(v) for v in values.values()):
            kept = f"the last good checkpoint {run.checkpoint} is kept" if run.checkpoint.exists() else "nothing was saved"
            raise TrainingDiverged(
                f"Training diverged at step {run.step + 1} (loss {values.get('loss')}): {kept}; "
                f"try a lower learning rate or another seed."
            )
        run.step += 1
        return values

    def _end_epoch(self, run: _Run, epoch: int, means: dict[str, float], seconds: float) -> EpochEnd:
        """Let the model settle, measure it (rank 0), save, and report the epoch's mean losses."""
        run.model.on_epoch_end()
        metrics = self._epoch_metrics(run) if self.shard.is_main else {}
        run.history.append({"epoch": epoch, "step": run.step, "seconds": round(seconds, 3), **means, **metrics})
        self._save(run)
        return EpochEnd(epoch, run.step, means, seconds, run.checkpoint, metrics)

    def _pictures(self, run: _Run, epoch: int) -> Iterator[Event]:
        """Rank 0's sample grid from the fixed noise and, for a model with an encoder, its latent map."""
        if not self.shard.is_main:
            return
        preview = run.model.preview(GRID_SIZE, seed=self.config.seed + 2)
        if preview is not None:
            images, labels = preview
            yield Samples(epoch, run.step, images, labels, image_grid(images, nrow=10))
        mu = run.model.latent_means(run.snapshot)
        if mu is not None:
            # The raw plane for a 2-D latent, else the two principal axes (the explorer's own projections).
            if mu.shape[1] != 2:
                from multigen.explore.projection import project  # scikit-learn takes seconds to import

                mu = project(mu, "pca").points
            yield LatentSnapshot(epoch, run.step, np.asarray(mu, dtype=np.float32), run.snapshot.labels.cpu().numpy())

    def _save(self, run: _Run) -> None:
        share_buffers(run.model, self.shard)
        if not self.shard.is_main:  # the weights are the same in every process; one writes them
            return
        extra = {"rng/noise": run.noise.get_state(), "rng/torch": torch.get_rng_state(), **run.model.training_state()}
        save_checkpoint(run.checkpoint, run.model, optimizers=run.optimizers, metadata=self._metadata(run), extra=extra)

    # -- helpers ----------------------------------------------------------------------------------
    def _metadata(self, run: _Run) -> dict[str, Any]:
        last = run.history[-1] if run.history else {}
        return {
            "dataset": self.config.dataset,
            "epoch": run.step // run.steps_per_epoch if run.steps_per_epoch else 0,
            "step": run.step,
            "metrics": {k: v for k, v in last.items() if k not in ("epoch", "step", "seconds")},
            "history": run.history,
            "training": dataclasses.asdict(self.config),
            "device": str(self.device),
            "precision": self.precision,  # what the steps ran in (the weights are float32 either way)
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

    def _restore(self, model, optimizers, noise) -> tuple[int, list, dict[str, Any], dict[str, torch.Tensor]]:
        saved = load_checkpoint(self._resume_from, device=self.device)
        if saved.kind != self.config.model:
            raise MultigenError(f"{self._resume_from} holds a {saved.kind}, not a {self.config.model}: resume it with --model {saved.kind}.")
        if not saved.optimizer_states:
            raise MultigenError(f"{self._resume_from} has no optimizer state (it was exported): resume from the run's own checkpoint.")
        model.load_state_dict(saved.model.state_dict())
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(with_kernels_of(optimizer, saved.optimizer_states[name]))
        if "rng/noise" in saved.extra:
            noise.set_state(saved.extra["rng/noise"].cpu())
        if "rng/torch" in saved.extra:
            torch.set_rng_state(saved.extra["rng/torch"].cpu())
        step, history = int(saved.metadata.get("step", 0)), list(saved.metadata.get("history", []))
        return step, history, dict(saved.metadata.get("training") or {}), dict(saved.extra)

    def _epoch_metrics(self, run: _Run) -> dict[str, float]:
        """The model's own validation figures and the cheap version of ``multigen eval`` (``eval_samples``
        samples). The latter needs the shipped digit classifier and a digit data set; without them training
        goes on without it. Sampling uses its own seeded generator, so the run's random state is untouched."""
        metrics = run.model.validation_metrics(run.validation)
        if not self.config.eval_samples or self.config.dataset not in ("mnist-5k", "mnist"):
            return metrics
        from multigen.evaluation import evaluate, load_classifier

        try:
            classifier = load_classifier(device=self.device)
        except MultigenError:
            return metrics
        run.model.eval()
        try:
            result = evaluate(
                Checkpoint(run.checkpoint, run.model, {"dataset": self.config.dataset, "kind": run.model.kind}, {}, {}),
                samples=self.config.eval_samples, seed=0, classifier=classifier,
                perceptual=False,  # diversity / copy checks cost seconds per epoch; `multigen eval` has them
            )
        finally:
            run.model.train()
        return {**metrics, **{name: float(result[name]) for name in EPOCH_METRICS if name in result}}


def train(config: TrainingConfig, *, resume: str | Path | None = None, shard: Shard = SINGLE_PROCESS) -> Path:
    """Run training to the end and return the checkpoint path."""
    for event in Trainer(config, resume=resume, shard=shard):
        if isinstance(event, Finished):
            return event.checkpoint
    raise MultigenError("Training ended without finishing.")  # pragma: no cover - the loop always finishes


def classifier_training_config(
    *,
    dataset: str = "mnist-5k",
    epochs: int = 20,
    batch_size: int = 64,
    seed: int = 0,
    device: str = "auto",
    out: str | Path | None = None,
    data_dir: str | Path | None = None,
    config: ClassifierConfig | None = None,
) -> TrainingConfig:
    """The run that trains the metrics' digit classifier (``multigen train-classifier``): the same loop as
    every model (Adam, the classifier's cosine decay, random shifts, seeded weights, shuffles and shifts),
    validated each epoch on ``dataset``'s validation split, without the sample-based figures it is the
    instrument of."""
    if dataset not in ("mnist-5k", "mnist"):
        raise MultigenError(f"The digit classifier trains on mnist-5k or mnist, not {dataset!r}.")
    target = resolve_device(device)
    return TrainingConfig(
        model="classifier", dataset=dataset, epochs=epochs, batch_size=batch_size, seed=seed, device=str(target),
        out=str(out if out is not None else run_path("classifier", dataset)),
        data_dir=None if data_dir is None else str(data_dir), eval_samples=0,
        model_config=dataclasses.asdict(config) if config is not None else {},
    )
