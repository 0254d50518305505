"""multigen: train, save, load, sample and explore GANs and VAEs on handwritten digits.

The public API, in the order data flows::

    from multigen import TrainingConfig, train, load_checkpoint, load_dataset, encode_dataset, project, evaluate
    path = train(TrainingConfig(model="vae", latent_dim=2, epochs=5))   # runs/vae-mnist-5k-<time>.safetensors
    model = load_checkpoint(path).model                                 # rebuilt from the config in the file
    images = model.sample(16)                                           # (16, 1, 28, 28) in [0, 1]
    codes = encode_dataset(model, load_dataset("mnist-5k", "val"))      # mu, logvar, labels, images
    digit = model.draw(project(codes.mu, "pca").inverse([0.5, -1.0]))   # (1, 28, 28) uint8
    evaluate(path)                                                      # FID, IS, -ELBO, ... as a dict

The names are imported on first use (PEP 562), so ``import multigen`` and the CLI's ``--help`` stay quick.
"""

from __future__ import annotations

import importlib
from typing import Any

from multigen.errors import MultigenError

__version__ = "0.1.0"

# name -> the module that defines it
_PUBLIC = {
    "load_dataset": "multigen.data",
    "DatasetUnavailable": "multigen.data",
    "build_model": "multigen.models",
    "GenerativeModel": "multigen.models",
    "TrainingConfig": "multigen.training",
    "Trainer": "multigen.training",
    "TrainingJob": "multigen.training",
    "train": "multigen.training",
    "load_checkpoint": "multigen.checkpoints",
    "save_checkpoint": "multigen.checkpoints",
    "CheckpointError": "multigen.checkpoints",
    "encode_dataset": "multigen.explore.latent",
    "project": "multigen.explore.projection",
    "evaluate": "multigen.evaluation",
}

__all__ = [  # noqa: RUF022 - in the order data flows, as above
    "MultigenError", "__version__", "load_dataset", "DatasetUnavailable", "build_model", "GenerativeModel",
    "TrainingConfig", "Trainer", "TrainingJob", "train", "load_checkpoint", "save_checkpoint", "CheckpointError",
    "encode_dataset", "project", "evaluate",
]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value  # looked up once
        return value
    raise AttributeError(f"module 'multigen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
