"""How good are the digits? FID, Inception Score and conditional accuracy, measured with the project's own
digit classifier, and a VAE's validation negative ELBO.

The instrument is a small CNN (``multigen.models.classifier``) trained by ``python -m multigen train-classifier`` on the
training split of ``mnist-5k`` and shipped as ``checkpoints/classifier.safetensors``
(``python -m multigen train-classifier``; its validation accuracy is in the file's metadata):

- **FID** (Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
  Equilibrium", NeurIPS 2017): the Fréchet distance between Gaussians fitted to the classifier's
  penultimate features (128 per image) of generated digits and of the ``mnist-5k`` validation split.
- **FID floor**: the same distance between the validation split and as many *real* training digits as
  there are samples (capped at the 4,500 of the split). FID estimated from finite sets is biased
  upwards (Chong & Forsyth, "Effectively Unbiased FID and Inception Score and where to find them",
  CVPR 2020), so even real digits do not score 0: read a model's FID against this floor.
- **Inception Score** (Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016):
  exp(E_x KL(p(y|x) || p(y))) from the classifier's softmax, mean and standard deviation over 10 splits.
  Its ceiling is the number of classes, 10: confident predictions spread evenly over all digits.
  Barratt & Sharma ("A Note on the Inception Score", 2018) explain why it is only comparable between
  models measured with the same classifier.
- **Conditional accuracy** (CVAE, cGAN): the share of samples drawn for digit d that the classifier
  reads as d. Its ceiling is the classifier's own validation accuracy, reported beside it.
- **Negative ELBO** (VAE, CVAE; Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014, eq. 10):
  on the validation split, in nats per image, with its reconstruction and KL parts, the Bernoulli
  likelihood the models are trained with (grey levels as targets, so it is a loss, not a code length).
- **Perceptual similarity** (``multigen.evaluation.perceptual``): an LPIPS-style distance
  (Zhang et al., "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric", CVPR 2018)
  on the same classifier's unit-normalised activations, without learned weights and not the published
  LPIPS. ``evaluate`` reports with it the **diversity** of samples (mean pairwise distance, per digit
  for conditional models) beside that of real validation digits, a **memorisation** score (the share
  of samples closer to a training digit than 95% of real validation digits are to one of their kind)
  beside its real-vs-real baseline, and for VAEs the **perceptual distance and pixel BCE of validation reconstructions**.

Why not the Inception network everybody else uses: its weights are downloaded from the internet, which
this project never needs, and it is the wrong instrument here anyway: an ImageNet network sees a 28x28
grey digit blown up to 299x299 RGB, far from anything it was trained on, and its 2,048 features need
many more samples than 500 validation digits for a stable covariance. The figures here are therefore
*not* comparable with published Inception FIDs or ISs; they compare multigen models with each other
and with the real-data floor.

Images as for ``multigen.evaluation.classifier``: floats in [0, 1] or uint8, (n, 1, 28, 28) or (n, 28, 28).
"""

from __future__ import annotations

import math
import os
import threading
import time
import warnings
import weakref
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from multigen.checkpoints import Checkpoint, load_checkpoint
from multigen.data import ImageDataset, load_dataset, subset
from multigen.errors import MultigenError
from multigen.evaluation.classifier import (
    BATCH_SIZE,
    DigitClassifier,
    _Outputs,
    _run_classifier,
    as_images,
    classifier_features,
    load_classifier,
)
from multigen.evaluation.perceptual import memorisation_score, perceptual_distance, perceptual_diversity
from multigen.models import GenerativeModel, require_encoder

REFERENCE_DATASET = "mnist-5k"  # every FID is measured against this data set's validation split
DIGIT_DATASETS = ("mnist-5k", "mnist")  # what a digit classifier can judge
DEFAULT_SAMPLES = 5000
IS_SPLITS = 10  # Salimans et al. (2016) average the score over 10 splits
EPS = 1e-6  # added to the covariance diagonals when their product has no finite square root
PERCEPTUAL_SAMPLES = 1000  # samples (the first of the seeded ones) for diversity and memorisation


class Score(NamedTuple):
    """A score averaged over splits: ``mean`` and the standard deviation ``std`` across them."""

    mean: float
    std: float


# Outputs of the real reference digits, per classifier (weakly held: a dropped classifier drops its entries).
_reference_cache: weakref.WeakKeyDictionary[DigitClassifier, dict[tuple, _Outputs]] = weakref.WeakKeyDictionary()
_reference_lock = threading.Lock()


