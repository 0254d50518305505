"""How well the self-conditioned GAN's clusters (``multigen.clusters``) follow the labels they never see.

Purity: the share of training digits whose cluster's most common label is their own. Compared with
k-means on the raw pixels, the plain alternative. Not a speed benchmark: a record of the figure that
``checkpoints/README.md`` quotes.

    OMP_NUM_THREADS=1 python benchmarks/cluster_purity.py --k 20
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from multigen.clusters import cluster_images
from multigen.data import load_dataset


def purity(ids: np.ndarray, labels: np.ndarray) -> float:
    """Share of items whose cluster's majority label is their own."""
    return sum(np.bincount(labels[ids == k]).max() for k in np.unique(ids)) / len(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs="+", default=[20], help="numbers of clusters")
    args = parser.parse_args()
    train = load_dataset("mnist-5k", "train")
    labels = train.labels.numpy()
    pixels = train.images.reshape(len(train), -1).numpy()
    for k in args.k:
        ours = purity(cluster_images(train.images, k, seed=0).numpy(), labels)
        plain = purity(KMeans(k, n_init=4, random_state=0).fit_predict(pixels), labels)
        print(f"k={k}: PCA + t-SNE + k-means purity {ours:.3f}, k-means on pixels {plain:.3f}")


if __name__ == "__main__":
    main()
