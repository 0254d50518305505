"""The GAN generator page: seeds, sliders, codes and clusters, recipes, and the copy check."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import torch
from app_driver import GENERATOR, main_image, open_app
from streamlit.testing.v1 import AppTest

from multigen.checkpoints import save_checkpoint
from multigen.explore.noise import noise_vector
from multigen.models import build_model


def test_moving_a_slider_changes_the_generated_digit(app_env):
    at = open_app(GENERATOR)
    assert len(at.slider) >= 10
    before = main_image(at)
    at.slider(key="slider_0").set_value(2.5).run()
    assert main_image(at) != before
    at.button(key="gan_reset").click().run()
    assert main_image(at) == before and at.slider(key="slider_0").value == 0.0


def test_sliders_far_out_together_are_held_to_one_reach_and_the_caption_says_so(app_env):
    at = open_app(GENERATOR)
    at.slider(key="slider_0").set_value(1.5).run()
    at.slider(key="slider_1").set_value(-1.5).run()
    halfway = main_image(at)
    assert not any("Held together" in caption.value for caption in at.caption)  # within the reach: as set
    at.slider(key="slider_0").set_value(3.0).run()
    at.slider(key="slider_1").set_value(-3.0).run()
    assert main_image(at) == halfway  # two at their ends: each applied at half, the same digit
    assert any("Held together at 50%" in caption.value and "(+1.50, -1.50)" in caption.value for caption in at.caption)


def test_seed_randomize_and_digit_change_the_picture(app_env):
    at = open_app(GENERATOR)
    before = main_image(at)
    at.button(key="gan_randomize").click().run()
    assert at.number_input(key="gan_seed").value != 0 and main_image(at) != before
    at.number_input(key="gan_seed").set_value(0).run()
    assert main_image(at) == before
    at.pills(key="gan_digit").set_value(7).run()
    assert main_image(at) != before and at.image[0].captions[0].startswith("Digit 7")
    assert [b.label for b in at.get("download_button")] == ["Download PNG", "Download recipe"]


def test_an_infogan_shows_its_code_and_a_picked_code_changes_the_digit_and_comes_back_with_a_recipe(
    app_env, tmp_path, monkeypatch
):
    torch.manual_seed(0)
    infogan = tmp_path / "infogan.safetensors"
    save_checkpoint(infogan, build_model("gan", {"noise_dim": 16, "categorical_code": 10}).eval(),
                    metadata={"dataset": "mnist-5k", "epoch": 0, "step": 0})
    monkeypatch.setenv("MULTIGEN_CHECKPOINT_DIRS", f"{app_env['checkpoints']}{os.pathsep}{tmp_path}")
    at = open_app(GENERATOR)
    assert at.pills(key="gan_digit") and not at.get("pills")[1:]  # the cGAN: a digit, no code
    at.sidebar.selectbox(key="checkpoint_generator").set_value(str(infogan)).run()
    carried = int(np.argmax(noise_vector(0, 16)[:10]))
    assert at.image[0].captions[0] == f"Seed 0, code {carried}" and at.pills(key="gan_code").value is None
    before = main_image(at)
    other = (carried + 1) % 10
    at.pills(key="gan_code").set_value(other).run()
    assert at.image[0].captions[0] == f"Seed 0, code {other}" and main_image(at) != before
    # A recipe brings its code back.
    recipe = {"format": "multigen-recipe", "version": 1, "seed": 0, "label": None, "sliders": [], "z": [], "code": 4}
    at.file_uploader(key="gan_recipe").set_value(("recipe.json", json.dumps(recipe).encode(), "application/json"))
    at.run()
    assert at.pills(key="gan_code").value == 4 and at.image[0].captions[0] == "Seed 0, code 4"


def test_a_self_conditioned_gan_offers_its_clusters(app_env, tmp_path, monkeypatch):
    torch.manual_seed(0)
    clustered = tmp_path / "clustered.safetensors"
    save_checkpoint(clustered, build_model("gan", {"noise_dim": 16, "categorical_code": 6, "cluster_code": True}).eval(),
                    metadata={"dataset": "mnist-5k", "epoch": 0, "step": 0})
    monkeypatch.setenv("MULTIGEN_CHECKPOINT_DIRS", f"{app_env['checkpoints']}{os.pathsep}{tmp_path}")
    at = open_app(GENERATOR)
    at.sidebar.selectbox(key="checkpoint_generator").set_value(str(clustered)).run()
    carried = int(np.argmax(noise_vector(0, 16)[:6]))
    assert at.pills(key="gan_code").label == "Cluster" and at.pills(key="gan_code").options == [str(c) for c in range(6)]
    assert at.image[0].captions[0] == f"Seed 0, cluster {carried}"
    at.pills(key="gan_code").set_value((carried + 1) % 6).run()
    assert at.image[0].captions[0] == f"Seed 0, cluster {(carried + 1) % 6}"

    def upload(**fields):
        recipe = {"format": "multigen-recipe", "version": 1, "seed": 3, "label": None, "sliders": [], "z": [], **fields}
        at.file_uploader(key="gan_recipe").set_value(("recipe.json", json.dumps(recipe).encode(), "application/json"))
        at.run()

    # A refused recipe changes nothing; a cluster this checkpoint lacks is said, and the seed's is drawn.
    upload(code="seven")
    assert at.error[0].value.startswith("The recipe's code 'seven' is not a code category")
    assert at.number_input(key="gan_seed").value == 0
    upload(code=25)
    assert at.number_input(key="gan_seed").value == 3 and at.pills(key="gan_code").value is None
    carried = int(np.argmax(noise_vector(3, 16)[:6]))
    assert at.image[0].captions[0] == f"Seed 3, cluster {carried}"
    assert at.success[0].value == ("Loaded the recipe for seed 3. This checkpoint has no cluster 25 (it has 0-5): "
                                   "it draws the one the seed carries.")


def nearest_captions(at: AppTest) -> list[str]:
    """The captions under the nearest training digits: ``0.123 · digit 7``."""
    return [c for image in at.image for c in image.captions if re.fullmatch(r"\d\.\d{3} · digit \d", c)]


def test_the_gan_page_shows_the_nearest_training_digits_of_the_current_digit(app_env):
    from multigen.checkpoints import load_checkpoint
    from multigen.evaluation import nearest_training_digits

    at = open_app(GENERATOR)
    assert "**Nearest training digits**" in [m.value for m in at.markdown]
    model = load_checkpoint(app_env["checkpoints"] / "cgan.safetensors").model
    expected = nearest_training_digits(model.draw(noise_vector(0, model.latent_dim), 0)[None], k=3)
    assert nearest_captions(at) == [f"{d:.3f} · digit {label}" for d, label in zip(expected.distances[0],
                                                                                  expected.labels[0])]
    assert any("copy" in c.value and "5%" in c.value for c in at.caption)
    before = nearest_captions(at)
    at.slider(key="slider_0").set_value(2.5).run()
    assert len(nearest_captions(at)) == 3 and nearest_captions(at) != before  # it follows the picture


def test_a_file_that_is_not_a_recipe_shows_an_error(app_env):
    at = open_app(GENERATOR)
    at.file_uploader(key="gan_recipe").set_value(("recipe.json", b"{not json", "application/json"))
    at.run()
    assert not at.exception and at.error and main_image(at)


def test_a_saved_recipe_loads_back_into_the_page(app_env):
    at = open_app(GENERATOR)
    recipe = {"format": "multigen-recipe", "version": 1, "seed": 42, "label": 3, "sliders": [1.5, -0.5], "z": []}
    at.file_uploader(key="gan_recipe").set_value(("recipe.json", json.dumps(recipe).encode(), "application/json"))
    at.run()
    assert not at.exception and at.success
    assert at.number_input(key="gan_seed").value == 42
    assert at.slider(key="slider_0").value == 1.5 and at.slider(key="slider_1").value == -0.5
    assert not at.warning
    # Saved before the sliders shared one reach, with sliders beyond it: loaded, and the page says the digit differs.
    recipe.update(sliders=[3.0, -2.0], version=1)
    at.file_uploader(key="gan_recipe").set_value(("old.json", json.dumps(recipe).encode(), "application/json"))
    at.run()
    assert not at.exception and at.slider(key="slider_0").value == 3.0
    assert "saved before the sliders shared one reach" in at.warning[0].value
    assert "multigen sample --recipe old.json" in at.warning[0].value


def _bomb_png() -> bytes:
    """A 20000 x 20000 PNG: about 400 KB on disk, 400 million pixels if decoded."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (20_000, 20_000)).save(buffer, "PNG")
    return buffer.getvalue()


