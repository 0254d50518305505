"""The latent space of a VAE or CVAE: encode a data set, reconstruct digits, walk between two latents, and
decode a grid over a 2-D latent (the manifold). Decoding itself is every generative model's ``draw``;
2-D maps of the latents and the way back from a click are in ``multigen.explore.projection``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from multigen.data import ImageDataset
from multigen.errors import MultigenError
from multigen.images import as_images, image_grid, to_uint8
from multigen.models import GenerativeModel, require_encoder


@dataclass
class LatentCodes:
    """Encodings of a data set split, row i of every field describing the same digit."""

    mu: np.ndarray  # (n, latent_dim) float32, the posterior means
    logvar: np.ndarray  # (n, latent_dim) float32, the posterior log-variances
    labels: np.ndarray  # (n,) int64
    images: np.ndarray  # (n, 28, 28) uint8, the originals

    def __len__(self) -> int:
        return len(self.labels)


def encode_dataset(model: GenerativeModel, dataset: ImageDataset, *, batch_size: int = 500) -> LatentCodes:
    """q(z|x) for every image of ``dataset``: posterior means and log-variances, aligned with labels and images."""
    require_encoder(model, "Encoding")
    if batch_size < 1:
        raise MultigenError(f"batch_size must be at least 1, got {batch_size}: pass a positive number.")
    device = model.device
    mus, logvars = [], []
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            images = dataset.images[start : start + batch_size].to(device)
            labels = dataset.labels[start : start + batch_size].to(device) if model.conditional else None
            mu, logvar = model.encode(images, labels)
            mus.append(mu.float().cpu())
            logvars.append(logvar.float().cpu())
    latent_dim = model.latent_dim
    return LatentCodes(
        mu=torch.cat(mus).numpy() if mus else np.zeros((0, latent_dim), np.float32),
        logvar=torch.cat(logvars).numpy() if logvars else np.zeros((0, latent_dim), np.float32),
        labels=dataset.labels.cpu().numpy().astype(np.int64),
        images=to_uint8(dataset.images.cpu()),
    )


def prior_latents(model: GenerativeModel, n: int, *, seed: int = 0, prior: str | None = None) -> np.ndarray:
    """n latent vectors (n, latent_dim) float32 for ``model.draw``, drawn on the CPU (the same for a seed on every
    device) from ``prior``: "standard", "fitted" or None, the fitted one when the model has it
    (``GenerativeModel.latent_prior``). N(0, I) rows are ``noise.noise_vector(seed, n * latent_dim)`` reshaped,
    so a page's grid from that noise stays the same for a model without a fitted prior."""
    if int(n) < 0 or int(seed) < 0:
        raise MultigenError(f"Need a count and a seed of 0 or more, got {n} and {seed}.")
    mixture = model.latent_prior(prior)
    if mixture is None:
        return np.random.default_rng(int(seed)).standard_normal((int(n), model.latent_dim)).astype(np.float32)
    return mixture.sample(int(n), generator=torch.Generator().manual_seed(int(seed))).numpy()


def reconstruct(model: GenerativeModel, images: np.ndarray, labels: np.ndarray | int | None = None) -> np.ndarray:
    """decode(mu(x)): uint8 images (n, 28, 28) or one (28, 28) in, their reconstructions in the same shape out."""
    require_encoder(model, "A reconstruction")
    single = np.ndim(images) == 2
    x = as_images(np.asarray(images)[None] if single else images).to(model.device)
    label_tensor = model.label_tensor(labels, len(x))
    with torch.no_grad():
        mu, _ = model.encode(x, label_tensor)
        out = to_uint8(model.decode(mu, label_tensor))
    return out[0] if single else out


def interpolate(z0: np.ndarray, z1: np.ndarray, steps: int = 10) -> np.ndarray:
    """``steps`` vectors (steps, d) on the straight line from z0 to z1, both endpoints included."""
    start, end = np.asarray(z0, dtype=np.float32), np.asarray(z1, dtype=np.float32)
    if start.ndim != 1 or start.shape != end.shape:
        raise MultigenError(f"Endpoints have shapes {start.shape} and {end.shape}: pass two vectors of the same size.")
    if steps < 2:
        raise MultigenError(f"An interpolation needs at least 2 steps, got {steps}: ask for 2 or more.")
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return ((1 - t) * start + t * end).astype(np.float32)


