"""The router and the sidebar every page shares: app.py, the page table and the checkpoint pickers."""

from __future__ import annotations

import pytest
from app_driver import EXPLORER, GENERATOR, ROOT, TRAIN, needs_shipped, open_app

from multigen.models import kinds
from pages.ui.checkpoints import offered
from pages.ui.loaders import device_description
from pages.ui.site import PAGES, page


@pytest.mark.parametrize("page_file", [EXPLORER, GENERATOR, TRAIN])
def test_every_page_renders_without_an_exception(app_env, page_file):
    at = open_app(page_file)
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
    for page_file in (EXPLORER, GENERATOR):
        at = open_app(page_file)
        assert at.info and "Train" in at.info[0].value and not at.error


@pytest.mark.parametrize("page_file", [EXPLORER, TRAIN])
def test_a_damaged_checkpoint_in_the_runs_folder_names_itself_in_the_sidebar(app_env, page_file, tmp_path, monkeypatch):
    monkeypatch.setenv("MULTIGEN_RUNS_DIR", str(tmp_path))
    (tmp_path / "vae-half-written.safetensors").write_bytes(b"\x00" * 100)

    at = open_app(page_file)

    assert not at.exception and not at.error
    (warning,) = [warning.value for warning in at.sidebar.warning]
    assert "vae-half-written.safetensors" in warning and "retrain" in warning  # which file, and what to do
    if page_file == EXPLORER:  # the good checkpoints are offered all the same
        names = [label.split(" — ")[0] for label in at.sidebar.selectbox(key="checkpoint_explorer").options]
        assert names == ["vae-2", "cvae"]


def test_the_page_table_names_every_page_script_and_takes_its_kinds_from_the_models():
    scripts = sorted(path.relative_to(ROOT).as_posix() for path in (ROOT / "pages").glob("*.py"))
    assert sorted(row.file for row in PAGES) == scripts
    assert [row.key for row in PAGES if row.default] == ["explorer"]
    assert page("explorer").kinds == kinds(encoder=True) == ("vae", "cvae")
    assert page("generator").kinds == ("gan", "cgan") and page("writer").kinds == kinds(conditional=True)
    assert page("writer").models == "CVAE or cGAN" and page("compare").kinds == kinds()


@needs_shipped
@pytest.mark.parametrize("key", ["explorer", "generator"])
def test_pages_render_on_the_shipped_checkpoints(shipped_env, key):
    shipped = offered(page(key))
    if not shipped:
        pytest.skip(f"no shipped {page(key).models} checkpoint in checkpoints/ yet")
    at = open_app(page(key).file)
    for info in shipped:
        at.sidebar.selectbox(key=f"checkpoint_{key}").set_value(str(info.path)).run()
        assert not at.exception and not at.error and not at.info, info.path
        assert at.get("plotly_chart") if key == "explorer" else at.image, info.path