def test_hostile_recipe_uploads_are_one_error_line_and_the_page_goes_on(app_env):
    at = open_app(GENERATOR)
    seed = at.number_input(key="gan_seed").value
    uploads = [
        ("infinite.json", b'{"seed": Infinity}', "application/json"),
        ("label.json", b'{"seed": 3, "label": Infinity}', "application/json"),
        ("nested.json", b"[" * 100_000, "application/json"),
        ("bomb.png", _bomb_png(), "image/png"),
        ("huge.json", b" " * 3_000_000 + b"{}", "application/json"),
    ]
    for upload in uploads:
        at.file_uploader(key="gan_recipe").set_value(upload)
        at.run()
        assert not at.exception, upload[0]
        assert len(at.error) == 1 and "\n" not in at.error[0].value, upload[0]
        assert at.number_input(key="gan_seed").value == seed and main_image(at), upload[0]  # nothing changed


def test_text_from_a_recipe_is_shown_as_text_not_markdown(app_env):
    at = open_app(GENERATOR)
    recipe = {"format": "multigen-recipe", "version": 1, "seed": 5, "sliders": [], "z": [],
              "checkpoint": "![x](http://example.invalid/pixel.png)"}
    at.file_uploader(key="gan_recipe").set_value(("recipe.json", json.dumps(recipe).encode(), "application/json"))
    at.run()
    assert not at.exception and at.success
    body = at.success[0].value
    assert "![x](" not in body and r"!\[x\](http://example.invalid/pixel.png)" in body  # escaped: no image to fetch