def _reference(classifier: DigitClassifier, split: str, n: int | None = None, seed: int = 0) -> _Outputs:
    """Classifier outputs of ``mnist-5k``'s validation split or of a seeded stratified slice of its training split."""
    dataset = load_dataset(REFERENCE_DATASET, split)
    n = len(dataset) if n is None else min(int(n), len(dataset))
    key = (split, n, seed if n < len(dataset) else 0)
    with _reference_lock:
        cache = _reference_cache.setdefault(classifier, {})
        if key not in cache:
            cache[key] = _run_classifier(subset(dataset, n, seed=seed).images, classifier)
        return cache[key]


def _inception_score(log_probs: np.ndarray, splits: int) -> Score:
    if not 1 <= splits <= len(log_probs):
        raise MultigenError(f"The Inception Score needs 1 to {len(log_probs)} splits for {len(log_probs)} images.")
    # Shuffle (with a fixed seed) before splitting: data sets and conditional samples come in label order,
    # and a split holding one digit only would score 1.
    log_probs = log_probs[np.random.default_rng(0).permutation(len(log_probs))]
    scores = []
    for part in np.array_split(log_probs, splits):
        # KL(p(y|x) || p(y)) with p(y) the split's mean prediction, in log space for stability.
        log_marginal = np.log(np.exp(part).mean(axis=0))
        kl = (np.exp(part) * (part - log_marginal)).sum(axis=1)
        scores.append(math.exp(kl.mean()))
    return Score(float(np.mean(scores)), float(np.std(scores)))


def _accuracy(log_probs: np.ndarray, labels: Any) -> float:
    labels = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels).reshape(-1)
    if labels.shape[0] == 1:  # one digit asked for all of them
        labels = np.repeat(labels, log_probs.shape[0])
    if labels.shape[0] != log_probs.shape[0]:
        raise MultigenError(f"Got {log_probs.shape[0]} images but {labels.shape[0]} labels: pass one label per image.")
    return float((log_probs.argmax(axis=1) == labels).mean())


