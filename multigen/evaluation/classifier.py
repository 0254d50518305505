"""The instrument behind every figure: the project's digit classifier, loaded once per process, and its
outputs (penultimate features, log-probabilities) for any batch of digits.

Images may be float tensors or arrays in [0, 1], shaped (n, 1, 28, 28) or (n, 28, 28), or uint8
arrays (n, 28, 28). Everything runs without gradients and in batches.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from multigen.checkpoints import load_checkpoint
from multigen.device import resolve_device
from multigen.errors import MultigenError
from multigen.images import as_images
from multigen.models.classifier import DigitClassifier

DEFAULT_CLASSIFIER = Path(__file__).resolve().parents[2] / "checkpoints" / "classifier.safetensors"
BATCH_SIZE = 500  # images per forward pass


def _batches(images: torch.Tensor, batch_size: int):
    for start in range(0, images.shape[0], batch_size):
        yield images[start : start + batch_size]


class _Outputs(NamedTuple):
    features: np.ndarray  # (n, F) float64, the penultimate activations
    log_probs: np.ndarray  # (n, 10) float64, log p(y|x)


@torch.no_grad()
def _run_classifier(
    images: torch.Tensor | np.ndarray, classifier: DigitClassifier | None, batch_size: int = BATCH_SIZE
) -> _Outputs:
    classifier = classifier if classifier is not None else load_classifier()
    images = as_images(images)
    device = classifier.device
    features, log_probs = [], []
    for batch in _batches(images, batch_size):
        h = classifier.features(batch.to(device))
        features.append(h.double().cpu())
        log_probs.append(F.log_softmax(classifier.head(h).double(), dim=1).cpu())
    return _Outputs(torch.cat(features).numpy(), torch.cat(log_probs).numpy())


_classifiers: dict[tuple, DigitClassifier] = {}
_classifiers_lock = threading.Lock()


def load_classifier(
    path: str | os.PathLike[str] | None = None, *, device: str | torch.device = "auto"
) -> DigitClassifier:
    """The digit classifier (default: the shipped one), in eval mode, loaded once per process, file and device."""
    path = Path(path) if path is not None else DEFAULT_CLASSIFIER
    if not path.is_file():
        raise MultigenError(
            f"No digit classifier at {path}: the metrics need one; train it with "
            f"`python -m multigen train-classifier --out {path}`."
        )
    target = resolve_device(device)
    key = (str(path.resolve()), path.stat().st_mtime_ns, str(target))
    with _classifiers_lock:
        if key not in _classifiers:
            checkpoint = load_checkpoint(path, device=target)
            if checkpoint.kind != "classifier":
                raise MultigenError(
                    f"{path} holds a {checkpoint.kind}, not the digit classifier: pass a file written by "
                    "`python -m multigen train-classifier`."
                )
            _classifiers[key] = checkpoint.model.eval().requires_grad_(False)
        return _classifiers[key]


def classifier_features(
    images: torch.Tensor | np.ndarray, *, classifier: DigitClassifier | None = None, batch_size: int = BATCH_SIZE
) -> np.ndarray:
    """The classifier's penultimate features of ``images``, shape (n, 128), float64."""
    return _run_classifier(images, classifier, batch_size).features
