"""The perceptual distance and what it answers (diversity, copy check, memorisation) on cases whose answer is
known, measured with the shipped digit classifier (checkpoints/classifier.safetensors)."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF

from multigen.data import load_dataset
from multigen.errors import MultigenError
from multigen.evaluation import perceptual
from multigen.evaluation.perceptual import (
    COPY_PERCENTILE,
    copy_thresholds,
    memorisation_score,
    nearest_training_digits,
    perceptual_distance,
    perceptual_distance_matrix,
    perceptual_diversity,
    perceptual_features,
)


@pytest.fixture(scope="module")
def train():
    return load_dataset("mnist-5k", "train")


def shifted(images: torch.Tensor, pixels: int) -> torch.Tensor:
    """Digits moved right and down by ``pixels``, the edge filled with background (no wrap-around)."""
    return F.pad(images, (pixels, 0, pixels, 0))[:, :, :28, :28]


def test_a_digit_against_itself_is_at_distance_zero(classifier, val):
    assert np.array_equal(perceptual_distance(val.images, val.images, classifier=classifier), np.zeros(500))
    matrix = perceptual_distance_matrix(val.images[:40], classifier=classifier)
    assert np.all(np.diag(matrix) == 0) and np.allclose(matrix, matrix.T, atol=1e-6)


def test_a_digit_moved_by_one_or_two_pixels_is_closer_than_another_digit(classifier, val):
    others = torch.randperm(500, generator=torch.Generator().manual_seed(0))
    different = (val.labels != val.labels[others]).numpy()
    one, two, other = (perceptual_distance(val.images, images, classifier=classifier)
                       for images in (shifted(val.images, 1), shifted(val.images, 2), val.images[others]))
    assert 0 < one.mean() < two.mean() < other[different].mean()
    assert (one[different] < other[different]).all()
    assert (two[different] < other[different]).mean() > 0.98


@pytest.mark.parametrize(("change", "strengths"), [
    ("blur", (0.5, 1.0, 1.5, 2.0, 3.0)),  # Gaussian sigma in pixels
    ("noise", (0.05, 0.1, 0.2, 0.4)),  # standard deviation of added Gaussian noise, clipped to [0, 1]
])
def test_the_distance_grows_with_blur_and_with_noise_for_every_digit(classifier, val, change, strengths):
    noise = torch.randn(val.images.shape, generator=torch.Generator().manual_seed(0))

    def degrade(strength: float) -> torch.Tensor:
        if change == "blur":
            return TF.gaussian_blur(val.images, kernel_size=9, sigma=strength)
        return (val.images + strength * noise).clamp(0, 1)

    distances = np.stack([perceptual_distance(val.images, degrade(s), classifier=classifier) for s in strengths])
    assert (np.diff(distances, axis=0) > 0).all()  # each of the 500 digits, at every step
    assert distances.max() <= 2.0


def test_one_image_is_compared_with_each_of_many_and_the_matrix_agrees(classifier, val):
    one = (val.images[3, 0] * 255).round().to(torch.uint8).numpy()[None]  # a uint8 (1, 28, 28) array
    row = perceptual_distance(one, val.images[:30], classifier=classifier)
    assert row.shape == (30,) and row[3] == pytest.approx(0, abs=1e-6)
    assert np.allclose(perceptual_distance(val.images[:30], one, classifier=classifier), row)
    matrix = perceptual_distance_matrix(val.images[:10], val.images[:30], classifier=classifier)
    assert matrix.shape == (10, 30) and np.allclose(matrix[3], row, atol=1e-5)
    # The distance is the squared Euclidean distance of the flattened features.
    features = perceptual_features(val.images[:2], classifier=classifier)
    assert features.shape == (2, 16 * 14 * 14 + 32 * 7 * 7 + 128)
    expected = perceptual_distance(val.images[:1], val.images[1:2], classifier=classifier)[0]
    assert ((features[0] - features[1]) ** 2).sum() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(MultigenError, match="as many on each side"):
        perceptual_distance(val.images[:3], val.images[:4], classifier=classifier)


def test_a_training_digit_finds_itself_first_and_its_neighbours_in_order(classifier, train):
    rows = [0, 1234, 4499]
    found = nearest_training_digits(train.images[rows], k=4, classifier=classifier)
    assert found.indices.shape == found.distances.shape == found.labels.shape == (3, 4)
    assert found.thresholds.shape == (3,) and found.copied.all()  # a digit is its own nearest: a copy
    assert found.images.shape == (3, 4, 28, 28) and found.images.dtype == np.uint8
    assert found.indices[:, 0].tolist() == rows and np.allclose(found.distances[:, 0], 0, atol=1e-5)
    assert (np.diff(found.distances, axis=1) >= 0).all()
    assert np.array_equal(found.labels, train.labels.numpy()[found.indices])
    assert np.array_equal(found.images[1, 2], (train.images[found.indices[1, 2], 0] * 255).round().byte().numpy())
    for k in (0, 4501, 2.5):
        with pytest.raises(MultigenError, match="k must be"):
            nearest_training_digits(train.images[:1], k=k, classifier=classifier)
    with pytest.raises(MultigenError, match="fashion-mnist"):
        nearest_training_digits(train.images[:1], classifier=classifier, trained_on="fashion-mnist")


def test_training_digits_count_as_copies_and_validation_digits_as_the_baseline(classifier, train, val):
    thresholds = copy_thresholds(classifier=classifier)
    assert thresholds.shape == (10,) and (0 < thresholds).all()
    assert (thresholds < copy_thresholds(percentile=50, classifier=classifier)).all()
    assert thresholds.argmin() == 1  # a 1 is a simple stroke: its real neighbours are the closest
    copies = memorisation_score(train.images[:200], classifier=classifier)
    assert copies.share == 1.0 and np.array_equal(copies.thresholds, thresholds)  # each at distance 0 from itself
    # In sample, exactly 25 of the 500 validation digits fall under the thresholds fitted on them ...
    assert memorisation_score(val.images, classifier=classifier).share == COPY_PERCENTILE / 100
    # ... and the baseline judges each half by thresholds fitted on the other half: near 5%, not exactly.
    assert 0.01 <= copies.real_share <= 0.12 and copies.real_share != COPY_PERCENTILE / 100
    found = nearest_training_digits(val.images, k=1, classifier=classifier)
    assert np.array_equal(found.thresholds, thresholds[found.labels[:, 0]]) and found.copied.mean() == 0.05


def test_diversity_is_the_mean_pairwise_distance_and_collapse_scores_far_below_real_digits(classifier, val):
    matrix = perceptual_distance_matrix(val.images[:50], classifier=classifier)
    assert perceptual_diversity(val.images[:50], classifier=classifier) == pytest.approx(
        matrix.sum() / (50 * 49), rel=1e-5)
    real = perceptual_diversity(val.images, classifier=classifier)
    seven = val.images[val.labels == 7][:1]
    collapsed = (seven + 0.05 * torch.randn((100, 1, 28, 28), generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert perceptual_diversity(collapsed, classifier=classifier) < real / 10
    assert perceptual_diversity(seven.repeat(5, 1, 1, 1), classifier=classifier) == pytest.approx(0, abs=1e-9)
    per_digit = perceptual_diversity(val.images, val.labels, classifier=classifier)
    assert 0 < per_digit < real  # digits of one kind are more alike than digits of all kinds
    with pytest.raises(MultigenError, match="labels"):
        perceptual_diversity(val.images, val.labels[:10], classifier=classifier)
    with pytest.raises(MultigenError, match="at least 2"):
        perceptual_diversity(val.images[:1], classifier=classifier)


def test_the_training_features_are_computed_once_for_threads_asking_at_the_same_time(classifier, val, monkeypatch):
    fresh = copy.deepcopy(classifier)  # a classifier the cache has not seen
    calls, features = [], perceptual._features

    def counted(images, judge):
        calls.append(len(images))
        return features(images, judge)

    monkeypatch.setattr(perceptual, "_features", counted)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: nearest_training_digits(val.images[i : i + 1], k=2, classifier=fresh), range(4)))
    assert calls.count(4500) == 1 and calls.count(500) == 1  # the training split and the validation split, once
    assert [r.indices.shape for r in results] == [(1, 2)] * 4
    assert np.array_equal(results[0].indices, nearest_training_digits(val.images[:1], k=2, classifier=classifier).indices)
