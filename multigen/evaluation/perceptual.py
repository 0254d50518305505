"""How alike do two digits look? A perceptual distance built on the project's digit classifier, and what
it answers: how good a VAE's reconstructions are, how varied a model's samples are, and whether a
generated digit is new or a copy of a training digit.

**What it is.** The LPIPS recipe (Zhang, Isola, Efros, Shechtman & Wang, "The Unreasonable
Effectiveness of Deep Features as a Perceptual Metric", CVPR 2018, eq. 1) on multigen's own digit
classifier (``multigen.models.classifier``, the instrument of ``multigen.evaluation.metrics``). Three of its
layers are read:

- block 1: 16 channels x 14 x 14 (first convolution, batch norm, ReLU, 2x2 max-pool): strokes;
- block 2: 32 x 7 x 7 (the same once more): parts of digits;
- the 128 penultimate features after their ReLU (one position): what the classifier decides on.

At every position of a layer the activation vector is divided by its length over the channels (unit
normalisation, as in LPIPS), the squared differences of the two images' unit vectors are averaged
over the positions, and the layers' figures are averaged::

    d(x, y) = 1/3 * sum_l 1/(H_l W_l) * sum_(h,w) || x^_l[h,w] - y^_l[h,w] ||^2,   x^ = x / ||x||_channels

No weights are learned: every channel counts 1 (LPIPS's un-calibrated "baseline" variant, without
the paper's linear layer w_l) and every layer counts 1/3. Activations after a ReLU are never
negative, so two unit vectors are at most sqrt(2) apart: d lies in [0, 2]. An image against itself
is 0; a digit moved by a pixel or two is about 0.2-0.4; another digit is about 0.8. Blur and noise
raise it step by step (``tests/test_perceptual.py`` checks these cases on the validation digits).

**What it is not.** Not the published LPIPS: its networks (AlexNet, VGG, SqueezeNet) were trained
on ImageNet photos and its per-channel weights fitted to human judgements of 64x64 photo patches
(the BAPPS data set); they are downloaded, which multigen never does, and made for natural colour
photos, not 28x28 grey digits. These figures are therefore not comparable with published LPIPS
values, and they are not calibrated to human judgement: they compare digits as this classifier sees
them, and mean something only beside each other and beside the same figure for real digits.

**Flattened.** Each layer's unit vectors, scaled by 1/sqrt(3 * H_l * W_l) and concatenated
(``perceptual_features``: 3,136 + 1,568 + 128 = 4,832 numbers per digit), have the distance above as
their squared Euclidean distance. So a distance matrix is one matrix product,
||a||^2 + ||b||^2 - 2 a.b, and so is the nearest-neighbour search over the 4,500 training digits of
``mnist-5k``, whose features are computed once per classifier and kept (``nearest_training_digits``).

Built on it:

- **diversity** (``perceptual_diversity``): the mean distance between two different samples, per
  digit for conditional models; a collapsed GAN scores far below real digits;
- **copy check** (``nearest_training_digits``): each digit's nearest training digits and distances,
  and whether it is a possible copy by the rule below;
- **memorisation** (``memorisation_score``): the share of digits closer to their nearest training
  digit than all but 5% of the real validation digits are to theirs (so 5% for real digits). Distances
  are compared per kind of digit: a 1 is a simple stroke with close neighbours, a 2 is not, so each
  distance is divided by the median distance of real validation digits whose nearest training digit
  is of the same kind before the 5th percentile is taken (``copy_thresholds``).

Images may be float tensors or arrays in [0, 1], shaped (n, 1, 28, 28) or (n, 28, 28), or uint8
arrays (n, 28, 28).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from multigen.data import load_dataset
from multigen.errors import MultigenError
from multigen.evaluation.classifier import load_classifier
from multigen.images import as_images, to_uint8
from multigen.models.classifier import DigitClassifier

TRAINING_DATASET = "mnist-5k"  # the copy check compares with this data set's training split
BATCH_SIZE = 500  # images per forward pass
QUERY_ROWS = 500  # query rows per block of a distance matrix: 500 x 4,500 floats at a time
NORM_EPS = 1e-10  # added to each position's channel length before dividing, as in LPIPS
COPY_PERCENTILE = 5.0  # memorisation: closer than this percentile of the real digits' nearest distances


class NearestDigits(NamedTuple):
    """Each query digit's k nearest training digits, nearest first; row i describes query i."""

    indices: np.ndarray  # (n, k) int64, rows of the mnist-5k training split
    distances: np.ndarray  # (n, k) float64, perceptual distances
    labels: np.ndarray  # (n, k) int64, the training digits' labels
    images: np.ndarray  # (n, k, 28, 28) uint8, the training digits
    thresholds: np.ndarray  # (n,) float64, the copy threshold of the nearest's kind (``copy_thresholds``)

    @property
    def copied(self) -> np.ndarray:
        """(n,) bool: closer to a training digit than only COPY_PERCENTILE % of real digits of that kind come."""
        return self.distances[:, 0] < self.thresholds


