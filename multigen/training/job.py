"""The background training run the app shares between browser sessions: one thread, one lock, no Streamlit."""

from __future__ import annotations

import copy
import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from multigen.device import use_default_threads
from multigen.errors import MultigenError
from multigen.training.config import TrainingConfig
from multigen.training.events import EpochEnd, Event, Finished, LatentSnapshot, Progress, Samples, Started
from multigen.training.trainer import Trainer


class JobBusy(MultigenError):
    """A training job is already running."""


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
    MAX_LOSS_ROWS = 4000  # loss rows kept; past it every other row is dropped (the curve keeps its shape)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # notified whenever the state changes
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
        """Hold a running run after its current step."""
        self._switch("running", "paused")

    def resume(self) -> None:
        """Continue a paused run."""
        self._switch("paused", "running")

    def _switch(self, current: str, wanted: str) -> None:
        with self._lock:
            if self._trainer is not None and self._state.status == current:
                (self._trainer.pause if wanted == "paused" else self._trainer.resume)()
                self._state.status = wanted
                self._changed.notify_all()

    def stop(self) -> None:
        with self._lock:
            if self._trainer is not None and self._state.active:
                self._trainer.stop()

    def state(self) -> JobState:
        """A snapshot copy of the job's state."""
        with self._lock:
            return self._snapshot()

    def wait_until(self, condition: Callable[[JobState], bool], timeout: float | None = None) -> bool:
        """Block until ``condition(state)`` holds (True) or ``timeout`` seconds pass (False); the state is
        looked at again each time it changes, e.g. ``job.wait_until(lambda s: len(s.grids) >= 2, 60)``."""
        with self._changed:
            return self._changed.wait_for(lambda: condition(self._snapshot()), timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run ends (True) or ``timeout`` seconds pass (False)."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _snapshot(self) -> JobState:
        snapshot = copy.copy(self._state)  # the lists are copied: the run goes on appending to its own
        snapshot.losses = list(self._state.losses)
        snapshot.epoch_history = list(self._state.epoch_history)
        snapshot.grids = list(self._state.grids)
        return snapshot

    def _run(self, trainer: Trainer) -> None:
        use_default_threads()  # the app's script threads run inference on one thread; training wants all
        try:
            for event in trainer:
                with self._changed:
                    self._apply(event, trainer)
                    self._changed.notify_all()
        except Exception as error:  # noqa: BLE001 - the thread must report, never die silently
            message = str(error) if isinstance(error, MultigenError) else f"Training failed: {type(error).__name__}: {error}"
            with self._changed:
                self._state.status, self._state.error = "failed", message
                self._changed.notify_all()

    def _apply(self, event: Event, trainer: Trainer) -> None:
        state = self._state
        if isinstance(event, Started):
            state.status = "paused" if trainer.paused else "running"
            state.device, state.epochs, state.total_steps = f"{event.device}, {event.precision}", event.epochs, event.total_steps
            state.step, state.checkpoint, state.config = event.start_step, str(event.checkpoint), event.config
        elif isinstance(event, Progress):
            state.epoch, state.step = event.epoch, event.step
            state.images_per_second, state.eta_seconds = event.images_per_second, event.eta_seconds
            state.losses.append({"step": event.step, **event.losses})
            if len(state.losses) > self.MAX_LOSS_ROWS:
                state.losses = state.losses[::2]  # a bounded history, however long the run
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
