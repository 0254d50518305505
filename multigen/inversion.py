"""GAN inversion: the noise vector from which a GAN draws a given digit, or the nearest it can draw.

A GAN has no encoder, so the way back from a picture to z is a search (Zhu et al., "Generative Visual
Manipulation on the Natural Image Manifold", ECCV 2016; Creswell & Bharath, "Inverting the Generator of a
Generative Adversarial Network", 2018): several random starts, each moved by Adam on the pixel error plus
the project's perceptual distance (``multigen.evaluation.perceptual``, LPIPS-style after Zhang et al.,
2018), with a small pull towards the typical set of N(0, I); the start that ends closest, perceptually, is
kept. A cGAN searches with the given label, or with the one the digit classifier reads in the target.

``Inversion.real_distance`` says how good the answer is: the median perceptual distance between two real
validation digits of the same kind. A found digit closer than that is one the GAN can draw; far above it,
only something near it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from multigen.data import load_dataset
from multigen.errors import MultigenError
from multigen.evaluation.classifier import load_classifier
from multigen.evaluation.perceptual import differentiable_features, perceptual_distance, perceptual_distance_matrix
from multigen.images import as_images, to_uint8
from multigen.models import DigitClassifier, GenerativeModel

STARTS = 8  # random starts searched side by side (one batch)
STEPS = 150  # Adam steps
LEARNING_RATE = 0.05
PRIOR_WEIGHT = 1e-3  # the pull of ||z||^2 / d towards 1, where N(0, I)'s vectors lie


@dataclass(frozen=True)
class Inversion:
    """The best of the searched starts."""

    z: np.ndarray  # (latent_dim,) float32: the noise vector found
    label: int | None  # the digit a cGAN drew it as (given, or read by the classifier), None for a GAN
    image: np.ndarray  # (28, 28) uint8: what the GAN draws from z
    distance: float  # perceptual distance between image and the target (0 = the same picture)
    real_distance: float  # median distance between two real validation digits of the same kind


_searching: dict[int, threading.Lock] = {}  # one search at a time per model: the app's models are shared
_searching_guard = threading.Lock()
_typical: dict[tuple[int, int], float] = {}
_typical_lock = threading.Lock()


def real_pair_distance(label: int, *, classifier: DigitClassifier) -> float:
    """The median perceptual distance between two different real validation digits (mnist-5k) of ``label``."""
    key = (id(classifier), int(label))
    with _typical_lock:
        if key not in _typical:
            validation = load_dataset("mnist-5k", "val")
            digits = validation.images[validation.labels == int(label)]
            matrix = perceptual_distance_matrix(digits, digits, classifier=classifier)
            _typical[key] = float(np.median(matrix[np.triu_indices(len(digits), k=1)]))
        return _typical[key]


def invert(
    model: GenerativeModel,
    target: Any,
    *,
    label: int | None = None,
    starts: int = STARTS,
    steps: int = STEPS,
    seed: int = 0,
    classifier: DigitClassifier | None = None,
) -> Inversion:
    """Search the GAN's noise for ``target`` (a (28, 28) uint8 digit or floats in [0, 1], white on black as
    MNIST's); ``label`` for a cGAN (None: the classifier's reading). Seeded: the same call finds the same z."""
    if not isinstance(model, GenerativeModel) or model.has_encoder:
        raise MultigenError("Inversion searches a GAN's noise: load a gan or cgan checkpoint (a VAE encodes a digit directly).")
    if not 1 <= int(starts) <= 64 or not 1 <= int(steps) <= 5000:
        raise MultigenError(f"Use 1 to 64 starts and 1 to 5,000 steps, got {starts} and {steps}.")
    judge = classifier if classifier is not None else load_classifier(device=model.device)
    pixels = np.asarray(target)
    x = as_images(pixels[None] if pixels.ndim == 2 else pixels)[:1].to(model.device)
    with torch.no_grad():
        read = int(judge(x.to(judge.device)).argmax(1)[0])
    if model.conditional:
        label = read if label is None else int(label)
        if not 0 <= label < model.config.num_classes:
            raise MultigenError(f"The digit's label must be 0 to {model.config.num_classes - 1}, got {label}.")
    else:
        label = None
    labels = model.label_tensor(label, int(starts))
    wanted = differentiable_features(x, judge).detach()
    z = torch.randn((int(starts), model.latent_dim), generator=torch.Generator().manual_seed(int(seed)))
    z = z.to(model.device).requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=LEARNING_RATE)
    with _searching_guard:
        searching = _searching.setdefault(id(model), threading.Lock())
    with searching:  # a second session's search on the same model would restore requires_grad under this one
        was_training = model.training
        frozen = [(parameter, parameter.requires_grad) for parameter in model.parameters()]
        model.eval()
        for parameter, _ in frozen:
            parameter.requires_grad_(False)  # only z moves
        try:
            for _ in range(int(steps)):
                images = model.generate(z, labels)
                pixel = ((images - x) ** 2).mean(dim=(1, 2, 3))
                perceptual = ((differentiable_features(images, judge) - wanted) ** 2).sum(dim=1)
                prior = PRIOR_WEIGHT * (z.pow(2).mean(dim=1) - 1).pow(2)
                optimizer.zero_grad(set_to_none=True)
                (pixel + perceptual + prior).sum().backward()
                optimizer.step()
        finally:
            for parameter, needed in frozen:
                parameter.requires_grad_(needed)
            model.train(was_training)
    found = z.detach().cpu().numpy().astype(np.float32)
    wanted_pixels = to_uint8(x.cpu())
    best = int(np.argmin(perceptual_distance(model.draw(found, label), wanted_pixels, classifier=judge)))
    # Drawn again alone: exactly what `multigen sample --recipe` and the GAN page draw from this z (a batch of
    # starts may round a pixel differently).
    image = model.draw(found[best], label)
    distance = float(perceptual_distance(image[None], wanted_pixels, classifier=judge)[0])
    kind = label if label is not None else read
    return Inversion(found[best], label, image, distance, real_pair_distance(kind, classifier=judge))