# -- the metrics ---------------------------------------------------------------------------------
def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (Heusel et al., 2017):

    ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)).

    When S_a S_b has no finite square root (singular covariances), EPS is added to both diagonals;
    the tiny imaginary parts that ``scipy.linalg.sqrtm`` returns from rounding are dropped. The result
    is clipped at 0, below which only rounding can take it.
    """
    import scipy.linalg  # here: 0.16 s of import that the pages showing a reconstruction's quality do not need

    a, b = np.asarray(features_a, dtype=np.float64), np.asarray(features_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise MultigenError(f"Expected two feature sets (n, F) of the same width, got {a.shape} and {b.shape}.")
    if len(a) < 2 or len(b) < 2:
        raise MultigenError("The Fréchet distance needs at least 2 rows in each feature set.")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    sigma_a, sigma_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():  # a singular product is expected (few rows, constant features) and handled
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(sigma_a @ sigma_b)
        if not np.isfinite(covmean).all():
            offset = np.eye(len(sigma_a)) * EPS
            covmean = scipy.linalg.sqrtm((sigma_a + offset) @ (sigma_b + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    diff = mu_a - mu_b
    value = diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * np.trace(covmean)
    return max(float(value), 0.0)


def fid(
    images_a: torch.Tensor | np.ndarray,
    images_b: torch.Tensor | np.ndarray,
    *,
    classifier: DigitClassifier | None = None,
) -> float:
    """FID between two sets of digits, on the digit classifier's features (not Inception's; see the module)."""
    return frechet_distance(classifier_features(images_a, classifier=classifier),
                            classifier_features(images_b, classifier=classifier))


def inception_score(
    images: torch.Tensor | np.ndarray, *, splits: int = IS_SPLITS, classifier: DigitClassifier | None = None
) -> Score:
    """Inception Score (Salimans et al., 2016) with the digit classifier's softmax: exp(E_x KL(p(y|x) || p(y))).

    Computed on each of ``splits`` equal parts; returns their mean and standard deviation. 1 means the
    classifier sees nothing recognisable (or always the same digit); 10 is the ceiling.
    """
    return _inception_score(_run_classifier(images, classifier).log_probs, splits)


def conditional_accuracy(
    images: torch.Tensor | np.ndarray, labels: Any, *, classifier: DigitClassifier | None = None
) -> float:
    """The share of ``images`` that the classifier reads as the digit in ``labels`` (one per image, or one for all)."""
    return _accuracy(_run_classifier(images, classifier).log_probs, labels)


def real_fid_floor(
    dataset: str = REFERENCE_DATASET, n: int | None = None, seed: int = 0, *, classifier: DigitClassifier | None = None
) -> float:
    """FID of the validation split against ``n`` real training digits (a seeded, stratified slice).

    ``n=None`` takes as many as the validation split holds. It is the FID a perfect generator would
    get with ``n`` samples: the bias of estimating FID from finite sets (Chong & Forsyth, 2020).
    """
    if dataset != REFERENCE_DATASET:
        raise MultigenError(f"FIDs are measured against {REFERENCE_DATASET}; got {dataset!r}.")
    classifier = classifier if classifier is not None else load_classifier()
    validation = _reference(classifier, "val")
    n = len(validation.features) if n is None else n
    return frechet_distance(_reference(classifier, "train", n, seed).features, validation.features)


@torch.no_grad()
def vae_negative_elbo(
    model: torch.nn.Module,
    dataset: ImageDataset | str = REFERENCE_DATASET,
    *,
    samples: int = 1,
    seed: int = 0,
    batch_size: int = BATCH_SIZE,
) -> dict[str, float]:
    """Negative ELBO of a VAE or CVAE on a validation split, in nats per image, and its two parts.

    -ELBO = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I)) (Kingma & Welling, 2014, eq. 10) with the
    Bernoulli likelihood of ``multigen.models.vae.vae_loss`` and beta = 1 whatever the model was
    trained with. The reconstruction term averages ``samples`` draws of z per image (seeded); the KL
    term is exact.
    """
    from multigen.models.vae import vae_loss

    require_encoder(model, "The negative ELBO")
    if samples < 1:
        raise MultigenError(f"samples must be at least 1, got {samples}.")
    data = load_dataset(dataset, "val") if isinstance(dataset, str) else dataset
    was_training = model.training
    model.eval()
    device = model.device
    generator = torch.Generator(device=device).manual_seed(seed)
    reconstruction = kl = 0.0
    for start in range(0, len(data), batch_size):
        x = data.images[start : start + batch_size].to(device)
        labels = data.labels[start : start + batch_size].to(device) if model.conditional else None
        mu, logvar = model.encode(x, labels)
        for _ in range(samples):
            z = model.reparameterize(mu, logvar, generator)
            _, rec, divergence = vae_loss(model.decode_logits(z, labels), x, mu, logvar)
            reconstruction += float(rec) * len(x) / samples
        kl += float(divergence) * len(x)
    model.train(was_training)
    reconstruction, kl = reconstruction / len(data), kl / len(data)
    return {"negative_elbo": reconstruction + kl, "reconstruction": reconstruction, "kl": kl}


# -- a VAE's reconstructions ----------------------------------------------------------------------
class ReconstructionQuality(NamedTuple):
    """How close each digit's reconstruction decode(mu(x)) is to it; row i describes digit i."""

    perceptual: np.ndarray  # (n,) float64, perceptual distance (multigen.evaluation.perceptual), 0 = identical
    bce: np.ndarray  # (n,) float64, binary cross-entropy in nats per digit, summed over its 784 pixels


def reconstruction_quality(
    model: GenerativeModel,
    images: np.ndarray,
    labels: np.ndarray | int | None = None,
    *,
    classifier: DigitClassifier | None = None,
    batch_size: int = 500,
) -> ReconstructionQuality:
    """Perceptual distance and pixel BCE between digits and their reconstructions decode(mu(x)).

    The perceptual distance is ``multigen.evaluation.perceptual.perceptual_distance`` (LPIPS-style, Zhang et al.,
    CVPR 2018, on the digit classifier); the BCE is the Bernoulli negative log-likelihood of the
    digit under the decoder's pixel probabilities at the posterior mean (Kingma & Welling, ICLR 2014),
    in nats. With grey levels as targets the BCE's minimum is the digit's own pixel entropy, not 0.
    ``images`` uint8 (n, 28, 28) or one (28, 28), or floats in [0, 1]; a CVAE encodes and decodes with ``labels`` (one, or one per digit).
    """
    require_encoder(model, "A reconstruction's quality")
    if batch_size < 1:
        raise MultigenError(f"batch_size must be at least 1, got {batch_size}: pass a positive number.")
    x_all = as_images(np.asarray(images)[None] if np.ndim(images) == 2 else images).to(model.device)
    label_all = model.label_tensor(labels, len(x_all))
    perceptual, bce = [], []
    with torch.no_grad():
        for start in range(0, len(x_all), batch_size):
            x = x_all[start : start + batch_size]
            label = None if label_all is None else label_all[start : start + batch_size]
            mu, _ = model.encode(x, label)
            logits = model.decode_logits(mu, label)
            bce.append(F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).double().cpu())
            perceptual.append(perceptual_distance(x, torch.sigmoid(logits), classifier=classifier))
    return ReconstructionQuality(np.concatenate(perceptual), torch.cat(bce).numpy())


