"""GAN inversion: the noise from which a GAN draws a given digit, and how close that comes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from multigen.checkpoints import load_checkpoint
from multigen.data import load_dataset
from multigen.errors import MultigenError
from multigen.inversion import invert

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints"


@pytest.fixture(scope="module")
def dcgan():
    return load_checkpoint(SHIPPED / "dcgan.safetensors").model


def test_a_digit_the_gan_drew_itself_is_found_again_far_closer_than_two_real_digits(dcgan, classifier):
    target = dcgan.draw(np.random.default_rng(5).standard_normal(100).astype(np.float32))
    found = invert(dcgan, target, starts=4, steps=80, classifier=classifier)
    assert found.z.shape == (100,) and found.image.shape == (28, 28) and found.label is None
    assert found.distance < 0.1 < found.real_distance  # it can draw it: much closer than two real 3s or 7s are
    assert np.abs(found.image.astype(int) - target.astype(int)).mean() < 20  # the same picture, near enough
    assert np.array_equal(dcgan.draw(found.z), found.image)  # z draws what is reported
    again = invert(dcgan, target, starts=4, steps=80, classifier=classifier)
    assert np.array_equal(again.z, found.z)  # seeded


def test_more_search_finds_a_real_digit_closer(dcgan, classifier):
    validation = load_dataset("mnist-5k", "val")
    digit = np.rint(validation.images[7, 0].numpy() * 255).astype(np.uint8)
    short = invert(dcgan, digit, starts=2, steps=5, classifier=classifier)
    long = invert(dcgan, digit, starts=2, steps=80, classifier=classifier)
    assert long.distance < short.distance


def test_a_cgan_searches_with_the_given_label_or_the_one_the_classifier_reads(classifier):
    cgan = load_checkpoint(SHIPPED / "cgan.safetensors").model
    validation = load_dataset("mnist-5k", "val")
    row = int((validation.labels == 4).nonzero()[0, 0])
    four = np.rint(validation.images[row, 0].numpy() * 255).astype(np.uint8)
    assert invert(cgan, four, starts=2, steps=20, classifier=classifier).label == 4
    as_nine = invert(cgan, four, label=9, starts=2, steps=20, classifier=classifier)
    assert as_nine.label == 9 and np.array_equal(cgan.draw(as_nine.z, 9), as_nine.image)


def test_what_cannot_be_inverted_is_refused_in_one_line(dcgan, classifier):
    vae = load_checkpoint(SHIPPED / "vae-2.safetensors").model
    with pytest.raises(MultigenError, match="a VAE encodes a digit directly"):
        invert(vae, np.zeros((28, 28), np.uint8), classifier=classifier)
    with pytest.raises(MultigenError, match="1 to 64 starts"):
        invert(dcgan, np.zeros((28, 28), np.uint8), starts=0, classifier=classifier)


def test_the_invert_command_writes_the_found_digit_and_a_recipe_the_gan_page_opens(tmp_path, capsys):
    import json

    from PIL import Image

    from multigen.cli import main
    from multigen.explore.noise import read_recipe

    validation = load_dataset("mnist-5k", "val")
    seven = np.rint(validation.images[int((validation.labels == 7).nonzero()[0, 0]), 0].numpy() * 255).astype(np.uint8)
    scan = tmp_path / "seven.png"
    Image.fromarray(255 - np.kron(seven, np.ones((5, 5), np.uint8))).save(scan)  # a big black-on-white scan
    out = tmp_path / "found.png"
    assert main(["invert", str(SHIPPED / "dcgan.safetensors"), str(scan), "--starts", "2", "--steps", "40",
                 "--device", "cpu", "--out", str(out)]) == 0
    assert "perceptual distance" in capsys.readouterr().out
    assert Image.open(out).size == (28, 28)  # the layout `sample --n 1` writes
    recipe = json.loads(out.with_suffix(".json").read_text())
    assert recipe["source"] == "inversion" and len(recipe["z"]) == 100 and recipe["distance"] < recipe["real_distance"]
    opened = read_recipe(out.with_suffix(".json").read_bytes(), "found.json")
    assert opened.found is not None and np.allclose(opened.found, recipe["z"])
    model = load_checkpoint(SHIPPED / "dcgan.safetensors").model
    assert np.array_equal(np.asarray(Image.open(out)), model.draw(np.array(recipe["z"], np.float32)))
    for args, message in ((["invert", str(SHIPPED / "vae-2.safetensors"), str(scan), "--out", str(out)], "VAE"),
                          (["invert", str(SHIPPED / "dcgan.safetensors"), str(tmp_path / "none.png"), "--out", str(out)], "Cannot read"),
                          (["invert", str(SHIPPED / "dcgan.safetensors"), str(SHIPPED / "README.md"), "--out", str(out)], "not a PNG")):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
