"""The Compare page: every generative checkpoint's metrics, sample grid and curves side by side. The table draws at
once from what is known (cached evaluations, a run's recorded figures) and fills in as the rest is measured in the
background."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch
from app_driver import COMPARE, needs_shipped, open_app

import multigen.evaluation
from multigen import cache
from multigen.checkpoints import save_checkpoint
from multigen.models import build_model, kinds
from pages.ui import loaders
from pages.ui.checkpoints import available_checkpoints

MEASURED_TIMEOUT = 300  # seconds for the background evaluations of a test (the shipped ones: about 15 s)


def table_drawn(at):
    """The page once the browser has said that its table is on screen (``pages/ui/when_drawn.py``), as a browser does."""
    at.session_state["compare_table_drawn"] = {"drawn": True}
    at.run()
    assert not at.exception, at.exception
    return at


def measured(at):
    """The page once every evaluation it asked for has been measured (the fragment's poll, done by hand)."""
    assert loaders.evaluation_jobs().wait(timeout=MEASURED_TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_compare_page_shows_a_row_and_a_grid_per_picked_checkpoint(app_env):
    at = open_app(COMPARE)
    picker = at.multiselect(key="compare_checkpoints")
    assert [Path(path).stem for path in picker.value] == ["cgan", "cvae", "dcgan", "vae-2"]  # every generative kind
    assert at.selectbox(key="compare_samples").value == 1000
    two = [str(app_env["checkpoints"] / f"{name}.safetensors") for name in ("cgan", "vae-2")]
    picker.set_value(two).run()
    measured(at)
    assert not at.exception and not at.error and not at.warning and not at.get("progress")
    table = at.dataframe[0].value
    assert list(table["checkpoint"]) == ["cgan", "vae-2"]
    assert table["FID"].notna().all() and table["−ELBO"].isna().tolist() == [True, False]
    assert table["diversity"].notna().all() and table["real diversity"].notna().all()
    assert table["real memorisation"].between(0.01, 0.12).all() and table["perceptual reconstruction"].isna().tolist() == [True, False]
    assert [caption.split(" · ")[0] for image in at.image for caption in image.captions] == ["cgan", "vae-2"]
    assert "logged per-epoch history" in " ".join(caption.value for caption in at.caption)  # tiny models have none


def test_the_compare_page_without_a_classifier_warns_in_one_line_and_still_draws(app_env, tmp_path, monkeypatch):
    import multigen.evaluation.classifier

    monkeypatch.setattr(multigen.evaluation.classifier, "DEFAULT_CLASSIFIER", tmp_path / "missing.safetensors")
    at = open_app(COMPARE)
    at.multiselect(key="compare_checkpoints").set_value([str(app_env["checkpoints"] / "dcgan.safetensors")])
    at.selectbox(key="compare_samples").set_value(5000).run()  # not measured before, so not cached
    measured(at)
    assert not at.exception and len(at.warning) == 1 and "No digit classifier" in at.warning[0].value
    assert "\n" not in at.warning[0].value
    assert list(at.dataframe[0].value["checkpoint"]) == ["dcgan"] and len(at.image) == 1


@needs_shipped
def test_the_compare_page_measures_every_shipped_checkpoint(shipped_env):
    shipped = available_checkpoints(kinds())
    at = measured(open_app(COMPARE))
    assert not at.error and not at.warning
    table = at.dataframe[0].value
    assert list(table["checkpoint"]) == [info.path.stem for info in shipped]
    assert table["FID"].notna().all() and (table["FID"] >= table["FID floor"]).all()
    assert len(at.image) == len(shipped) and not at.get("plotly_chart")  # held back until the table is drawn
    assert "curves follow once the table is on screen" in " ".join(caption.value for caption in at.caption)
    curves = table_drawn(at).get("plotly_chart")
    assert len(curves) == 3 and at.dataframe[0].value.equals(table)  # loss, FID and IS, and the same table
    at.run()  # later runs of the session draw the curves at once
    assert len(at.get("plotly_chart")) == 3 and not at.exception


@pytest.fixture
def no_measuring(monkeypatch):
    """``evaluate`` fails loudly: whatever the page shows must come from what is known."""

    def refuse(*_, **__):
        raise AssertionError("evaluate() ran, but the page had its figures already")

    monkeypatch.setattr(multigen.evaluation, "evaluate", refuse)


def test_the_table_shows_cached_figures_at_once_without_measuring(app_env, no_measuring):
    paths = [app_env["checkpoints"] / f"{name}.safetensors" for name in ("cgan", "vae-2")]
    for index, path in enumerate(paths):  # what an earlier server measured, on disk
        key = cache.evaluation_key(path, samples=5000)
        folder = app_env["cache"] / "evaluations"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{key}.json").write_text(json.dumps({"kind": "gan", "fid": 10.0 + index, "inception_score": 8.5}))
    at = open_app(COMPARE)
    at.multiselect(key="compare_checkpoints").set_value([str(path) for path in paths])
    at.selectbox(key="compare_samples").set_value(5000).run()
    assert not at.exception and not at.warning and not at.get("progress")  # complete in the first run
    table = at.dataframe[0].value
    assert list(table["FID"]) == [10.0, 11.0] and list(table["IS"]) == [8.5, 8.5]
    assert all(loaders.evaluation_jobs().status(cache.evaluation_key(path, samples=5000)) is None for path in paths)


def test_a_run_s_recorded_figures_show_while_the_rest_is_measured_behind_a_progress_bar(app_env, monkeypatch):
    path = app_env["runs"] / "vae-run.safetensors"
    torch.manual_seed(7)  # weights of its own: no evaluation of it is cached
    history = [{"epoch": 3, "loss": 150.0, "fid": 55.5, "inception_score": 4.25, "negative_elbo": 140.0}]
    save_checkpoint(path, build_model("vae", {"latent_dim": 2, "hidden_channels": 4, "hidden_features": 16}).eval(),
                    metadata={"dataset": "mnist-5k", "epoch": 3, "step": 30, "history": history,
                              "training": {"model": "vae", "eval_samples": 1000}})
    release = threading.Event()

    def slow_evaluate(checkpoint, *, samples, seed, device, prior=None):
        assert release.wait(60)
        return {"kind": "vae", "fid": 54.0, "inception_score": 4.5, "diversity": 0.3, "negative_elbo": 139.0}

    monkeypatch.setattr(multigen.evaluation, "evaluate", slow_evaluate)
    try:
        at = open_app(COMPARE)
        at.multiselect(key="compare_checkpoints").set_value([str(path)]).run()
        assert not at.exception and at.get("progress")  # being measured, in the background
        table = at.dataframe[0].value
        assert table["FID"][0] == 55.5 and table["−ELBO"][0] == 140.0  # what the run recorded, at once
        assert "diversity" not in table.columns
    finally:
        release.set()
    measured(at)
    table = at.dataframe[0].value
    assert table["FID"][0] == 54.0 and table["diversity"][0] == 0.3 and not at.get("progress")


def test_a_vae_with_a_fitted_prior_samples_from_it_unless_asked_for_n01(app_env, monkeypatch):
    """The table and the grid follow the choice; what the training run recorded (sampled from N(0, I)) is shown only
    for N(0, I), and each choice is measured and kept on its own."""
    from multigen.checkpoints import store_prior
    from multigen.data import load_dataset, subset
    from multigen.models.prior import fit_prior

    path = app_env["runs"] / "vae-prior.safetensors"
    torch.manual_seed(3)
    model = build_model("vae", {"latent_dim": 2, "hidden_channels": 4, "hidden_features": 16}).eval()
    history = [{"epoch": 2, "loss": 150.0, "fid": 60.0, "inception_score": 4.0, "negative_elbo": 140.0}]
    save_checkpoint(path, model, metadata={"dataset": "mnist-5k", "epoch": 2, "step": 20, "history": history,
                                           "training": {"model": "vae", "eval_samples": 1000}})
    store_prior(path, fit_prior(model, subset(load_dataset("mnist-5k", "train"), 300), components=3, seed=0))
    asked, release = [], threading.Event()  # each evaluation waits for the test, which first reads the table

    def evaluate(checkpoint, *, samples, seed, device, prior=None):
        asked.append((Path(checkpoint).name, prior))
        assert release.wait(60)
        return {"kind": "vae", "fid": 30.0 if prior == "fitted" else 61.0, "inception_score": 5.0}

    def priors(name: str = path.name) -> list:
        """The priors the VAE was measured with so far (others: the shipped checkpoints the page measures)."""
        return [prior for checkpoint, prior in asked if checkpoint == name]

    monkeypatch.setattr(multigen.evaluation, "evaluate", evaluate)
    try:
        at = open_app(COMPARE)
        at.multiselect(key="compare_checkpoints").set_value(
            [str(path), str(app_env["checkpoints"] / "dcgan.safetensors")]).run()
        assert not at.exception and at.radio(key="compare_prior").value == "fitted"
        table = at.dataframe[0].value
        assert list(table["checkpoint"]) == ["run · vae-prior", "dcgan"]
        # The run's 60.0 came from N(0, I): not shown for the fitted prior (no FID column at all when no earlier test
        # left the DCGAN's figures in the cache).
        assert "FID" not in table or table["FID"].isna()[0]
    finally:
        release.set()
    measured(at)
    assert at.dataframe[0].value["FID"][0] == 30.0 and priors() == ["fitted"]
    assert set(priors("dcgan.safetensors")) <= {None}  # no prior to choose (none asked if an earlier test measured it)
    fitted_grid = at.image[0].value  # the VAE's grid comes first
    release.clear()
    try:
        at.radio(key="compare_prior").set_value("standard").run()
        assert at.dataframe[0].value["FID"][0] == 60.0  # the run's own figure at once, measured behind it
    finally:
        release.set()
    measured(at)
    assert at.dataframe[0].value["FID"][0] == 61.0 and priors() == ["fitted", "standard"]
    assert at.image[0].value != fitted_grid and "from N(0, I)" in " ".join(c.value for c in at.caption)


def test_without_a_fitted_prior_the_page_offers_no_choice(app_env):
    at = open_app(COMPARE)
    at.multiselect(key="compare_checkpoints").set_value([str(app_env["checkpoints"] / "dcgan.safetensors")]).run()
    assert not at.exception and not at.get("radio")
