"""The Train page: the form, a run in the background that any tab controls, and the saved run in the pickers."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_driver import EXPLORER, TRAIN, open_app
from streamlit.testing.v1 import AppTest

from multigen.checkpoints import list_checkpoints
from pages.ui.loaders import training_job


def fill_form(at: AppTest, **values) -> AppTest:
    for key, value in values.items():
        widget = at.selectbox(key=key) if key in ("train_model", "train_dataset", "train_precision") else at.number_input(key=key)
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
    assert training_job().wait(30)
    at.run()
    assert at.error and "fashion-mnist" in at.error[0].value and "mnist-5k" in at.error[0].value


def test_a_run_of_absurd_length_is_refused_in_one_line_before_its_first_step(app_env):
    at = open_app(TRAIN)
    fill_form(at, train_model="vae", train_epochs=100_000, train_batch_size=1)  # 450 million steps
    at.button(key="train_start").click().run()
    assert training_job().wait(30)
    at.run()
    assert at.error and "more than the 2,000,000 a run may take" in at.error[0].value
    assert training_job().state().step == 0 and not at.button(key="train_start").disabled


def test_a_run_can_be_paused_scrubbed_resumed_and_stopped_and_then_appears_in_the_pickers(app_env, training_progress):
    other_tab = open_app(TRAIN)  # opened before the run starts: its Start button is still enabled
    at = open_app(TRAIN)
    assert at.selectbox(key="train_precision").options[0].startswith("auto (")  # says what auto picks here
    fill_form(at, train_model="vae", train_epochs=50, train_batch_size=500, train_latent_dim=2, train_precision="fp32")
    at.button(key="train_start").click().run()
    job = training_job()
    try:
        assert job.state().active and at.button(key="train_start").disabled
        assert job.state().config["precision"] == "fp32"
        other_tab.button(key="train_start").click().run()  # a second tab cannot start a second run...
        assert other_tab.button(key="train_start").disabled and "another tab" in other_tab.info[0].value
        assert len(list(app_env["runs"].glob("*.safetensors"))) <= 1  # ...and sees the same one

        # The grid of step 0 and the one of epoch 1's end, while the run goes on.
        assert training_progress(lambda state: len(state.grids) >= 2 and state.status == "running", 90)
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
