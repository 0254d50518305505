"""GAN inversion: the noise from which a GAN draws a given digit, and how close that comes."""

from __future__ import annotations

import json
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


def test_sample_with_the_found_recipe_writes_the_same_png_as_invert(tmp_path, capsys):
    from PIL import Image

    from multigen.cli import main

    digit = np.rint(load_dataset("mnist-5k", "val").images[3, 0].numpy() * 255).astype(np.uint8)
    Image.fromarray(digit).save(tmp_path / "digit.png")
    cgan = str(SHIPPED / "cgan.safetensors")
    found = tmp_path / "found.png"
    assert main(["invert", cgan, str(tmp_path / "digit.png"), "--starts", "2", "--steps", "5", "--device", "cpu",
                 "--out", str(found)]) == 0
    again = tmp_path / "again.png"
    assert main(["sample", cgan, "--recipe", str(found.with_suffix(".json")), "--device", "cpu", "--out", str(again)]) == 0
    assert "the recipe's digit (found by inversion, label" in capsys.readouterr().out
    assert again.read_bytes() == found.read_bytes()  # the same 28x28 picture, byte for byte
    label = json.loads(found.with_suffix(".json").read_text())["label"]  # agreeing --n and --label are fine
    assert main(["sample", cgan, "--recipe", str(found.with_suffix(".json")), "--n", "1", "--label", str(label),
                 "--out", str(tmp_path / "same.png")]) == 0
    assert (tmp_path / "same.png").read_bytes() == found.read_bytes()


def test_sample_with_a_gan_page_recipe_draws_the_seed_with_its_sliders_and_code_as_the_page_does(tmp_path, capsys):
    from PIL import Image

    from multigen.cli import main
    from multigen.explore.noise import (
        apply_sliders,
        held_together,
        make_recipe,
        noise_vector,
        recipe_png,
        with_code,
    )

    # The page's directions: those the shipped checkpoints store (multigen calibrate-sliders), which `sample` reads too
    cgan = load_checkpoint(SHIPPED / "cgan.safetensors")
    directions, cgan = cgan.directions["gan"].numpy(), cgan.model
    values = [3.0, -1.5] + [0.0] * 8  # as the page: ten sliders, z = seed's noise moved along ten directions ...
    assert held_together(values)[:2].tolist() == [2.0, -1.0]  # ... by at most one slider's reach together
    z = apply_sliders(noise_vector(7, cgan.latent_dim), directions, held_together(values))
    recipe = make_recipe("checkpoints/cgan.safetensors", 7, z, label=3, sliders=values, kind="cgan")
    (tmp_path / "digit.json").write_text(json.dumps(recipe))
    (tmp_path / "digit.png").write_bytes(recipe_png(np.kron(cgan.draw(z, 3), np.ones((8, 8), np.uint8)), recipe))
    for name in ("digit.json", "digit.png"):  # the page's two downloads
        out = tmp_path / f"from-{name}.png"
        assert main(["sample", str(SHIPPED / "cgan.safetensors"), "--recipe", str(tmp_path / name), "--out", str(out)]) == 0
        assert np.array_equal(np.asarray(Image.open(out)), cgan.draw(z, 3)), name
    assert "seed 7, label 3" in capsys.readouterr().out
    # A recipe saved before the sliders shared one reach (version 1) is drawn as it was saved: not held.
    before = {**recipe, "version": 1, "z": apply_sliders(noise_vector(7, cgan.latent_dim), directions, values).tolist()}
    (tmp_path / "before.json").write_text(json.dumps(before))
    assert main(["sample", str(SHIPPED / "cgan.safetensors"), "--recipe", str(tmp_path / "before.json"),
                 "--out", str(tmp_path / "before.png")]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "before.png")), cgan.draw(np.float32(before["z"]), 3))
    assert not np.array_equal(cgan.draw(np.float32(before["z"]), 3), cgan.draw(z, 3))
    dcgan = load_checkpoint(SHIPPED / "dcgan.safetensors")  # self-conditioned: a cluster code, 20 of them
    directions, dcgan = dcgan.directions["gan"].numpy(), dcgan.model
    values = [0.0, 0.0, 0.7] + [0.0] * 7
    z = with_code(apply_sliders(noise_vector(3, 100), directions, values), 4, dcgan.code_categories)
    (tmp_path / "coded.json").write_text(json.dumps(make_recipe("dcgan", 3, z, sliders=values, kind="gan", code=4)))
    assert main(["sample", str(SHIPPED / "dcgan.safetensors"), "--recipe", str(tmp_path / "coded.json"),
                 "--out", str(tmp_path / "coded.png")]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "coded.png")), dcgan.draw(z))