class CopyCheck(NamedTuple):
    """A memorisation score beside its real-vs-real baseline (see ``memorisation_score``)."""

    share: float  # share of the images closer to their nearest training digit than its kind's threshold
    real_share: float  # the same share for real validation digits, thresholds fitted on other ones (~COPY_PERCENTILE %)
    thresholds: np.ndarray  # (10,) the copy threshold of each kind of digit (``copy_thresholds``)


# -- helpers ---------------------------------------------------------------------------------------
def _judge(classifier: DigitClassifier | None) -> DigitClassifier:
    """The given classifier, or the shipped one."""
    if classifier is not None:
        if classifier.training:  # batch statistics would make a digit's distance depend on its batch
            raise MultigenError("The classifier is in training mode: pass classifier.eval() to measure with it.")
        return classifier
    return load_classifier()


def _layers(classifier: DigitClassifier, x: torch.Tensor) -> list[torch.Tensor]:
    """The activations the distance compares: after each max-pool of the body, and the penultimate ReLU."""
    outputs = []
    for module in classifier.body:
        x = module(x)
        if isinstance(module, nn.MaxPool2d):
            outputs.append(x)  # c x 14 x 14, then 2c x 7 x 7
    outputs.append(F.relu(x)[:, :, None, None])  # f x 1 x 1: the features the classifier's head reads
    return outputs


@torch.no_grad()
def _features(images: Any, classifier: DigitClassifier) -> torch.Tensor:
    """(n, D) float32 on the classifier's device: unit-normalised activations, scaled per layer, flattened."""
    images = as_images(images)
    device = classifier.device
    rows = [differentiable_features(images[start : start + BATCH_SIZE].to(device), classifier)
            for start in range(0, images.shape[0], BATCH_SIZE)]
    return torch.cat(rows)


def differentiable_features(x: torch.Tensor, classifier: DigitClassifier) -> torch.Tensor:
    """The perceptual features (n, D) of images (n, 1, 28, 28) in [0, 1], with gradients (GAN inversion descends
    on them): the squared distance between two rows is ``perceptual_distance`` of their images."""
    layers = _layers(classifier, x)
    parts = []
    for h in layers:
        unit = h / (h.norm(dim=1, keepdim=True) + NORM_EPS)
        parts.append(unit.flatten(1) / (len(layers) * h.shape[2] * h.shape[3]) ** 0.5)
    return torch.cat(parts, dim=1).float()


def _squared_distances(queries: torch.Tensor, keys: torch.Tensor, key_norms: torch.Tensor) -> torch.Tensor:
    """||q - k||^2 for every pair, as ||q||^2 + ||k||^2 - 2 q.k (one matrix product), clipped at 0."""
    query_norms = queries.square().sum(dim=1, keepdim=True)
    return (query_norms + key_norms[None, :] - 2.0 * queries @ keys.T).clamp_min_(0.0)