def test_a_digit_found_by_inversion_opens_the_page_on_its_noise_until_a_new_seed_is_picked(app_env):
    from app_driver import png_pixels

    from multigen.checkpoints import load_checkpoint

    at = open_app(GENERATOR)
    seed_image = main_image(at)
    folder = os.environ["MULTIGEN_CHECKPOINT_DIRS"].split(os.pathsep)[0]
    cgan = load_checkpoint(os.path.join(folder, "cgan.safetensors")).model  # the page's GAN
    z = np.random.default_rng(3).standard_normal(cgan.latent_dim).round(4).tolist()
    recipe = {"format": "multigen-recipe", "version": 1, "seed": 0, "label": 2, "sliders": [], "z": z,
              "source": "inversion", "distance": 0.0123}
    at.file_uploader(key="gan_recipe").set_value(("found.json", json.dumps(recipe).encode(), "application/json"))
    at.run()
    assert not at.exception and at.success
    assert "found by inversion (distance 0.012)" in at.image[0].proto.imgs[0].caption
    found_image = main_image(at)
    drawn = png_pixels(found_image)  # sent at its own 28 x 28 size, enlarged by the browser
    assert np.abs(drawn.astype(int) - cgan.draw(np.asarray(z, np.float32), 2).astype(int)).max() <= 1  # z itself
    assert found_image != seed_image
    at.slider(key="slider_0").set_value(1.0).run()  # the sliders move the found vector
    assert main_image(at) not in (found_image, seed_image)
    at.number_input(key="gan_seed").set_value(5).run()  # a new seed: back to the seeds' noise
    assert "seed 5" in at.image[0].proto.imgs[0].caption