def recipe_file(folder: Path, name: str, **fields) -> str:
    from multigen.explore.noise import make_recipe

    recipe = make_recipe("checkpoints/dcgan.safetensors", 1, np.zeros(100, np.float32), kind="gan")
    recipe.update(fields)
    (folder / name).write_text(json.dumps(recipe))
    return str(folder / name)


def test_a_recipe_of_another_model_or_with_conflicting_options_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    from multigen import cache
    from multigen.cli import main

    def refuse(*_, **__):
        raise AssertionError("a recipe to be refused got its slider directions measured first")

    monkeypatch.setattr(cache, "gan_directions", refuse)
    dcgan, cgan, cvae = (str(SHIPPED / f"{name}.safetensors") for name in ("dcgan", "cgan", "cvae"))
    gan_recipe = recipe_file(tmp_path, "gan.json")
    cases = [
        ([cgan, "--recipe", gan_recipe], "This recipe is for a gan but the checkpoint holds a cgan"),
        ([cgan, "--recipe", recipe_file(tmp_path, "slid.json", sliders=[1.0, 2.0])], "This recipe is for a gan"),
        ([dcgan, "--recipe", recipe_file(tmp_path, "small.json", kind=None, z=[0.5] * 64)],
         "noise vector has 64 values but this gan takes 100"),
        ([dcgan, "--recipe", recipe_file(tmp_path, "coded.json", code=30)], "picks code 30 but this gan has codes 0-19"),
        ([cgan, "--recipe", recipe_file(tmp_path, "coded-c.json", kind="cgan", label=1, code=3)], "this cgan has no code"),
        ([cvae, "--recipe", gan_recipe], "draws with a gan or cgan checkpoint, not a cvae"),
        ([dcgan, "--recipe", gan_recipe, "--n", "4"], "--n 4 conflicts with --recipe"),
        ([dcgan, "--recipe", gan_recipe, "--seed", "2"], "--seed 2 differs from the recipe's seed 1"),
        ([dcgan, "--recipe", gan_recipe, "--label", "2"], "--label needs a conditional model"),
        ([cgan, "--recipe", recipe_file(tmp_path, "three.json", kind="cgan", label=3), "--label", "5"],
         "--label 5 differs from the recipe's digit 3"),
        ([cgan, "--recipe", recipe_file(tmp_path, "no-digit.json", kind="cgan")], "names no digit"),
        ([dcgan, "--recipe", recipe_file(tmp_path, "strip.json", type="number")], "writes a number"),
        ([dcgan, "--recipe", str(tmp_path / "missing.json")], "Cannot read the recipe"),
        ([dcgan, "--recipe", str(SHIPPED / "README.md")], "not a multigen recipe"),
    ]
    for args, message in cases:
        assert main(["sample", *args, "--out", str(tmp_path / "x.png")]) == 2, message
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, (message, err)
    assert not (tmp_path / "x.png").exists()


def test_two_sessions_searching_one_shared_gan_at_once_get_their_own_answers_and_leave_it_as_it_was(dcgan, classifier):
    import threading

    targets = dcgan.draw(np.random.default_rng(5).standard_normal((2, dcgan.latent_dim)).astype(np.float32))
    alone = [invert(dcgan, target, steps=20, classifier=classifier) for target in targets]
    needed = [parameter.requires_grad for parameter in dcgan.parameters()]
    together: list = [None, None]

    def search(index: int) -> None:
        together[index] = invert(dcgan, targets[index], steps=20, classifier=classifier)

    threads = [threading.Thread(target=search, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for one, other in zip(alone, together):
        np.testing.assert_array_equal(one.z, other.z)  # as if each had the model to itself
    assert [parameter.requires_grad for parameter in dcgan.parameters()] == needed
    assert all(parameter.grad is None for parameter in dcgan.parameters())  # no gradient left on the shared model
