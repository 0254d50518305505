"""Writing a number: one style for every digit, refused input, recipes, styles from clicked digits, the CLI."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from multigen.checkpoints import load_checkpoint, save_checkpoint
from multigen.errors import MultigenError
from multigen.explore.handwriting import (
    MAX_DIGITS,
    STYLE_NAMES,
    STYLE_RANGE,
    make_write_recipe,
    measure_style,
    parse_number,
    strip_from_recipe,
    strip_png,
    style_directions,
    style_from_digit,
    style_from_seed,
    write_number,
)
from multigen.explore.noise import recipe_from_png
from multigen.models import build_model

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CVAE = ROOT / "checkpoints" / "cvae.safetensors"
TINY = {
    "cvae": {"hidden_channels": 4, "hidden_features": 16, "latent_dim": 4},
    "vae": {"hidden_channels": 4, "hidden_features": 16, "latent_dim": 4},
    "cgan": {"noise_dim": 8},
    "gan": {"noise_dim": 8},
}
SAMPLES = 200  # style directions of a tiny model: enough for a stable fit, fast on 2 cores


def tiny(kind: str):
    torch.manual_seed(0)
    return build_model(kind, TINY[kind]).eval()


@pytest.fixture(scope="module")
def models():
    return {kind: tiny(kind) for kind in TINY}


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert message and "\n" not in message
    return message


# -- the number ---------------------------------------------------------------------------------------
def test_a_number_is_read_digit_by_digit_and_spaces_are_ignored():
    assert parse_number("2026") == [2, 0, 2, 6]
    assert parse_number(" 20 26 ") == [2, 0, 2, 6]
    assert parse_number("0" * MAX_DIGITS) == [0] * MAX_DIGITS


@pytest.mark.parametrize(("text", "said"), [
    ("20a6", "'a'"), ("2,026", "','"), ("-7", "'-'"), ("٣", "0-9"), ("", "Type a number"), ("   ", "Type a number"),
    ("1234567890123", "13 digits"),
])
def test_anything_but_1_to_12_digits_is_refused_in_one_line(text, said):
    with pytest.raises(MultigenError) as error:
        parse_number(text)
    assert said in one_line(error)


# -- the strip ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["cvae", "cgan"])
def test_every_digit_is_written_into_its_own_28_pixel_cell_in_one_style(models, kind):
    model = models[kind]
    style = style_from_seed(model, 3)
    strip = write_number(model, "0123456789", style)
    assert strip.shape == (28, 280) and strip.dtype == np.uint8
    for digit in range(10):
        alone = write_number(model, [digit], style)  # the same digit, the same style, on its own
        cell = strip[:, 28 * digit : 28 * (digit + 1)]
        assert np.abs(cell.astype(int) - alone.astype(int)).max() <= 1, digit
    assert write_number(model, "7", style).shape == (28, 28)


@pytest.mark.parametrize("kind", ["cvae", "cgan"])
def test_the_same_style_gives_the_same_strip_and_another_seed_another(models, kind):
    model = models[kind]
    first = write_number(model, "2026", style_from_seed(model, 1))
    assert np.array_equal(first, write_number(model, [2, 0, 2, 6], style_from_seed(model, 1)))
    assert not np.array_equal(first, write_number(model, "2026", style_from_seed(model, 2)))


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_a_model_that_is_not_told_the_digit_cannot_write(models, kind):
    model = models[kind]
    with pytest.raises(MultigenError) as error:
        write_number(model, "12", np.zeros(model.latent_dim, np.float32))
    assert "CVAE or a cGAN" in one_line(error) and kind in str(error.value)


def test_a_style_of_the_wrong_size_is_refused(models):
    with pytest.raises(MultigenError) as error:
        write_number(models["cvae"], "12", np.zeros(7, np.float32))
    assert "4 numbers" in one_line(error)


# -- styles ----------------------------------------------------------------------------------------
def test_the_style_of_a_clicked_digit_is_its_cvae_posterior_mean(models):
    cvae = models["cvae"]
    image = np.zeros((28, 28), np.uint8)
    image[4:24, 12:16] = 255  # a "1"
    style = style_from_digit(cvae, image, 1)
    with torch.no_grad():
        mu, _ = cvae.encode(torch.from_numpy(image / 255.0).float()[None, None], torch.tensor([1]))
    np.testing.assert_allclose(style, mu[0].numpy(), rtol=1e-6, atol=1e-6)
    assert np.array_equal(style_from_digit(cvae, image.tolist(), 1), style)  # as the explorer stores it
    assert write_number(cvae, "2026", style).shape == (28, 112)


@pytest.mark.parametrize("kind", ["cgan", "vae", "gan"])
def test_styles_from_clicked_digits_need_a_cvae(models, kind):
    with pytest.raises(MultigenError) as error:
        style_from_digit(models[kind], np.zeros((28, 28), np.uint8), 7)
    assert "needs a CVAE" in one_line(error)


def test_measured_slant_thickness_and_width_read_a_drawn_stroke():
    upright, leaning, thick, wide = (np.zeros((28, 28), np.uint8) for _ in range(4))
    for y in range(4, 24):
        upright[y, 13:15] = 255
        shift = (14 - y) // 3  # the top to the right: leans right
        leaning[y, 13 + shift : 15 + shift] = 255
        thick[y, 12:17] = 255
    wide[4:24, 6:8] = wide[4:24, 20:22] = 255
    slant, thickness, width = measure_style(np.stack([upright, leaning, thick, wide])).T
    assert abs(slant[0]) < 1e-6 and slant[1] > 0.2
    assert thickness[2] > 2 * thickness[0]
    assert width[3] > 3 * width[0]


def test_style_directions_are_unit_vectors_found_the_same_way_every_time(models):
    directions = style_directions(models["cgan"], samples=SAMPLES)
    assert directions.shape == (len(STYLE_NAMES), 8) and directions.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0, rtol=1e-5)
    assert np.array_equal(directions, style_directions(models["cgan"], samples=SAMPLES))


@pytest.mark.skipif(not SHIPPED_CVAE.exists(), reason="no shipped CVAE in checkpoints/ yet")
def test_each_slider_of_the_shipped_cvae_changes_what_its_name_says():
    checkpoint = load_checkpoint(SHIPPED_CVAE)
    model, directions = checkpoint.model, checkpoint.directions["style"].numpy()  # what the Write page uses
    styles = [style_from_seed(model, seed) for seed in range(5)]

    def mean_measure(index: int, value: float) -> float:
        values = [value if i == index else 0.0 for i in range(len(STYLE_NAMES))]
        strips = [write_number(model, "0123456789", s, sliders=values, directions=directions) for s in styles]
        digits = np.concatenate([strip.reshape(28, 10, 28).transpose(1, 0, 2) for strip in strips])
        return float(measure_style(digits)[:, index].mean())

    for index, name in enumerate(STYLE_NAMES):
        # at the slider's ends (directions shortened to where digits stay legible): still 15% or more apart
        assert mean_measure(index, STYLE_RANGE) > mean_measure(index, -STYLE_RANGE) * 1.15 + 0.05, name


# -- recipes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["cvae", "cgan"])
def test_a_recipe_draws_the_same_strip_and_the_same_png_bytes_again(models, kind):
    model = models[kind]
    directions = style_directions(model, samples=SAMPLES)
    style, sliders = style_from_seed(model, 5), [0.5, -1.0, 2.0]
    strip = write_number(model, "31415", style, sliders=sliders, directions=directions)
    recipe = make_write_recipe("runs/x.safetensors", model.kind, "31415", style, sliders=sliders,
                               directions=directions, seed=5)
    png = strip_png(strip, recipe, scale=4)

    loaded = recipe_from_png(png)
    assert loaded == json.loads(json.dumps(recipe))
    assert loaded["text"] == "31415" and loaded["seed"] == 5 and loaded["sliders"]["width"] == 2.0
    again = strip_from_recipe(model, json.loads(json.dumps(loaded)))
    assert np.array_equal(again, strip)
    assert strip_png(again, loaded, scale=4) == png
    assert Image.open(io.BytesIO(png)).size == (5 * 28 * 4, 28 * 4)


def test_a_recipe_for_another_kind_of_model_is_refused(models):
    recipe = make_write_recipe("cgan.safetensors", "cgan", "12", style_from_seed(models["cgan"], 0))
    with pytest.raises(MultigenError) as error:
        strip_from_recipe(models["cvae"], recipe)
    assert "cgan" in one_line(error)


# -- the command line ------------------------------------------------------------------------------
def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MULTIGEN_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "multigen", *args], capture_output=True, text=True, check=False,
                          env=env, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def checkpoint_files(models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("write")
    for kind in ("cgan", "vae"):
        save_checkpoint(folder / f"{kind}.safetensors", models[kind], metadata={"dataset": "mnist-5k"})
    return folder


def test_the_write_command_writes_every_digit_with_its_recipe(checkpoint_files, models):
    out = checkpoint_files / "strip.png"
    result = run_cli("write", "0123456789", "--ckpt", str(checkpoint_files / "cgan.safetensors"),
                     "--style-seed", "4", "--width", "1.5", "--out", str(out), "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout
    picture = np.asarray(Image.open(out))
    assert picture.shape == (28, 280)
    recipe = json.loads(out.with_suffix(".json").read_text())
    assert recipe == recipe_from_png(out.read_bytes()) and recipe["seed"] == 4 and recipe["kind"] == "cgan"
    assert np.array_equal(strip_from_recipe(models["cgan"], recipe), picture)


def test_the_write_command_refuses_a_number_with_a_letter_in_one_line_with_status_2(checkpoint_files):
    out = checkpoint_files / "refused.png"
    result = run_cli("write", "20a6", "--ckpt", str(checkpoint_files / "cgan.safetensors"), "--out", str(out))
    assert result.returncode == 2 and not out.exists()
    assert "'a'" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("text", "checkpoint", "said"), [("1234567890123", "cgan", "13 digits"),
                                                          ("12", "vae", "CVAE or a cGAN")])
def test_the_write_command_refuses_13_digits_and_a_plain_vae_with_status_2(checkpoint_files, capsys, text,
                                                                            checkpoint, said):
    from multigen.cli import main  # in-process: the same code path as above, without another interpreter

    out = checkpoint_files / f"refused-{checkpoint}.png"
    status = main(["write", text, "--ckpt", str(checkpoint_files / f"{checkpoint}.safetensors"), "--out", str(out)])
    error = capsys.readouterr().err
    assert status == 2 and not out.exists()
    assert said in error and len(error.strip().splitlines()) == 1