def _nearest(queries: torch.Tensor, keys: torch.Tensor, key_norms: torch.Tensor, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Distances and rows of the k nearest keys of each query, nearest first, a block of queries at a time."""
    distances, rows = [], []
    for start in range(0, queries.shape[0], QUERY_ROWS):
        block = _squared_distances(queries[start : start + QUERY_ROWS], keys, key_norms)
        values, indices = block.topk(k, dim=1, largest=False)
        distances.append(values.double().cpu())
        rows.append(indices.cpu())
    return torch.cat(distances).numpy(), torch.cat(rows).numpy().astype(np.int64)


@dataclass(frozen=True)
class _Bank:
    """The training split as the copy check sees it, and the real digits' own nearest distances."""

    features: torch.Tensor  # (n, D) float32 on the classifier's device
    norms: torch.Tensor  # (n,) squared lengths of those rows
    labels: np.ndarray  # (n,) int64
    images: np.ndarray  # (n, 28, 28) uint8
    real_nearest: np.ndarray  # (500,) each validation digit's distance to its nearest training digit
    real_kinds: np.ndarray  # (500,) the label of that nearest training digit
    typical: np.ndarray  # (classes,) median of real_nearest over the validation digits of each kind


# Per classifier (weakly held, like multigen.evaluation.metrics' reference outputs): built once, under a lock, because
# the app's sessions run in threads and would otherwise each compute the same 4,500 rows.
_banks: weakref.WeakKeyDictionary[DigitClassifier, _Bank] = weakref.WeakKeyDictionary()
_banks_lock = threading.Lock()


def _typical(nearest: np.ndarray, kinds: np.ndarray, classes: int) -> np.ndarray:
    """Per kind of digit, the median nearest-training distance of the real digits of that kind."""
    overall = np.median(nearest)  # for a kind that no real digit is nearest to
    return np.array([np.median(nearest[kinds == kind]) if (kinds == kind).any() else overall for kind in range(classes)])


def _thresholds(nearest: np.ndarray, kinds: np.ndarray, classes: int, percentile: float) -> np.ndarray:
    """Per-kind copy thresholds fitted on real digits' nearest distances (see ``copy_thresholds``)."""
    typical = _typical(nearest, kinds, classes)
    return float(np.percentile(nearest / typical[kinds], percentile)) * typical


def _bank(classifier: DigitClassifier) -> _Bank:
    with _banks_lock:
        if classifier not in _banks:
            train = load_dataset(TRAINING_DATASET, "train")
            features = _features(train.images, classifier)
            norms = features.square().sum(dim=1)
            labels = train.labels.numpy().astype(np.int64)
            validation = _features(load_dataset(TRAINING_DATASET, "val").images, classifier)
            real_nearest, rows = _nearest(validation, features, norms, 1)
            real_nearest, kinds = real_nearest[:, 0], labels[rows[:, 0]]
            typical = _typical(real_nearest, kinds, labels.max() + 1)
            _banks[classifier] = _Bank(features, norms, labels, to_uint8(train.images), real_nearest, kinds, typical)
        return _banks[classifier]


# -- the distance ----------------------------------------------------------------------------------
def perceptual_features(images: Any, *, classifier: DigitClassifier | None = None) -> np.ndarray:
    """Flattened perceptual features (n, 4832) float32: ``perceptual_distance`` is their squared Euclidean distance.

    The unit-normalised activations of three classifier layers, each scaled by 1/sqrt(3 * positions)
    (Zhang et al., 2018, eq. 1 with unit weights; see the module docstring).
    """
    return _features(images, _judge(classifier)).cpu().numpy()


def perceptual_distance(a: Any, b: Any, *, classifier: DigitClassifier | None = None) -> np.ndarray:
    """LPIPS-style distance (Zhang et al., 2018) between ``a[i]`` and ``b[i]`` on the digit classifier, shape (n,).

    One image on either side is compared with every image on the other. 0 means the same picture;
    the figures lie in [0, 2] (another digit: about 0.8). Not the published LPIPS (see the module).
    """
    judge = _judge(classifier)
    features_a, features_b = _features(a, judge), _features(b, judge)
    if len(features_a) != len(features_b) and 1 not in (len(features_a), len(features_b)):
        raise MultigenError(
            f"Got {len(features_a)} and {len(features_b)} images: pass as many on each side, or one on either."
        )
    return (features_a - features_b).square().sum(dim=1).double().cpu().numpy()


def perceptual_distance_matrix(a: Any, b: Any = None, *, classifier: DigitClassifier | None = None) -> np.ndarray:
    """Every pairwise perceptual distance (Zhang et al., 2018) between ``a`` and ``b`` (default: ``a`` itself), (n, m).

    One matrix product of the flattened features (``perceptual_features``), in blocks of rows; equal to
    ``perceptual_distance`` of each pair up to float32 rounding (about 1e-6).
    """
    judge = _judge(classifier)
    features_a = _features(a, judge)
    features_b = features_a if b is None else _features(b, judge)
    norms_b = features_b.square().sum(dim=1)
    blocks = [_squared_distances(features_a[start : start + QUERY_ROWS], features_b, norms_b).double().cpu()
              for start in range(0, len(features_a), QUERY_ROWS)]
    matrix = torch.cat(blocks).numpy()
    if b is None:
        np.fill_diagonal(matrix, 0.0)  # each image against itself, exactly
    return matrix


# -- what the distance answers ---------------------------------------------------------------------
def nearest_training_digits(
    images: Any, *, k: int = 5, classifier: DigitClassifier | None = None, trained_on: str | None = None
) -> NearestDigits:
    """The ``k`` training digits of ``mnist-5k`` nearest to each image by perceptual distance: is it new or copied?

    The training split's features are computed once per classifier and kept in memory (about 87 MB),
    so a lookup is one matrix-vector product over 4,500 rows: a few milliseconds on a CPU
    (``benchmarks/nearest_lookup.py``). Distances as in ``perceptual_distance`` (Zhang et al., 2018).
    Each query also gets the copy threshold of its nearest digit's kind (``copy_thresholds``; the
    result's ``copied`` says which queries are under it). ``trained_on``, the data set of the model that drew the images (a checkpoint's ``dataset``), is
    refused unless it is ``mnist-5k``: other training sets are not what this searches.
    """
    if trained_on not in (None, TRAINING_DATASET):
        raise MultigenError(f"The copy check searches the training digits of {TRAINING_DATASET}, but this model "
                            f"was trained on {trained_on}.")
    judge = _judge(classifier)
    bank = _bank(judge)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(bank.labels):
        raise MultigenError(f"k must be a whole number from 1 to {len(bank.labels)} training digits, got {k!r}.")
    distances, rows = _nearest(_features(images, judge), bank.features, bank.norms, int(k))
    labels = bank.labels[rows]
    thresholds = copy_thresholds(classifier=judge)[labels[:, 0]]
    return NearestDigits(rows, distances, labels, bank.images[rows], thresholds)


def copy_thresholds(*, percentile: float = COPY_PERCENTILE, classifier: DigitClassifier | None = None) -> np.ndarray:
    """For each kind of digit (0-9), the distance to a nearest training digit of that kind that marks a likely copy.

    Each validation digit's distance to its nearest training digit is divided by the median of
    those distances over the validation digits whose nearest training digit is of the same kind
    (a 1 has closer neighbours than a 2); the ``percentile``-th percentile of these 500 ratios, times
    each kind's median, is its threshold. So exactly ``percentile`` % of real, unseen digits come
    closer than their kind's threshold; a generated digit that does is closer to a training digit
    than real digits usually are (``memorisation_score``).
    """
    if not 0 < percentile < 100:
        raise MultigenError(f"percentile must be between 0 and 100, got {percentile}.")
    bank = _bank(_judge(classifier))
    return _thresholds(bank.real_nearest, bank.real_kinds, len(bank.typical), percentile)


def _real_baseline(bank: _Bank, percentile: float) -> float:
    """The share of real validation digits under thresholds fitted on *other* validation digits.

    Two folds of a seeded split of the 500 digits, each judged by thresholds fitted on the other, so the
    baseline is an honest real-vs-real figure (about ``percentile`` %, with its sampling noise) rather
    than the in-sample share, which is ``percentile`` % by construction.
    """
    folds = np.array_split(np.random.default_rng(0).permutation(len(bank.real_nearest)), 2)
    under = 0
    for fit, judged in (folds, folds[::-1]):
        thresholds = _thresholds(bank.real_nearest[fit], bank.real_kinds[fit], len(bank.typical), percentile)
        under += int((bank.real_nearest[judged] < thresholds[bank.real_kinds[judged]]).sum())
    return under / len(bank.real_nearest)


def memorisation_score(
    images: Any, *, percentile: float = COPY_PERCENTILE, classifier: DigitClassifier | None = None
) -> CopyCheck:
    """The share of ``images`` closer to their nearest ``mnist-5k`` training digit than its kind's copy threshold.

    The thresholds (``copy_thresholds``) come from the 500 validation digits' distances to their
    nearest training digits, so real unseen digits score about ``percentile`` % (``real_share``, the
    real-vs-real baseline, is measured on validation digits the thresholds were not fitted on). A model that copies its training set scores far
    above it; one that only draws new digits scores about the same or below (blurry digits are far
    from every training digit). Distances as in ``perceptual_distance`` (Zhang et al., 2018).
    """
    judge = _judge(classifier)
    thresholds = copy_thresholds(percentile=percentile, classifier=judge)
    nearest = nearest_training_digits(images, k=1, classifier=judge)
    bank = _bank(judge)
    copied = nearest.distances[:, 0] < thresholds[nearest.labels[:, 0]]
    return CopyCheck(float(copied.mean()), _real_baseline(bank, percentile), thresholds)


def perceptual_diversity(images: Any, labels: Any = None, *, classifier: DigitClassifier | None = None) -> float:
    """Mean perceptual distance between two different images of the set; with ``labels``, per label, averaged.

    The mean over all pairs i != j of ||f_i - f_j||^2 equals twice the summed per-feature variance
    (with n - 1 in the denominator), so it is exact and linear in n: no pairs are enumerated.
    Distances as in ``perceptual_distance`` (Zhang et al., 2018). Mode collapse shows as a figure far
    below that of real digits grouped the same way. Labels with a single image have no pairs and are left out.
    """
    features = perceptual_features(images, classifier=classifier).astype(np.float64)
    groups = [np.arange(len(features))]
    if labels is not None:
        labels = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels).reshape(-1)
        if labels.shape[0] != len(features):
            raise MultigenError(f"Got {len(features)} images but {labels.shape[0]} labels: pass one label per image.")
        groups = [np.flatnonzero(labels == label) for label in np.unique(labels)]
    groups = [group for group in groups if len(group) >= 2]  # a label drawn once has no pairs
    if not groups:
        raise MultigenError("Diversity needs at least 2 images (of one label, when labels are given).")
    return float(np.mean([2.0 * features[group].var(axis=0, ddof=1).sum() for group in groups]))


__all__ = [
    "COPY_PERCENTILE",
    "CopyCheck",
    "NearestDigits",
    "copy_thresholds",
    "memorisation_score",
    "nearest_training_digits",
    "perceptual_distance",
    "perceptual_distance_matrix",
    "perceptual_diversity",
    "perceptual_features",
]
