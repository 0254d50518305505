"""The GAN noise space: seeded vectors, GANSpace sliders, variations, slerp and image recipes."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from multigen.errors import MultigenError
from multigen.explore.noise import (
    apply_sliders,
    code_of,
    held_together,
    image_from_recipe,
    make_recipe,
    noise_vector,
    read_recipe,
    recipe_from_png,
    recipe_png,
    slerp,
    slider_directions,
    variations,
)
from multigen.images import enlarge
from multigen.models import build_model

NOISE_DIM = 8
SAMPLES = 300  # enough for 4 stable components of a tiny generator, and fast on 2 cores


def tiny(kind: str):
    torch.manual_seed(0)
    return build_model(kind, {"noise_dim": NOISE_DIM}).eval()


@pytest.fixture(scope="module")
def gan():
    return tiny("gan")


@pytest.fixture(scope="module")
def cgan():
    return tiny("cgan")


# -- noise vectors and images ----------------------------------------------------------------------


def test_noise_vector_is_the_same_for_the_same_seed_and_differs_between_seeds():
    z = noise_vector(7, 100)
    assert z.shape == (100,) and z.dtype == np.float32
    assert np.array_equal(z, noise_vector(7, 100))
    assert not np.array_equal(z, noise_vector(8, 100))
    assert abs(float(z.std()) - 1.0) < 0.3  # drawn from N(0, I)
    with pytest.raises(MultigenError, match="seed"):
        noise_vector(-1, 100)


# -- GANSpace sliders ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gan", "cgan"])
def test_slider_directions_are_unit_vectors_and_the_same_for_the_same_seed(kind):
    model = tiny(kind)
    directions = slider_directions(model, 4, seed=0, samples=SAMPLES, calibrate=False)  # lengths: test_legibility.py
    assert directions.shape == (4, NOISE_DIM) and directions.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(directions, slider_directions(model, 4, seed=0, samples=SAMPLES, calibrate=False))
    assert not np.allclose(directions, slider_directions(model, 4, seed=1, samples=SAMPLES, calibrate=False))


def test_slider_directions_never_change_an_infogans_code():
    torch.manual_seed(0)
    model = build_model("gan", {"noise_dim": NOISE_DIM, "categorical_code": 3}).eval()
    directions = slider_directions(model, 4, samples=SAMPLES, calibrate=False)
    assert np.array_equal(directions[:, :3], np.zeros((4, 3))) and np.all(np.abs(directions[:, 3:]).sum(axis=1) > 0)
    z = noise_vector(5, NOISE_DIM)
    assert code_of(apply_sliders(z, directions, [3.0, -3.0, 3.0, -3.0]), 3) == code_of(z, 3)


def test_moving_a_slider_changes_the_image_and_zero_sliders_reproduce_the_base_image(gan):
    directions = slider_directions(gan, 3, samples=SAMPLES)
    z = noise_vector(3, NOISE_DIM)
    base = gan.draw(z)
    assert np.array_equal(gan.draw(apply_sliders(z, directions, [0.0, 0.0, 0.0])), base)
    for slider in range(3):
        values = [0.0, 0.0, 0.0]
        values[slider] = 3.0
        assert not np.array_equal(gan.draw(apply_sliders(z, directions, values)), base)


def test_slider_directions_refuse_more_sliders_than_noise_dimensions_or_a_vae(gan):
    with pytest.raises(MultigenError, match="1 to 8"):
        slider_directions(gan, 10, samples=SAMPLES)
    vae = build_model("vae", {"latent_dim": 2, "hidden_channels": 4, "hidden_features": 16}).eval()
    with pytest.raises(MultigenError, match="GAN"):
        slider_directions(vae, 2)


def test_apply_sliders_adds_each_value_times_its_direction():
    directions = np.eye(3, dtype=np.float32)
    z = np.array([1.0, 2.0, 3.0], np.float32)
    np.testing.assert_array_equal(apply_sliders(z, directions, [0.5, -1.0, 0.0]), [1.5, 1.0, 3.0])
    np.testing.assert_array_equal(apply_sliders(z, directions, [2.0]), [3.0, 2.0, 3.0])  # the rest stay at 0
    with pytest.raises(MultigenError, match="slider values"):
        apply_sliders(z, directions, [0.0] * 4)


def test_sliders_share_one_reach_all_scaled_by_one_factor_beyond_it():
    np.testing.assert_array_equal(held_together([3.0, 0.0, 0.0]), [3.0, 0.0, 0.0])  # one alone: its whole range
    np.testing.assert_array_equal(held_together([-1.0, 2.0, 0.0]), [-1.0, 2.0, 0.0])  # within the reach: as set
    np.testing.assert_allclose(held_together([3.0, -3.0, 0.0]), [1.5, -1.5, 0.0])  # two at their ends: half each
    held = held_together([2.0, 1.0, 3.0])
    np.testing.assert_allclose(np.abs(held).sum(), 3.0, rtol=1e-6)
    np.testing.assert_allclose(held / np.array([2.0, 1.0, 3.0]), 0.5, rtol=1e-6)  # the same change, scaled down
    assert held_together([]).shape == (0,) and held_together([0.0, 0.0]).tolist() == [0.0, 0.0]
    with pytest.raises(MultigenError, match="finite"):
        held_together([float("nan"), 1.0])


def test_slider_directions_are_calibrated_with_every_pair_at_its_ends_held_as_the_page_holds_them(gan, monkeypatch):
    """The calibration measures the pairs where the page puts them: two sliders at their ends at half each."""
    from multigen.explore import noise

    seen = {}

    def record(model, directions, starts, labels, **options):
        seen.update(options)
        return directions

    monkeypatch.setattr(noise, "calibrated", record)
    slider_directions(gan, 3, samples=SAMPLES)
    assert seen["together"] == 2 and seen["reach"] == noise.SLIDER_RANGE
    np.testing.assert_allclose(seen["hold"](np.array([1.0, -1.0, 0.0])), [0.5, -0.5, 0.0])
    np.testing.assert_allclose(seen["hold"](np.array([0.0, 1.0, 0.0])), [0.0, 1.0, 0.0])


# -- variations and slerp ----------------------------------------------------------------------------


def test_variations_are_seeded_stay_near_z_and_strength_zero_copies_it():
    z = noise_vector(0, 64)
    near = variations(z, 6, strength=0.3, seed=1)
    assert near.shape == (6, 64) and near.dtype == np.float32
    assert np.array_equal(near, variations(z, 6, strength=0.3, seed=1))
    far = variations(z, 6, strength=0.9, seed=1)
    assert np.linalg.norm(near - z, axis=1).max() < np.linalg.norm(far - z, axis=1).min()
    np.testing.assert_allclose(variations(z, 2, strength=0.0), np.stack([z, z]))
    with pytest.raises(MultigenError, match="strength"):
        variations(z, strength=1.5)


def test_slerp_includes_both_endpoints_and_keeps_the_norm_between_vectors_of_equal_norm():
    z0, z1 = noise_vector(0, 32), noise_vector(1, 32)
    z1 = z1 / np.linalg.norm(z1) * np.linalg.norm(z0)
    path = slerp(z0, z1, steps=7)
    assert path.shape == (7, 32) and path.dtype == np.float32
    np.testing.assert_allclose(path[0], z0, atol=1e-6)
    np.testing.assert_allclose(path[-1], z1, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(z0), rtol=1e-5)
    # A straight line cuts through the low-norm middle that a Gaussian prior rarely samples.
    assert np.linalg.norm((z0 + z1) / 2) < np.linalg.norm(path[3]) - 0.1


def test_slerp_of_parallel_vectors_falls_back_to_a_straight_line():
    z = np.array([1.0, 2.0, 2.0], np.float32)
    np.testing.assert_allclose(slerp(z, 2 * z, steps=3), [z, 1.5 * z, 2 * z], atol=1e-6)


# -- recipes ---------------------------------------------------------------------------------------------


def test_a_recipe_png_carries_its_json_and_rebuilds_the_image_byte_for_byte(cgan):
    directions = slider_directions(cgan, 3, samples=SAMPLES)
    sliders = [1.25, -0.5, 0.0]
    z = apply_sliders(noise_vector(42, NOISE_DIM), directions, sliders)
    image = cgan.draw(z, 7)
    recipe = make_recipe("checkpoints/cgan.safetensors", 42, z, label=7, sliders=sliders, kind="cgan")
    assert {"checkpoint", "kind", "seed", "label", "sliders", "z"} <= set(recipe)
    assert recipe["seed"] == 42 and recipe["label"] == 7 and recipe["sliders"] == sliders and len(recipe["z"]) == 8

    png = recipe_png(enlarge(image, 4), recipe)
    with Image.open(io.BytesIO(png)) as picture:
        assert json.loads(picture.text["multigen-recipe"]) == recipe
        assert np.array_equal(np.asarray(picture), enlarge(image, 4))
    loaded = recipe_from_png(png)  # through JSON text and back
    assert loaded == recipe
    rebuilt = image_from_recipe(cgan, loaded)
    assert rebuilt.dtype == np.uint8 and rebuilt.tobytes() == image.tobytes()


def test_a_recipe_for_another_model_or_a_png_without_one_is_refused(gan, cgan):
    recipe = make_recipe("cgan.safetensors", 0, noise_vector(0, NOISE_DIM), label=1, kind="cgan")
    with pytest.raises(MultigenError, match="cgan"):
        image_from_recipe(gan, recipe)
    wider = make_recipe("gan.safetensors", 0, noise_vector(0, 16), kind="gan")
    with pytest.raises(MultigenError, match="16 values"):
        image_from_recipe(gan, wider)
    plain = io.BytesIO()
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(plain, format="PNG")
    with pytest.raises(MultigenError, match="no multigen recipe"):
        recipe_from_png(plain.getvalue())
    with pytest.raises(MultigenError, match="not a PNG"):
        recipe_from_png(b"not an image")


def test_an_infogan_code_is_picked_by_moving_the_largest_entry_and_keeps_the_values():
    from multigen.explore.noise import with_code

    z = noise_vector(3, 16)
    for category in range(10):
        coded = with_code(z, category, 10)
        assert code_of(coded, 10) == category
        np.testing.assert_array_equal(np.sort(coded), np.sort(z))  # the same numbers, one pair swapped
        assert (coded != z).sum() in (0, 2)
    batch = with_code(np.stack([noise_vector(s, 16) for s in range(5)]), 4, 10)
    assert batch.shape == (5, 16) and (batch[:, :10].argmax(axis=1) == 4).all()
    with pytest.raises(MultigenError, match="code must be a category from 0 to 9"):
        with_code(z, 10, 10)
    infogan = build_model("gan", {"noise_dim": 16, "categorical_code": 10})
    assert infogan.code_categories == 10 and build_model("gan", {"noise_dim": 16}).code_categories == 0
    # The code changes the picture: the generator is given another one-hot.
    assert not np.array_equal(infogan.eval().draw(with_code(z, 1, 10)), infogan.draw(with_code(z, 2, 10)))


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        ('{"seed": Infinity}', "seed inf is not a whole number"),
        ('{"seed": 3, "label": NaN}', "digit nan is not a whole number from 0 to 9"),
        ('{"seed": 3, "label": 12}', "digit 12 is not a whole number from 0 to 9"),
        ('{"seed": 18446744073709551616}', "seed 18446744073709551616 is not a whole number from 0 to 2147483647"),
        ('{"seed": "3"}', "seed '3' is not a whole number"),
        ('{"seed": true}', "seed True is not a whole number"),
        ('{"seed": 1, "code": "seven"}', "code 'seven' is not a code category"),
        ('{"seed": 1, "sliders": [1, Infinity]}', "sliders are not a list of numbers"),
        ('{"seed": 1, "sliders": "up"}', "sliders are not a list of numbers"),
        ("[" * 100_000, "not a multigen recipe"),
        ("{not json", "not a multigen recipe"),
        ('{"z": [0.5]}', "not a multigen recipe"),
        ('{"seed": 1, "kind": "biggan"}', "kind 'biggan' is not one of vae, cvae, gan, cgan"),
        ('{"seed": 1, "z": [0.5, NaN]}', "z is not a list of finite numbers"),
        ('{"seed": 1, "z": "0.5"}', "z is not a list of finite numbers"),
        ('{"seed": 1, "type": "number", "text": "12"}', "writes a number"),
    ],
)
def test_a_damaged_or_hostile_recipe_is_refused_in_one_line(recipe, message):
    with pytest.raises(MultigenError, match=message):
        read_recipe(recipe.encode(), "recipe.json")


def test_a_saved_recipe_reads_back_from_its_png_and_its_json(gan):
    z = noise_vector(7, NOISE_DIM)
    recipe = make_recipe("checkpoints/dcgan.safetensors", 7, z, sliders=[1.5, -0.5], kind="gan", code=3)
    expected = read_recipe(json.dumps(recipe).encode(), "recipe.json")
    assert expected == read_recipe(recipe_png(gan.draw(z), recipe), "digit.PNG")
    assert (expected.seed, expected.label, expected.code, expected.sliders) == (7, None, 3, (1.5, -0.5))
    assert expected.checkpoint == "checkpoints/dcgan.safetensors"
