"""The Streamlit app, page by page, through Streamlit's AppTest (no browser).

Tiny checkpoints are made once for the module in a temporary folder that
``MULTIGEN_CHECKPOINT_DIRS`` points the app at; a second group runs the same pages on the shipped
checkpoints in ``checkpoints/`` once they exist.

A click on the latent map reaches the page as a selection in the format of ``st.plotly_chart``'s
``event.selection``; tests inject one through ``st.session_state["latent_selection"]``, the same
inbox the chart's ``on_select`` callback fills in the real app.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from multigen.checkpoints import list_checkpoints, read_metadata, save_checkpoint
from multigen.data import load_dataset, subset
from multigen.models import build_model
from pages._shared import available_checkpoints, device_description, training_job

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
EXPLORER, GENERATOR, TRAIN = "pages/latent_explorer.py", "pages/gan_generator.py", "pages/train.py"
TIMEOUT = 120  # seconds per script run: the first one imports torch and encodes the digits
TINY_VAE = {"hidden_channels": 4, "hidden_features": 16}



@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory):
    """Untrained vae-2, cvae, dcgan and cgan checkpoints: the pages only need models of the right shape."""
    folder = tmp_path_factory.mktemp("checkpoints")
    models = {
        "vae-2": ("vae", {**TINY_VAE, "latent_dim": 2}), "cvae": ("cvae", {**TINY_VAE, "latent_dim": 4}),
        "dcgan": ("gan", {"noise_dim": 16}), "cgan": ("cgan", {"noise_dim": 16}),
    }
    for name, (kind, config) in models.items():
        torch.manual_seed(0)
        save_checkpoint(folder / f"{name}.safetensors", build_model(kind, config).eval(),
                        metadata={"dataset": "mnist-5k", "epoch": 0, "step": 0})
    return folder


@pytest.fixture(scope="module")
def app_env(tiny_checkpoints, tmp_path_factory):
    """Point the app at the tiny checkpoints and at temporary runs and cache folders."""
    runs, cache = tmp_path_factory.mktemp("runs"), tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MULTIGEN_CHECKPOINT_DIRS", str(tiny_checkpoints))
        patch.setenv("MULTIGEN_RUNS_DIR", str(runs))
        patch.setenv("MULTIGEN_CACHE_DIR", str(cache))
        patch.setenv("MULTIGEN_OFFLINE", "1")
        yield {"checkpoints": tiny_checkpoints, "runs": runs, "cache": cache}


def open_app(page: str | None = None) -> AppTest:
    """The app after a script run on ``page`` (the explorer, the default page, when None)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def click(at: AppTest, *points: dict, box: list | None = None) -> AppTest:
    """Inject a chart selection, exactly as the map's on_select callback hands it on, and rerun."""
    at.session_state["latent_selection"] = {"points": list(points), "point_indices": [], "box": box or [], "lasso": []}
    at.run()
    assert not at.exception, at.exception
    return at


def dot(row: int, label: int, *, trace: int = 3) -> dict:
    """A click on the dot of ``row`` (a ``label``, as the map's legend and the test's reader know it).

    curve_number and point_index are deliberately misleading: the page must map rows through customdata.
    """
    return {"curve_number": trace, "point_number": 0, "point_index": 0, "x": 0.0, "y": 0.0, "customdata": row,
            "legendgroup": str(label)}


def empty_space(x: float, y: float) -> dict:
    return {"curve_number": 0, "point_number": 0, "point_index": 0, "x": x, "y": y, "customdata": -1}


def component_data(at: AppTest, name: str) -> dict | None:
    """What the script run sent to the custom component ``name`` (``st.components.v2``), if it drew one."""
    for element in at.get("bidi_component"):
        if element.proto.component_name == name:
            return json.loads(element.proto.json)
    return None


def clicked(at: AppTest) -> dict:
    """The explorer's picture panel: title, pictures, row, and what a click shows at once (pages/_pictures.py)."""
    data = component_data(at, "multigen.clicked_pictures")
    assert data is not None, "the explorer drew no picture panel"
    return data


