"""The Write a number page: a number in one style, from a seed or from a digit clicked on a CVAE's map."""

from __future__ import annotations

import re

import numpy as np
import pytest
from app_driver import WRITER, click, dot, explorer_rows, main_image, needs_shipped, open_app
from streamlit.testing.v1 import AppTest

from pages.ui.checkpoints import offered
from pages.ui.site import page


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
    shipped = offered(page("writer"))
    if not shipped:
        pytest.skip("no shipped CVAE or cGAN in checkpoints/ yet")
    at = open_app(WRITER)
    at.text_input(key="write_text").set_value("0123456789").run()
    for info in shipped:
        at.sidebar.selectbox(key="checkpoint_writer").set_value(str(info.path)).run()
        assert not at.exception and not at.error and not at.info, info.path
        assert at.image[0].captions[0] == "“0123456789” in the style of seed 0", info.path