def manifold_grid(
    model: GenerativeModel,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    n: int = 15,
    labels: np.ndarray | int | None = None,
) -> np.ndarray:
    """Decode an n x n grid over a 2-D latent into one (28n, 28n) uint8 picture; the top row is the highest y.

    No padding, so pixel (row, column) lies in cell (row // 28, column // 28), i.e. at
    x = linspace(*x_range, n)[column // 28] and y = linspace(*y_range, n)[::-1][row // 28].
    """
    if model.latent_dim != 2:
        raise MultigenError(
            f"A manifold grid needs a 2-D latent but this model's has {model.latent_dim} dimensions: "
            "train one with latent_dim=2."
        )
    if n < 1:
        raise MultigenError(f"The grid needs at least 1 cell per side, got {n}.")
    xs = np.linspace(x_range[0], x_range[1], n, dtype=np.float32)
    ys = np.linspace(y_range[1], y_range[0], n, dtype=np.float32)  # image rows go down, y goes up
    grid_y, grid_x = np.meshgrid(ys, xs, indexing="ij")
    z = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
    return image_grid(model.draw(z, labels), nrow=n, padding=0)


PROBABILITY_FLOOR = 1e-6  # decoder probabilities are clipped here before the log (a float32 sigmoid reaches 0 and 1)


def negative_elbo(images: np.ndarray, mu: np.ndarray, logvar: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """-ELBO in nats of digits (k, 28, 28) uint8 under a VAE, evaluated at the posterior mean (Kingma & Welling,
    ICLR 2014): the Bernoulli negative log-likelihood of the pixels under the decoder's probabilities ``pixels``
    (k, 784 or k, 1, 28, 28) plus KL(N(mu, exp(logvar)) || N(0, I)). The drawing pad computes the same in the page."""
    x = np.asarray(images, dtype=np.float64).reshape(len(mu), -1) / 255.0
    p = np.clip(np.asarray(pixels, dtype=np.float64).reshape(len(mu), -1), PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=1)
    mu, logvar = np.asarray(mu, dtype=np.float64), np.asarray(logvar, dtype=np.float64)
    kl = -0.5 * (1 + logvar - mu * mu - np.exp(logvar)).sum(axis=1)
    return bce + kl


@dataclass
class PlacedDigit:
    """One digit as a VAE sees it: where its encoder puts it, what its decoder makes of it and, for a CVAE, the
    label it finds most likely."""

    image: np.ndarray  # (28, 28) uint8, the digit
    mu: np.ndarray  # (latent_dim,) float32, its posterior mean (under ``label`` for a CVAE)
    reconstruction: np.ndarray  # (28, 28) uint8, decode(mu)
    label: int | None  # a CVAE's most likely label, None for a VAE
    scores: np.ndarray | None  # a CVAE's -ELBO under each label (nats), lowest first in likelihood


def encode_digit(model: GenerativeModel, image: np.ndarray) -> PlacedDigit:
    """Encode one (28, 28) uint8 digit. A CVAE encodes it under every label and keeps the label with the lowest
    -ELBO (``negative_elbo``): with equally likely labels, the most probable one, p(y | x) ∝ p(x | y)."""
    require_encoder(model, "Encoding a digit")
    image = np.asarray(image, dtype=np.uint8)
    if image.shape != (28, 28):
        raise MultigenError(f"A digit is a (28, 28) picture, got shape {image.shape}: make it with multigen.preprocess.")
    n = model.config.num_classes if model.conditional else 1
    x = as_images(np.repeat(image[None], n, axis=0)).to(model.device)
    labels = model.label_tensor(np.arange(n), n)
    with torch.no_grad():
        mu, logvar = model.encode(x, labels)
        pixels = model.decode(mu, labels)
    mu, logvar, pixels = (t.float().cpu().numpy() for t in (mu, logvar, pixels))
    scores = negative_elbo(np.repeat(image[None], n, axis=0), mu, logvar, pixels) if model.conditional else None
    best = int(np.argmin(scores)) if scores is not None else 0
    return PlacedDigit(image, mu[best], to_uint8(torch.from_numpy(pixels[best : best + 1]))[0],
                       best if model.conditional else None, scores)
