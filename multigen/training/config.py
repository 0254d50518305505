"""What a training run needs, as one typed config saved in its checkpoints (``--resume`` reads it back)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from multigen.data import DATASETS, MAX_SEED
from multigen.device import DEVICE_CHOICES
from multigen.errors import MultigenError
from multigen.models import MODELS, GenerativeModel
from multigen.models.fields import whole
from multigen.training.precision import PRECISIONS

RUNS_DIR = Path("runs")


@dataclass
class TrainingConfig:
    """Everything a training run needs; saved in its checkpoints so ``--resume`` can continue it."""

    model: str = "vae"  # vae, cvae, gan or cgan (or classifier: the metrics' instrument)
    dataset: str = "mnist-5k"  # mnist-5k works offline; mnist and fashion-mnist need their files
    epochs: int = 10  # passes over the training split (the total, also when resuming)
    batch_size: int = 64  # images per gradient step
    learning_rate: float | None = None  # None takes the model's default (VAE 1e-3, GAN 2e-4)
    latent_dim: int | None = None  # VAE latent size or GAN noise size; None takes the default
    seed: int = 0  # seeds weights, shuffling and noise: the same seed gives the same run on the CPU
    device: str = "auto"  # auto, cpu, cuda or mps
    precision: str = "auto"  # auto, fp32 or bf16: bfloat16 autocast of the steps (multigen.training.precision)
    data_dir: str | None = None  # folder of the torchvision data sets (default data/ or $MULTIGEN_DATA)
    out: str | None = None  # checkpoint path; None makes runs/<model>-<dataset>-<time>.safetensors
    sample_every: int = 50  # steps between sample grids from the fixed noise batch (and latent snapshots)
    snapshot_points: int = 500  # validation digits in each latent snapshot of a VAE
    eval_samples: int = 1000  # samples for the per-epoch FID / IS (/ accuracy, -ELBO); 0 turns them off
    lr_decay_from: int | None = None  # after this epoch every learning rate falls linearly to 0 at the end; None: constant
    model_config: dict[str, Any] = field(default_factory=dict)  # extra model fields, e.g. {"beta": 2.0}

    def validate(self) -> None:
        """Raise a one-line ``MultigenError`` for the first invalid field."""
        if self.model not in MODELS:
            raise MultigenError(f"Unknown model {self.model!r}: choose one of {', '.join(MODELS)}.")
        if self.dataset not in DATASETS:
            raise MultigenError(f"Unknown dataset {self.dataset!r}: choose one of {', '.join(DATASETS)}.")
        _check_int("epochs", self.epochs, 1, 100_000)
        _check_int("batch size", self.batch_size, 1, 65_536)
        _check_int("seed", self.seed, 0, MAX_SEED)
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
            cls = MODELS[self.model]
            if not issubclass(cls, GenerativeModel):
                raise MultigenError(f"A {cls.display_name} has no latent space: leave the latent size unset.")
            _check_int("latent size", self.latent_dim, *cls.latent_range)
        if self.precision not in PRECISIONS:
            raise MultigenError(f"Unknown precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}.")
        if str(self.device).split(":")[0] not in DEVICE_CHOICES:
            raise MultigenError(f"Unknown device {self.device!r}: choose one of {', '.join(DEVICE_CHOICES)}.")

    def model_settings(self) -> dict[str, Any]:
        """The model config fields this run sets."""
        settings = dict(self.model_config)
        if self.latent_dim is not None:
            settings[MODELS[self.model].latent_field] = int(self.latent_dim)
        if self.learning_rate is not None:
            settings["learning_rate"] = float(self.learning_rate)
        return settings


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    try:
        whole(name, value, low, high)  # the check every model config's fields go through
    except ValueError as error:
        raise MultigenError(f"The {error}") from None


def run_path(kind: str, dataset: str, folder: str | Path = RUNS_DIR) -> Path:
    """Where a new run's checkpoint goes: <folder>/<kind>-<dataset>-<UTC time>.safetensors"""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(folder) / f"{kind}-{dataset}-{stamp}.safetensors"


def default_checkpoint_path(config: TrainingConfig) -> Path:
    """runs/<model>-<dataset>-<UTC time>.safetensors"""
    return run_path(config.model, config.dataset)


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