# -- everything at once ----------------------------------------------------------------------------
@torch.no_grad()
def _generated_outputs(
    model: torch.nn.Module, n: int, seed: int, classifier: DigitClassifier, keep: int = 0, prior: str | None = None
) -> tuple[_Outputs, Any, torch.Tensor]:
    """Classifier outputs of ``n`` seeded samples (digits 0-9 in turn for conditional models; latents from
    ``prior``, see ``GenerativeModel.latent_prior``), their labels, and the first ``keep`` samples themselves
    (on the model's device)."""
    device = model.device
    generator = torch.Generator(device=device).manual_seed(seed)
    labels = torch.arange(n, device=device) % 10 if model.conditional else None
    features, log_probs, kept = [], [], []
    for start in range(0, n, BATCH_SIZE):
        count = min(BATCH_SIZE, n - start)
        batch_labels = None if labels is None else labels[start : start + count]
        images = model.sample(count, labels=batch_labels, generator=generator, prior=prior)
        outputs = _run_classifier(images, classifier)
        features.append(outputs.features)
        log_probs.append(outputs.log_probs)
        kept.append(images[: max(0, keep - start)])
    return _Outputs(np.concatenate(features), np.concatenate(log_probs)), labels, torch.cat(kept)


def evaluate(
    checkpoint: str | os.PathLike[str] | Checkpoint,
    *,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    device: str | torch.device = "auto",
    classifier: str | os.PathLike[str] | DigitClassifier | None = None,
    perceptual: bool = True,
    prior: str | None = None,
) -> dict[str, Any]:
    """All the figures for one checkpoint, JSON-ready.

    A VAE's samples come from ``prior``: "fitted" (its fitted mixture, ``multigen.models.prior``), "standard"
    (N(0, I)), or None, the fitted one when the checkpoint has one; ``prior`` in the result says which.

    Generative models: ``fid`` of ``samples`` seeded samples against the ``mnist-5k`` validation split,
    beside ``fid_floor`` (real training digits, as many as the samples up to 4,500, against the same
    split); ``inception_score`` (± ``inception_score_std``, over 10 splits) beside
    ``inception_score_real`` (the validation digits, in splits of the same size); conditional models add ``conditional_accuracy`` beside ``classifier_accuracy``;
    VAEs add the validation ``negative_elbo``, ``reconstruction`` and ``kl`` in nats. A classifier
    checkpoint reports its validation ``accuracy``.

    With ``perceptual`` (the default; ``multigen.evaluation.perceptual``, LPIPS-style after Zhang et al., 2018), on
    the first ``perceptual_samples`` (up to 1,000) of the samples: ``diversity``, their mean pairwise
    perceptual distance (per digit, averaged, for conditional models) beside ``diversity_real``, the
    validation digits' grouped the same way; for models of ``mnist-5k``, ``memorisation``, the share of
    samples closer to their nearest training digit than real validation digits of that kind come in
    all but 5% of cases (``multigen.evaluation.perceptual.copy_thresholds``) beside ``memorisation_real``, the
    share for validation digits judged by thresholds fitted on other ones (about 5%). VAEs add ``reconstruction_perceptual`` and
    ``reconstruction_bce``: the mean perceptual distance and pixel BCE (nats) between validation digits
    and decode(mu(x)). ``perceptual=False`` leaves these out (they add about 2 s on a CPU).
    """
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < IS_SPLITS:
        raise MultigenError(f"samples must be a whole number of at least {IS_SPLITS}, got {samples!r}.")
    loaded = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint, device=device)
    model, kind = loaded.model, loaded.kind
    trained_on = loaded.metadata.get("dataset")
    if trained_on not in (None, *DIGIT_DATASETS):
        raise MultigenError(
            f"{loaded.path} was trained on {trained_on}; the metrics judge digits with a digit classifier, "
            f"so they only measure models of {' or '.join(DIGIT_DATASETS)}."
        )
    judge = classifier if isinstance(classifier, DigitClassifier) else load_classifier(classifier, device=model.device)
    validation = load_dataset(REFERENCE_DATASET, "val")
    result: dict[str, Any] = {"kind": kind, "checkpoint": str(loaded.path), "reference": f"{REFERENCE_DATASET}/val"}
    if not isinstance(model, GenerativeModel):  # the classifier: its own accuracy
        result.update(accuracy=round(_accuracy(_run_classifier(validation.images, model).log_probs,
                                               validation.labels), 4), samples=len(validation))
        return result

    started = time.perf_counter()
    if model.has_encoder:  # the ELBO is the same whatever the prior: fitting one changes no weight
        result["prior"] = "fitted" if model.latent_prior(prior) is not None else "standard"
    elif prior is not None:
        raise MultigenError(f"A {kind} has no latent prior to choose: leave prior out.")
    generated, labels, shown = _generated_outputs(model, int(samples), seed, judge, keep=PERCEPTUAL_SAMPLES, prior=prior)
    result.update(_sample_figures(generated, labels, int(samples), seed, judge, validation))
    if perceptual:
        result.update(_perceptual_figures(model, shown, labels, judge, validation, copy_check=trained_on in (None, REFERENCE_DATASET)))
    if model.has_encoder:
        result.update(_reconstruction_figures(model, validation, seed, judge, perceptual=perceptual))
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def _sample_figures(
    generated: _Outputs, labels: torch.Tensor | None, samples: int, seed: int, judge: DigitClassifier,
    validation: ImageDataset,
) -> dict[str, Any]:
    """FID beside its real-data floor, the Inception Score beside real digits', and conditional accuracy."""
    real = _reference(judge, "val")
    n_train = len(load_dataset(REFERENCE_DATASET, "train"))
    floor_features = _reference(judge, "train", min(samples, n_train), seed).features
    score = _inception_score(generated.log_probs, IS_SPLITS)
    # The real digits' score with splits of the same size as the samples': the score of a split is biased
    # low by a small split's estimate of p(y) (about 9% for 50 images), so only equal sizes compare.
    real_splits = min(max(1, round(len(validation) * IS_SPLITS / samples)), len(validation))
    figures: dict[str, Any] = {
        "samples": samples,
        "seed": seed,
        "fid": round(frechet_distance(generated.features, real.features), 4),
        "fid_floor": round(frechet_distance(floor_features, real.features), 4),
        "inception_score": round(score.mean, 4),
        "inception_score_std": round(score.std, 4),
        "inception_score_real": round(_inception_score(real.log_probs, real_splits).mean, 4),
    }
    if labels is not None:
        figures["conditional_accuracy"] = round(_accuracy(generated.log_probs, labels), 4)
    figures["classifier_accuracy"] = round(_accuracy(real.log_probs, validation.labels), 4)
    return figures


