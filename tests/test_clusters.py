"""Clusters of digits found without labels (the self-conditioned GAN's categories)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from multigen.clusters import cluster_images
from multigen.data import load_dataset
from multigen.errors import MultigenError


def _kinds(digits: tuple[int, ...], per_digit: int) -> tuple[torch.Tensor, np.ndarray]:
    data = load_dataset("mnist-5k", "val")
    rows = torch.cat([torch.nonzero(data.labels == d).flatten()[:per_digit] for d in digits])
    return data.images[rows], data.labels[rows].numpy()


def test_clusters_of_real_digits_follow_the_labels_they_never_see():
    images, labels = _kinds((0, 1, 7), 40)
    ids = cluster_images(images, 3, seed=0).numpy()
    assert ids.dtype == np.int64 and ids.shape == labels.shape and set(ids) == {0, 1, 2}
    # Each cluster is mostly one digit, and each digit mostly one cluster.
    purity = sum(np.bincount(labels[ids == k]).max() for k in range(3)) / len(ids)
    assert purity > 0.9
    assert len({np.bincount(ids[labels == d], minlength=3).argmax() for d in (0, 1, 7)}) == 3


def test_the_same_images_and_seed_give_the_same_clusters():
    images, _ = _kinds((3, 8), 30)
    assert torch.equal(cluster_images(images, 4, seed=5), cluster_images(images, 4, seed=5))


@pytest.mark.parametrize("k", [1, 31])
def test_impossible_cluster_counts_are_refused_in_one_line(k):
    images, _ = _kinds((3, 8), 30)
    with pytest.raises(MultigenError, match=f"Cannot make {k} clusters of 60 images: use 2 to 30"):
        cluster_images(images, k)
