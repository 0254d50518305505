"""What a training run reports, step by step: small dataclasses of numpy arrays and plain numbers, so
whoever draws them (the CLI's tqdm, the app's background job) never needs torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


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
    precision: str = "fp32"  # what the steps run in: fp32, or bf16 autocast (``auto`` resolved)


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