def _perceptual_figures(
    model: GenerativeModel, shown: torch.Tensor, labels: torch.Tensor | None, judge: DigitClassifier,
    validation: ImageDataset, *, copy_check: bool,
) -> dict[str, Any]:
    """Diversity of the first samples beside real digits', and (models of mnist-5k) their memorisation."""
    real_labels = validation.labels if model.conditional else None
    figures: dict[str, Any] = {
        "perceptual_samples": len(shown),
        "diversity": round(perceptual_diversity(shown, None if labels is None else labels[: len(shown)],
                                                classifier=judge), 4),
        "diversity_real": round(perceptual_diversity(validation.images, real_labels, classifier=judge), 4),
    }
    if copy_check:  # the copy check looks in mnist-5k's training split
        copies = memorisation_score(shown, classifier=judge)
        figures.update(memorisation=round(copies.share, 4), memorisation_real=round(copies.real_share, 4))
    return figures


def _reconstruction_figures(
    model: GenerativeModel, validation: ImageDataset, seed: int, judge: DigitClassifier, *, perceptual: bool
) -> dict[str, float]:
    """A VAE's validation -ELBO (and its parts) and, with ``perceptual``, its reconstructions' distances."""
    figures = {name: round(value, 4) for name, value in vae_negative_elbo(model, validation, seed=seed).items()}
    if perceptual:
        quality = reconstruction_quality(model, validation.images[:, 0].numpy(), validation.labels.numpy(), classifier=judge)
        figures.update(reconstruction_perceptual=round(float(quality.perceptual.mean()), 4),
                       reconstruction_bce=round(float(quality.bce.mean()), 4))
    return figures
