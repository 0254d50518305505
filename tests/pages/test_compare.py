"""The Compare page: every generative checkpoint's metrics, sample grid and curves side by side."""

from __future__ import annotations

from pathlib import Path

from app_driver import COMPARE, needs_shipped, open_app

from multigen.models import kinds
from pages.ui.checkpoints import available_checkpoints


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
    import multigen.evaluation.classifier

    monkeypatch.setattr(multigen.evaluation.classifier, "DEFAULT_CLASSIFIER", tmp_path / "missing.safetensors")
    at = open_app(COMPARE)
    at.multiselect(key="compare_checkpoints").set_value([str(app_env["checkpoints"] / "dcgan.safetensors")])
    at.selectbox(key="compare_samples").set_value(5000).run()  # not measured before, so not cached
    assert not at.exception and len(at.warning) == 1 and "No digit classifier" in at.warning[0].value
    assert "\n" not in at.warning[0].value
    assert list(at.dataframe[0].value["checkpoint"]) == ["dcgan"] and len(at.image) == 1


@needs_shipped
def test_the_compare_page_measures_every_shipped_checkpoint(shipped_env):
    shipped = available_checkpoints(kinds())
    at = open_app(COMPARE)
    assert not at.exception and not at.error and not at.warning
    table = at.dataframe[0].value
    assert list(table["checkpoint"]) == [info.path.stem for info in shipped]
    assert table["FID"].notna().all() and (table["FID"] >= table["FID floor"]).all()
    assert len(at.image) == len(shipped) and at.get("plotly_chart")