def images_by_caption(at: AppTest) -> dict[str, str]:
    """Caption -> URL of every picture, st.image's and the explorer's panel's; equal URLs mean equal pictures
    (st.image's URL is a hash of the PNG bytes, the panel's a data URL of them)."""
    shown = {caption: url for image in at.image for caption, url in zip(image.captions, image.value)}
    panel = component_data(at, "multigen.clicked_pictures")
    shown.update({picture["caption"]: picture["url"] for picture in (panel or {}).get("pictures", [])})
    return shown


def png_pixels(url: str) -> np.ndarray:
    """The grey levels of a PNG data URL."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("L"))


def explorer_rows(n_points: int = 2000, split: str = "train") -> np.ndarray:
    """The labels of the rows the explorer shows (the same seeded subset the page takes)."""
    return subset(load_dataset("mnist-5k", split), n_points).labels.numpy()


# -- every page renders ------------------------------------------------------------------------------
@pytest.mark.parametrize("page", [EXPLORER, GENERATOR, TRAIN])
def test_every_page_renders_without_an_exception(app_env, page):
    at = open_app(page)
    assert at.title and not at.error
    # The shell (app.py) drew the one shared sidebar, also for a page Streamlit ran on its own.
    devices = [caption.value for caption in at.sidebar.caption if caption.value.startswith("Device:")]
    assert devices == [f"Device: {device_description()}"]


def test_each_model_page_offers_only_its_kind_of_checkpoint(app_env):
    at = open_app()
    names = [label.split(" — ")[0] for label in at.sidebar.selectbox(key="checkpoint_explorer").options]
    assert names == ["vae-2", "cvae"]
    at.switch_page(GENERATOR).run()
    names = [label.split(" — ")[0] for label in at.sidebar.selectbox(key="checkpoint_generator").options]
    assert names == ["cgan", "dcgan"]


def test_a_page_without_a_suitable_checkpoint_says_what_to_do(app_env, tmp_path, monkeypatch):
    monkeypatch.setenv("MULTIGEN_CHECKPOINT_DIRS", str(tmp_path))
    monkeypatch.setenv("MULTIGEN_RUNS_DIR", str(tmp_path / "runs"))
    for page in (EXPLORER, GENERATOR):
        at = open_app(page)
        assert at.info and "Train" in at.info[0].value and not at.error


# -- latent explorer ---------------------------------------------------------------------------------
def test_clicking_a_dot_shows_the_digit_of_that_row(app_env):
    labels = explorer_rows()
    first = int(np.flatnonzero(labels == 3)[7])
    second = int(np.flatnonzero(labels == 8)[2])
    at = open_app()
    click(at, dot(first, 3, trace=8))
    assert clicked(at)["title"] == f"Digit 3 · row {first}"
    shown = images_by_caption(at)
    assert {"Original", "Reconstruction: its latent mean decoded"} <= shown.keys()
    click(at, dot(second, 8, trace=3))
    assert clicked(at)["title"] == f"Digit 8 · row {second}"
    assert images_by_caption(at)["Original"] != shown["Original"]
    assert any("from row" in c.value and f"row {second} (digit 8)" in c.value for c in at.caption)  # two picks
    at.button(key="explorer_clear").click().run()
    assert at.subheader[0].value == "Click the map" and "Original" not in images_by_caption(at)
    assert clicked(at)["title"] is None and clicked(at)["row"] is None
    assert at.button(key="explorer_clear").disabled


def test_clicking_a_dot_shows_how_close_its_reconstruction_comes_to_it(app_env):
    from multigen.checkpoints import load_checkpoint
    from multigen.images import to_uint8
    from multigen.latent import reconstruction_quality

    row = 4
    at = click(open_app(), dot(row, int(explorer_rows()[row])))
    figures = {metric.label: metric.value for metric in at.metric}
    assert list(figures) == ["Perceptual distance", "Pixel BCE"]
    model = load_checkpoint(app_env["checkpoints"] / "vae-2.safetensors").model
    digit = to_uint8(subset(load_dataset("mnist-5k", "train"), 2000).images[row])[0]
    expected = reconstruction_quality(model, digit)
    assert float(figures["Perceptual distance"]) == pytest.approx(expected.perceptual[0], abs=1e-3)
    assert figures["Pixel BCE"] == f"{expected.bce[0]:.1f} nats"
    click(at, empty_space(0.1, 0.1))
    assert not at.metric  # a decoded position has no original to compare with


def test_clicking_empty_space_decodes_that_position(app_env):
    from multigen.checkpoints import load_checkpoint
    from multigen.latent import encode_dataset

    at = open_app()
    row = 11
    click(at, dot(row, int(explorer_rows()[row])))
    reconstruction = images_by_caption(at)["Reconstruction: its latent mean decoded"]
    # On the raw 2-D map a position is a latent: clicking exactly where row 11 sits decodes the same picture.
    model = load_checkpoint(app_env["checkpoints"] / "vae-2.safetensors").model
    x, y = encode_dataset(model, subset(load_dataset("mnist-5k", "train"), 2000)).mu[row].tolist()
    click(at, empty_space(x, y))
    assert clicked(at)["title"] == f"Position ({x:.2f}, {y:.2f})"
    assert images_by_caption(at)["This position decoded"] == reconstruction


def cut_from_sheet(atlas: dict, sheet: str, row: int) -> np.ndarray:
    """Dot ``row``'s picture in one of the atlas's sprite sheets, where the browser cuts it from."""
    size, columns = atlas["size"], atlas["columns"]
    y, x = (row // columns) * size, (row % columns) * size
    return png_pixels(atlas["sheets"][sheet])[y : y + size, x : x + size]


@pytest.mark.parametrize("projection", ["raw", "pca"])
def test_a_click_shows_at_once_in_the_browser_the_pictures_its_rerun_draws(app_env, projection):
    at = open_app()
    at.radio(key="explorer_projection").set_value(projection).run()
    atlas = component_data(at, "multigen.dot_atlas")
    assert atlas is not None and clicked(at)["atlas"] == atlas["id"]
    row = 37
    label = int(explorer_rows()[row])
    click(at, dot(row, label))
    panel, shown = clicked(at), images_by_caption(at)
    # What the browser shows at once on a click (cut from the sheets) is what the rerun then sends.
    instant = dict(panel["instant"])
    expected = ["Original", "Reconstruction: its latent mean decoded"] + (["Its PCA position decoded"] * (projection == "pca"))
    assert list(instant) == expected and [p["caption"] for p in panel["pictures"]] == expected
    for caption, sheet in instant.items():
        difference = np.abs(cut_from_sheet(atlas, sheet, row).astype(int) - png_pixels(shown[caption]).astype(int))
        assert difference.max() <= 1, caption  # one batch decode against one vector: float rounding at most
    assert f"{panel['titles'][label]} · row {row}" == panel["title"] == f"Digit {label} · row {row}"
    # The sheets are the same element from click to click, so Streamlit sends them only once.
    assert component_data(at, "multigen.dot_atlas") == atlas


def test_a_map_with_more_dots_than_the_sheets_hold_draws_its_pictures_in_the_rerun(app_env, monkeypatch):
    monkeypatch.setattr("pages._pictures.ATLAS_MAX_POINTS", 1_000)
    at = click(open_app(), dot(3, int(explorer_rows()[3])))  # 2,000 dots
    assert component_data(at, "multigen.dot_atlas") is None and clicked(at)["atlas"] is None
    assert {"Original", "Reconstruction: its latent mean decoded"} <= images_by_caption(at).keys()


def test_the_map_draws_through_webgl_unless_told_to_draw_svg_and_clicks_work_either_way(app_env):
    def trace_types(at: AppTest) -> set[str]:
        return {trace["type"] for trace in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}

    at = open_app()
    assert trace_types(at) == {"scattergl"}  # fast clicks by default
    at.toggle(key="explorer_webgl").set_value(False).run()
    assert trace_types(at) == {"scatter"}  # for a browser without WebGL
    row = 21
    click(at, dot(row, int(explorer_rows()[row])))
    assert clicked(at)["title"] == f"Digit {int(explorer_rows()[row])} · row {row}"


def test_pca_map_decodes_dots_and_positions(app_env):
    at = open_app()
    at.radio(key="explorer_projection").set_value("pca").run()
    click(at, dot(5, int(explorer_rows()[5])))
    assert "Its PCA position decoded" in images_by_caption(at)
    click(at, empty_space(0.3, -0.2))
    assert "PCA's exact inverse" in " ".join(c.value for c in at.caption)
    assert "This position decoded" in images_by_caption(at)


def test_a_box_selection_shows_its_digits_and_zooms_the_manifold(app_env):
    at = open_app()
    box = [{"xref": "x", "yref": "y", "x": [-1, 0.5], "y": [0, 1]}]
    click(at, dot(1, 0), dot(2, 0), empty_space(0.1, 0.1), box=box)
    headings = [s.value for s in at.subheader]
    assert "2 digits in the selection" in headings and "The decoder's map" in headings
    assert any("the box you drew" in c.value for c in at.caption)


def test_cvae_map_renders_and_decodes_with_a_label(app_env):
    at = open_app()
    at.sidebar.selectbox(key="checkpoint_explorer").set_value(str(app_env["checkpoints"] / "cvae.safetensors")).run()
    assert at.radio(key="explorer_projection").options == ["PCA", "t-SNE"]  # no raw map for a 4-D latent
    click(at, empty_space(0.0, 0.0))
    assert "This position decoded" in images_by_caption(at)
    # Decoded as another digit, a dot's instant pictures are decoded with that digit too.
    at.selectbox(key="explorer_condition").set_value(3).run()
    click(at, dot(8, int(explorer_rows()[8])))
    atlas, shown = component_data(at, "multigen.dot_atlas"), images_by_caption(at)
    for caption, sheet in clicked(at)["instant"]:
        difference = np.abs(cut_from_sheet(atlas, sheet, 8).astype(int) - png_pixels(shown[caption]).astype(int))
        assert difference.max() <= 1, caption


def test_tsne_runs_in_the_background_with_progress_and_is_cached_on_disk(app_env):
    at = open_app()
    at.radio(key="explorer_split").set_value("val").run()
    at.radio(key="explorer_projection").set_value("tsne").run()
    assert at.get("progress") and not at.get("plotly_chart")  # the rerun returned at once
    deadline = time.monotonic() + 90
    while not at.get("plotly_chart") and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    assert at.get("plotly_chart") and not at.exception
    assert list(app_env["cache"].glob("tsne-*.npz"))
    other_tab = open_app()
    other_tab.radio(key="explorer_split").set_value("val").run()
    other_tab.radio(key="explorer_projection").set_value("tsne").run()
    assert other_tab.get("plotly_chart") and not other_tab.get("progress")


# -- GAN generator -----------------------------------------------------------------------------------
def main_image(at: AppTest) -> str:
    return at.image[0].value[0]


def test_moving_a_slider_changes_the_generated_digit(app_env):
    at = open_app(GENERATOR)
    assert len(at.slider) >= 10
    before = main_image(at)
    at.slider(key="slider_0").set_value(2.5).run()
    assert main_image(at) != before
    at.button(key="gan_reset").click().run()
    assert main_image(at) == before and at.slider(key="slider_0").value == 0.0


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
    from multigen.explore.noise import noise_vector

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
    from multigen.explore.noise import noise_vector

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
    from multigen.explore.noise import generate, noise_vector
    from multigen.evaluation.perceptual import nearest_training_digits

    at = open_app(GENERATOR)
    assert "**Nearest training digits**" in [m.value for m in at.markdown]
    model = load_checkpoint(app_env["checkpoints"] / "cgan.safetensors").model
    expected = nearest_training_digits(generate(model, noise_vector(0, model.latent_dim), 0)[None], k=3)
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


# -- training ----------------------------------------------------------------------------------------
def fill_form(at: AppTest, **values) -> AppTest:
    for key, value in values.items():
        widget = at.selectbox(key=key) if key in ("train_model", "train_dataset") else at.number_input(key=key)
        widget.set_value(value)
    return at


@pytest.mark.parametrize(("field", "value", "message"), [
    ("train_batch_size", 0, "batch size"),
    ("train_learning_rate", -0.01, "Learning rate"),
    ("train_epochs", 0, "epochs"),
    ("train_latent_dim", 1, "latent size"),
])
def test_bad_form_input_shows_an_error_and_starts_nothing(app_env, field, value, message):
    at = open_app(TRAIN)
    fill_form(at, train_model="vae", **{field: value})
    at.button(key="train_start").click().run()
    assert not at.exception
    assert at.error and message in at.error[0].value
    assert not training_job().state().active
    assert not list(app_env["runs"].glob("*.safetensors"))


def test_a_missing_dataset_is_reported_in_one_line(app_env, tmp_path, monkeypatch):
    monkeypatch.setenv("MULTIGEN_DATA", str(tmp_path))
    at = open_app(TRAIN)
    fill_form(at, train_dataset="fashion-mnist", train_epochs=1)
    at.button(key="train_start").click().run()
    training_job().wait(30)
    at.run()
    assert at.error and "fashion-mnist" in at.error[0].value and "mnist-5k" in at.error[0].value


def test_a_run_can_be_paused_scrubbed_resumed_and_stopped_and_then_appears_in_the_pickers(app_env):
    other_tab = open_app(TRAIN)  # opened before the run starts: its Start button is still enabled
    at = open_app(TRAIN)
    fill_form(at, train_model="vae", train_epochs=50, train_batch_size=500, train_latent_dim=2)
    at.button(key="train_start").click().run()
    job = training_job()
    try:
        assert job.state().active and at.button(key="train_start").disabled
        other_tab.button(key="train_start").click().run()  # a second tab cannot start a second run...
        assert other_tab.button(key="train_start").disabled and "another tab" in other_tab.info[0].value
        assert len(list(app_env["runs"].glob("*.safetensors"))) <= 1  # ...and sees the same one

        deadline = time.monotonic() + 90
        while len(job.state().grids) < 2 and time.monotonic() < deadline:  # the grid of step 0 and of epoch 1
            time.sleep(0.2)
        at.run()  # what the live area shows now: the run is going
        at.button(key="train_pause").click().run()
        assert job.state().status == "paused" and not at.button(key="train_resume").disabled
        assert any(m.value.startswith("**Latent map") for m in at.markdown)  # the VAE's map as it learns
        at.slider(key="grid_scrub").set_value(0).run()  # scrub back to the grid before training
        assert any(caption.startswith("Epoch 0, step 0") for image in at.image for caption in image.captions)

        at.button(key="train_resume").click().run()
        assert job.state().status == "running"
        assert any("images/s" in bar.text and "ETA" in bar.text for bar in at.get("progress"))
        at.button(key="train_stop").click().run()
        assert job.wait(60)
    finally:
        job.stop()
        job.wait(60)
    state = job.state()
    assert state.status == "stopped" and Path(state.checkpoint).exists()
    at.run()
    assert at.success and "saved" in at.success[0].value
    at.switch_page(EXPLORER).run()
    picker = at.sidebar.selectbox(key="checkpoint_explorer")
    assert any(label.startswith(f"run · {Path(state.checkpoint).stem}") for label in picker.options)
    assert any(Path(state.checkpoint) == info.path for info in list_checkpoints(app_env["runs"]))


# -- the shipped checkpoints -------------------------------------------------------------------------
SHIPPED = ROOT / "checkpoints"


needs_shipped = pytest.mark.skipif(
    not list(SHIPPED.glob("*.safetensors")), reason="no shipped checkpoints in checkpoints/ yet"
)


@pytest.fixture
def shipped_env(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTIGEN_CHECKPOINT_DIRS", str(SHIPPED))
    monkeypatch.setenv("MULTIGEN_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("MULTIGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MULTIGEN_OFFLINE", "1")


@needs_shipped
@pytest.mark.parametrize(("page", "family"), [(EXPLORER, "explorer"), (GENERATOR, "generator")])
def test_pages_render_on_the_shipped_checkpoints(shipped_env, page, family):
    shipped = available_checkpoints(family)
    if not shipped:
        pytest.skip(f"no shipped {family} checkpoint in checkpoints/ yet")
    at = open_app(page)
    for info in shipped:
        at.sidebar.selectbox(key=f"checkpoint_{family}").set_value(str(info.path)).run()
        assert not at.exception and not at.error and not at.info, info.path
        assert at.get("plotly_chart") if family == "explorer" else at.image, info.path


@needs_shipped
def test_clicking_a_dot_on_a_shipped_map_shows_that_rows_digit(shipped_env):
    at = open_app()
    dataset = read_metadata(at.sidebar.selectbox(key="checkpoint_explorer").value)["dataset"]
    points = at.select_slider(key="explorer_points").value
    labels = subset(load_dataset(dataset, "train"), points).labels.numpy()
    row = int(np.flatnonzero(labels == 6)[0])
    click(at, dot(row, 6))
    assert clicked(at)["title"] == f"Digit 6 · row {row}"


# -- write a number ----------------------------------------------------------------------------------
WRITER = "pages/write_number.py"


def pick_writer(at: AppTest, app_env, name: str) -> AppTest:
    at.sidebar.selectbox(key="checkpoint_writer").set_value(str(app_env["checkpoints"] / f"{name}.safetensors")).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("name", ["cvae", "cgan"])
def test_the_write_page_writes_every_digit_and_refuses_anything_else_in_one_line(app_env, name):
    at = open_app(WRITER)
    names = [label.split(" — ")[0] for label in at.sidebar.selectbox(key="checkpoint_writer").options]
    assert names == ["cgan", "cvae"]  # the cGAN, whose digits read best, first
    pick_writer(at, app_env, name)
    assert not at.error and at.image[0].captions[0] == "“2026” in the style of seed 0"
    at.text_input(key="write_text").set_value("0123456789").run()
    assert not at.exception and not at.error
    assert at.image[0].captions[0].startswith("“0123456789”")
    assert [b.label for b in at.get("download_button")] == ["Download PNG", "Download recipe"]
    for bad, said in (("20a6", "'a'"), ("1234567890123", "13 digits")):
        at.text_input(key="write_text").set_value(bad).run()
        assert not at.exception and not at.image
        assert len(at.error) == 1 and said in at.error[0].value and "\n" not in at.error[0].value


def test_the_write_page_shows_the_nearest_training_digit_under_each_written_digit(app_env):
    at = open_app(WRITER)
    captions = [c for image in at.image for c in image.captions if c.startswith("Under each written digit")]
    assert len(captions) == 1 and re.findall(r"(\d) → \d\.\d{3}", captions[0]) == ["2", "0", "2", "6"]
    assert at.image[0].captions[0] == "“2026” in the style of seed 0"  # the strip stays first


def test_the_write_page_style_follows_the_seed_and_the_sliders(app_env):
    at = open_app(WRITER)
    before = main_image(at)
    at.slider(key="write_slider_0").set_value(2.5).run()
    assert main_image(at) != before
    at.button(key="write_reset").click().run()
    assert main_image(at) == before and at.slider(key="write_slider_0").value == 0.0
    at.button(key="write_randomize").click().run()
    assert at.number_input(key="write_seed").value != 0 and main_image(at) != before


def test_a_digit_clicked_on_a_cvae_map_lends_its_style_to_the_write_page(app_env):
    at = open_app()
    at.sidebar.selectbox(key="checkpoint_explorer").set_value(str(app_env["checkpoints"] / "cvae.safetensors")).run()
    row = int(np.flatnonzero(explorer_rows() == 7)[0])
    click(at, dot(row, 7))
    assert [link.label for link in at.get("page_link")] == ["Write a number in this style"]
    at.switch_page(WRITER).run()
    assert not at.exception and not at.error
    assert at.sidebar.selectbox(key="checkpoint_writer").value == str(app_env["checkpoints"] / "cvae.safetensors")
    assert at.radio(key="write_source").value == "Clicked digit"
    assert f"“2026” in the style of the clicked 7 (row {row})" in [c for image in at.image for c in image.captions]
    pick_writer(at, app_env, "cgan")  # a cGAN cannot read a digit's style
    assert len(at.error) == 1 and "needs a CVAE" in at.error[0].value
    at.radio(key="write_source").set_value("Seed").run()
    assert not at.error and at.image[0].captions[0] == "“2026” in the style of seed 0"



@needs_shipped
def test_the_write_page_writes_every_digit_with_each_shipped_checkpoint(shipped_env):
    shipped = available_checkpoints("writer")
    if not shipped:
        pytest.skip("no shipped CVAE or cGAN in checkpoints/ yet")
    at = open_app(WRITER)
    at.text_input(key="write_text").set_value("0123456789").run()
    for info in shipped:
        at.sidebar.selectbox(key="checkpoint_writer").set_value(str(info.path)).run()
        assert not at.exception and not at.error and not at.info, info.path
        assert at.image[0].captions[0] == "“0123456789” in the style of seed 0", info.path


# -- compare -----------------------------------------------------------------------------------------
COMPARE = "pages/compare.py"


def test_the_compare_page_shows_a_row_and_a_grid_per_picked_checkpoint(app_env):
    at = open_app(COMPARE)
    picker = at.multiselect(key="compare_checkpoints")
    assert [Path(path).stem for path in picker.value] == ["cgan", "cvae", "dcgan", "vae-2"]  # every generative kind
    assert at.selectbox(key="compare_samples").value == 1000
    two = [str(app_env["checkpoints"] / f"{name}.safetensors") for name in ("cgan", "vae-2")]
    picker.set_value(two).run()
    assert not at.exception and not at.error and not at.warning
    table = at.dataframe[0].value
    assert list(table["checkpoint"]) == ["cgan", "vae-2"]
    assert table["FID"].notna().all() and table["−ELBO"].isna().tolist() == [True, False]
    assert table["diversity"].notna().all() and table["real diversity"].notna().all()
    assert table["real memorisation"].between(0.01, 0.12).all() and table["perceptual reconstruction"].isna().tolist() == [True, False]
    assert [caption.split(" · ")[0] for image in at.image for caption in image.captions] == ["cgan", "vae-2"]
    assert "logged per-epoch history" in " ".join(caption.value for caption in at.caption)  # tiny models have none


def test_the_compare_page_without_a_classifier_warns_in_one_line_and_still_draws(app_env, tmp_path, monkeypatch):
    import multigen.metrics

    monkeypatch.setattr(multigen.metrics, "DEFAULT_CLASSIFIER", tmp_path / "missing.safetensors")
    at = open_app(COMPARE)
    at.multiselect(key="compare_checkpoints").set_value([str(app_env["checkpoints"] / "dcgan.safetensors")])
    at.selectbox(key="compare_samples").set_value(5000).run()  # not measured before, so not cached
    assert not at.exception and len(at.warning) == 1 and "No digit classifier" in at.warning[0].value
    assert "\n" not in at.warning[0].value
    assert list(at.dataframe[0].value["checkpoint"]) == ["dcgan"] and len(at.image) == 1


@needs_shipped
def test_the_compare_page_measures_every_shipped_checkpoint(shipped_env):
    shipped = [info for info in available_checkpoints() if info.kind != "classifier"]
    at = open_app(COMPARE)
    assert not at.exception and not at.error and not at.warning
    table = at.dataframe[0].value
    assert list(table["checkpoint"]) == [info.path.stem for info in shipped]
    assert table["FID"].notna().all() and (table["FID"] >= table["FID floor"]).all()
    assert len(at.image) == len(shipped) and at.get("plotly_chart")
