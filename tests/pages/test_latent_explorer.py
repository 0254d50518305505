"""The Latent explorer page: clicks on the map, the picture panel, projections and the manifold."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from app_driver import (
    click,
    clicked,
    component_data,
    cut_from_sheet,
    dot,
    empty_space,
    explorer_rows,
    images_by_caption,
    needs_shipped,
    open_app,
    png_pixels,
    queue,
)
from streamlit.testing.v1 import AppTest

from multigen.checkpoints import list_checkpoints, load_checkpoint, read_metadata
from multigen.data import load_dataset, subset
from pages.ui import charts, loaders


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


def test_two_quick_clicks_both_count_though_the_map_redraws_between_them(app_env):
    # The second click reaches the server while the first one's run is drawing; the redraw then empties Plotly's
    # selection. Both clicks are picks; the empty selection drops neither.
    labels = explorer_rows()
    first, second = int(np.flatnonzero(labels == 3)[7]), int(np.flatnonzero(labels == 8)[2])
    at = open_app()
    for selection in ({"points": [dot(first, 3)]}, {"points": [dot(second, 8)]}, {"points": []}):
        queue(at, {"point_indices": [], "box": [], "lasso": [], **selection})
    at.run()
    assert not at.exception, at.exception
    assert clicked(at)["title"] == f"Digit 8 · row {second}"
    assert any(f"from row {first} (digit 3)" in c.value and f"row {second} (digit 8)" in c.value for c in at.caption)


def test_selections_queue_in_order_with_their_map_and_an_emptied_one_adds_nothing():
    from pages.ui.selection import queued

    one, two = {"points": [{"customdata": [1]}]}, {"box": [{"x": [0, 1], "y": [0, 1]}], "points": []}
    waiting = queued(queued(None, one, "map A"), {"points": [], "box": [], "lasso": []}, "map A")
    assert waiting == [{"selection": one, "context": "map A"}]
    assert queued(waiting, two, "map B") == [*waiting, {"selection": two, "context": "map B"}]
    assert waiting == [{"selection": one, "context": "map A"}]  # the queue given is left as it was


def test_clicking_a_dot_shows_how_close_its_reconstruction_comes_to_it(app_env):
    from multigen.evaluation import reconstruction_quality
    from multigen.images import to_uint8

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
    from multigen.explore.latent import encode_dataset

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


def test_a_map_with_more_dots_than_the_sheets_hold_serves_its_originals_a_row_at_a_time(app_env, monkeypatch, tmp_path):
    monkeypatch.setattr("pages.ui.picture_panel.ATLAS_MAX_POINTS", 1_000)
    monkeypatch.setattr("pages.ui.picture_panel.ROWS_DIR", tmp_path / "rows")
    at = open_app()  # 2,000 dots
    atlas = component_data(at, "multigen.dot_atlas")
    assert "sheets" not in atlas and clicked(at)["atlas"] == atlas["id"]
    (served,) = atlas["files"].values()  # the originals only: no decoding of every dot before the first click
    assert list(atlas["files"]) == ["original"] and served.startswith("app/static/rows/")
    rows = np.fromfile(tmp_path / "rows" / served.rsplit("/", 1)[1], dtype=np.uint8).reshape(-1, 28, 28)
    assert len(rows) == 2000
    row = 3
    click(at, dot(row, int(explorer_rows()[row])))
    panel, shown = clicked(at), images_by_caption(at)
    assert dict(panel["instant"]) == {"Original": "original"}  # what the browser fetches by index on a click
    assert np.array_equal(rows[row], png_pixels(shown["Original"]))  # is the original the rerun draws
    assert "Reconstruction: its latent mean decoded" in shown  # the rest comes with the rerun


def test_a_large_map_not_yet_encoded_shows_its_first_digits_at_once_then_all_of_them(app_env, monkeypatch, tmp_path):
    """Tens of thousands of digits take seconds to encode: the page draws the first QUICK_POINTS of them (the same
    seeded sample's) at once, encodes the rest in the background and draws the whole map when they are in."""
    import threading

    from multigen import cache

    monkeypatch.setenv("MULTIGEN_CACHE_DIR", str(tmp_path / "cache"))  # nothing of this checkpoint encoded yet
    monkeypatch.setattr(loaders, "QUICK_POINTS", 1_000)
    release, real_encodings = threading.Event(), cache.encodings

    def held_encodings(checkpoint, dataset, split, n_points=None, **kwargs):
        if n_points is None or n_points > 1_000:  # the background job, held until the test has looked
            assert release.wait(60)
        return real_encodings(checkpoint, dataset, split, n_points, **kwargs)

    monkeypatch.setattr(cache, "encodings", held_encodings)

    def dots(at):  # the rows of the map's digits (plotly sends arrays as base64 "bdata")
        rows = [trace["customdata"] for trace in map_traces(at) if "customdata" in trace]
        return sum(int((np.frombuffer(base64.b64decode(r["bdata"]), r["dtype"]) >= 0).sum()) if isinstance(r, dict)
                   else sum(v >= 0 for v in r) for r in rows)

    at = open_app()
    try:
        at.select_slider(key="explorer_points").set_value(4500).run()
        assert dots(at) == 1000 and not at.exception
        (note,) = [box.value for box in at.info if "while the rest are encoded" in box.value]
        assert note.startswith("Showing 1,000 of the 4,500 digits")
        assert "1,000 training digits of mnist-5k" in " ".join(c.value for c in at.caption)
        at.radio(key="explorer_projection").set_value("tsne").run()  # t-SNE places every digit: it waits for them
        assert not at.get("plotly_chart") and "Encoding the split's digits" in at.get("progress")[0].proto.text
        at.radio(key="explorer_projection").set_value("pca").run()
        row = 5  # a click on the first digits' map that reaches the server after the whole map replaced it
        queue(at, {"points": [dot(row, int(explorer_rows(1000)[row]))], "point_indices": [], "box": [], "lasso": []})
    finally:
        release.set()
    assert loaders.encoding_jobs().wait(timeout=60)
    at.run()
    assert dots(at) == 4500 and not [box for box in at.info if "while the rest are encoded" in box.value]
    assert clicked(at)["row"] is None  # its row numbers another map's digit: dropped, not shown as the wrong one
    assert list((tmp_path / "cache" / "encodings").glob("*.npz"))  # kept: the next visit draws all at once
    second_tab = open_app()
    second_tab.select_slider(key="explorer_points").set_value(4500).run()
    assert dots(second_tab) == 4500 and not second_tab.exception
    click(second_tab, dot(row, int(explorer_rows(4500)[row])))  # a click on the whole map is that map's row
    assert clicked(second_tab)["row"] == row


def test_a_session_s_first_map_has_its_place_on_the_page_before_the_digits_are_placed(app_env, monkeypatch):
    """The first run of a session holds the map's place, as high as the map, before it encodes anything: the visitor
    sees where the map comes. The map then takes its place; later runs, with a map on the page already, send none."""
    import streamlit as st

    placed = loaders.encoded_soon

    def run_stopped_at_the_encoding(*args, **kwargs):
        st.stop()

    def placeholders(at: AppTest) -> list[str]:
        return [element.proto.body for element in at.get("html") if "Placing the digits on the map" in element.proto.body]

    monkeypatch.setattr(loaders, "encoded_soon", run_stopped_at_the_encoding)
    at = open_app()
    (place,) = placeholders(at)
    assert f"height: {charts.MAP_HEIGHT}px" in place and not at.get("plotly_chart")
    monkeypatch.setattr(loaders, "encoded_soon", placed)
    at.run()
    (drawn,) = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    assert drawn["data"] and drawn["layout"]["height"] == charts.MAP_HEIGHT and not placeholders(at) and not at.exception
    monkeypatch.setattr(loaders, "encoded_soon", run_stopped_at_the_encoding)
    at.run()
    assert not at.get("plotly_chart") and not placeholders(at)


def test_a_session_s_first_map_comes_with_its_picture_and_later_runs_without(app_env):
    """The first map of a session is sent with a stylesheet that shows the map's picture (drawn by the server) in
    the chart's place until Plotly has drawn it; later runs find Plotly loaded and send none."""
    at = open_app()
    styles = [element.proto.body for element in at.get("html") if "st-key-latent_map" in element.proto.body]
    assert len(styles) == 1 and "url(data:image/png;base64," in styles[0] and ":not(:has(.main-svg))" in styles[0]
    assert json.loads(at.get("plotly_chart")[0].proto.spec)["data"]  # the map itself, in the same run
    click(at, dot(3, int(explorer_rows()[3])))
    assert not at.exception and not [e for e in at.get("html") if "st-key-latent_map" in e.proto.body]


def test_row_files_are_written_once_and_the_oldest_deleted(monkeypatch, tmp_path):
    from pages.ui import picture_panel

    monkeypatch.setattr(picture_panel, "ROWS_DIR", tmp_path)
    monkeypatch.setattr(picture_panel, "ROW_FILES_KEPT", 2)
    images = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    assert picture_panel.row_file("a", "original", images) == "app/static/rows/a-original.u8"
    assert (tmp_path / "a-original.u8").read_bytes() == images.tobytes()
    for name in ("b", "c"):
        picture_panel.row_file(name, "original", images[:1])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["b-original.u8", "c-original.u8"]


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
    info = next(info for info in list_checkpoints(app_env["checkpoints"]) if info.path.stem == "vae-2")
    key = loaders.tsne_key(info, "val", len(load_dataset("mnist-5k", "val")), 30)  # the page's default perplexity
    assert loaders.projection_jobs().wait(key, 90).done  # the job the page started, waited on till it ends
    at.run()
    assert at.get("plotly_chart") and not at.get("progress") and not at.exception
    assert list(app_env["cache"].glob("projections/tsne-*.npz"))  # in the app's cache folder
    other_tab = open_app()
    other_tab.radio(key="explorer_split").set_value("val").run()
    other_tab.radio(key="explorer_projection").set_value("tsne").run()
    assert other_tab.get("plotly_chart") and not other_tab.get("progress")


def test_a_t_sne_map_is_kept_for_a_checkpoint_whose_fitted_prior_is_stored_later(tmp_path):
    """The t-SNE cache's key (``fingerprint``) is the checkpoint's weights: `multigen fit-prior` (or calibrate-sliders)
    rewriting the file leaves the computed maps valid."""
    import torch

    from multigen.checkpoints import save_checkpoint, store_prior
    from multigen.models import build_model
    from multigen.models.prior import fit_prior
    from pages.ui.checkpoints import fingerprint

    path = tmp_path / "vae.safetensors"
    torch.manual_seed(0)
    model = build_model("vae", {"latent_dim": 2, "hidden_channels": 4, "hidden_features": 16}).eval()
    save_checkpoint(path, model)
    (info,) = list_checkpoints(tmp_path)
    before = fingerprint(info)
    store_prior(path, fit_prior(model, subset(load_dataset("mnist-5k", "val"), 60), components=2, seed=0))
    (info,) = list_checkpoints(tmp_path)
    assert fingerprint(info) == before
    save_checkpoint(path, build_model("vae", {"latent_dim": 2, "hidden_channels": 4, "hidden_features": 16}).eval())
    (info,) = list_checkpoints(tmp_path)
    assert fingerprint(info) != before  # new weights: a new map


def test_a_running_tsne_can_be_cancelled_and_the_page_shows_the_pca_map(app_env, monkeypatch):
    pytest.importorskip("openTSNE")  # scikit-learn's t-SNE cannot stop mid-way (.ci/run installs openTSNE)
    monkeypatch.delenv("MULTIGEN_TSNE", raising=False)
    at = open_app()  # 2,000 training digits: several seconds of t-SNE
    at.radio(key="explorer_projection").set_value("tsne").run()
    assert at.get("progress") and "with openTSNE" in at.get("progress")[0].proto.text
    at.button(key="explorer_tsne_cancel").click().run()
    assert at.radio(key="explorer_projection").value == "pca" and at.get("plotly_chart") and not at.exception
    info = next(info for info in list_checkpoints(app_env["checkpoints"]) if info.path.stem == "vae-2")
    key = loaders.tsne_key(info, "train", 2000, 30)
    assert loaders.projection_jobs().wait(key, 30).state == "cancelled"
    assert not loaders.projection_jobs().path(key).exists()  # nothing half-made was kept


@needs_shipped
def test_clicking_a_dot_on_a_shipped_map_shows_that_rows_digit(shipped_env):
    at = open_app()
    dataset = read_metadata(at.sidebar.selectbox(key="checkpoint_explorer").value)["dataset"]
    points = at.select_slider(key="explorer_points").value
    labels = subset(load_dataset(dataset, "train"), points).labels.numpy()
    row = int(np.flatnonzero(labels == 6)[0])
    click(at, dot(row, 6))
    assert clicked(at)["title"] == f"Digit 6 · row {row}"


def _png(image: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return buffer.getvalue()


def test_an_uploaded_digit_is_found_in_a_gan_and_the_gan_page_opens_on_it(app_env):
    from multigen.inversion import invert

    at = open_app()
    assert "Draw or upload a digit" in " ".join(c.value for c in at.caption)  # nothing to search for yet
    digit = np.rint(load_dataset("mnist-5k", "val").images[3, 0].numpy() * 255).astype(np.uint8)
    at.file_uploader(key="explorer_upload").set_value(("seven.png", _png(255 - digit), "image/png")).run()
    assert not at.exception and not at.error
    assert at.session_state["explorer_yours"]["source"] == "your upload"
    assert np.array_equal(at.session_state["explorer_yours"]["digit"], digit)  # 28 x 28: taken as it is
    assert component_data(at, "multigen.drawing_pad")["yours"]["pixels"] == digit.ravel().tolist()  # shown on the pad
    gan = at.selectbox(key="explorer_find_gan").value
    at.button(key="explorer_find_go").click().run()
    assert not at.exception and not at.error
    found = at.session_state["explorer_find_found"]
    model = load_checkpoint(gan).model
    label = found["label"]
    expected = invert(model, digit, label=label)  # seeded: the page found what multigen finds
    assert np.allclose(found["z"], expected.z, atol=1e-5) and abs(found["distance"] - expected.distance) < 1e-6
    metric = at.metric[-1]
    assert metric.label == "Perceptual distance" and metric.value == f"{expected.distance:.3f}"
    assert f"({expected.real_distance:.3f})" in metric.proto.delta
    assert any("The GAN can" in c.value for c in at.caption)
    at.button(key="explorer_find_open").click().run()
    at.run()  # the next run goes to the GAN page
    assert not at.exception
    assert any("found by inversion" in image.proto.imgs[0].caption for image in at.image)
    assert at.session_state["gan_found"][0] == found["z"]


def test_a_bad_upload_is_one_line_and_keeps_the_digit_on_the_pad(app_env):
    at = open_app()
    digit = np.rint(load_dataset("mnist-5k", "val").images[3, 0].numpy() * 255).astype(np.uint8)
    at.file_uploader(key="explorer_upload").set_value(("digit.png", _png(digit), "image/png")).run()
    kept = at.session_state["explorer_yours"]
    blank = np.full((64, 64), 255, np.uint8)
    for name, data, message in (("notes.png", b"plain text", "not a PNG or JPEG"), ("blank.png", _png(blank), "no ink")):
        at.file_uploader(key="explorer_upload").set_value((name, data, "image/png")).run()
        assert not at.exception
        assert len(at.error) == 1 and message in at.error[0].value and "\n" not in at.error[0].value
        assert at.session_state["explorer_yours"] is kept



def map_traces(at: AppTest) -> list[dict]:
    return json.loads(at.get("plotly_chart")[0].proto.spec)["data"]


@needs_shipped
def test_the_fitted_prior_s_components_show_as_ellipses_on_the_map_where_it_has_them(shipped_env):
    at = open_app()  # vae-2, on its raw 2-D latent map
    assert at.radio(key="explorer_projection").value == "raw"
    assert at.toggle(key="explorer_show_prior").value is False
    assert not [trace for trace in map_traces(at) if trace.get("name", "").startswith("fitted prior")]
    at.toggle(key="explorer_show_prior").set_value(True).run()
    assert not at.exception
    (ellipses,) = [trace for trace in map_traces(at) if trace.get("name", "").startswith("fitted prior")]
    prior = load_checkpoint("checkpoints/vae-2.safetensors").model.fitted_prior
    xs, ys = np.array(ellipses["x"], dtype=float), np.array(ellipses["y"], dtype=float)  # None: a gap
    gaps = np.flatnonzero(np.isnan(xs))
    assert len(gaps) == prior.components == 50
    starts = np.concatenate([[0], gaps[:-1] + 1])
    # Each ellipse is 2 standard deviations around its component's mean: its points average to the mean (the last
    # point repeats the first) and lie at Mahalanobis distance 2.
    means, covariances = prior.means.numpy(), prior.covariances.numpy()
    for k in (0, 17, 49):
        outline = np.stack([xs[starts[k]:gaps[k] - 1], ys[starts[k]:gaps[k] - 1]], axis=1)
        np.testing.assert_allclose(outline.mean(0), means[k], atol=1e-6)
        offsets = outline - means[k]
        distances = np.einsum("ni,ij,nj->n", offsets, np.linalg.inv(covariances[k]), offsets)
        np.testing.assert_allclose(distances, 4.0, rtol=1e-4)
    assert "Ellipses: the 50 Gaussians" in " ".join(caption.value for caption in at.caption)
    at.radio(key="explorer_projection").set_value("pca").run()  # on PCA too, through its axes
    assert [trace for trace in map_traces(at) if trace.get("name", "").startswith("fitted prior")]


def test_a_vae_without_a_fitted_prior_has_no_ellipses_to_show(app_env):
    at = open_app()
    assert not at.exception and not [toggle for toggle in at.toggle if toggle.key == "explorer_show_prior"]
