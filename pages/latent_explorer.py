"""Latent explorer: the digits as a VAE sees them, one dot per digit, and the way back to pictures.

Click a dot to see the digit, its reconstruction (with its perceptual distance and pixel BCE) and
what its map position decodes to; click empty space to decode that position; the last two clicks are
joined by an interpolation strip. Box or lasso a region to see the digits inside it. t-SNE maps are
computed in the background, once, and cached on disk. Draw a digit on the pad (or upload one) and its ring on
the map moves as the encoder sees it, stroke by stroke; search a GAN for it and open the GAN page there.
"""

from __future__ import annotations

import json
from typing import NoReturn

import numpy as np
import streamlit as st

from multigen.data import SPLITS, class_names, split_size
from multigen.errors import MultigenError
from multigen.evaluation import reconstruction_quality
from multigen.explore.latent import interpolate
from multigen.explore.projection import place_gaussians, tsne_engine
from multigen.images import image_grid, image_strip
from multigen.preprocess import MAX_BYTES, read_digit_image, strokes_digit
from pages.ui import charts, finding, live_digit, loaders, picture_panel, selection
from pages.ui.checkpoints import fingerprint, picker_key
from pages.ui.datasets import label_text
from pages.ui.drawing_pad import drawing_pad
from pages.ui.pictures import picture_url, show_picture
from pages.ui.shell import run_inside_app
from pages.ui.site import page
from pages.ui.text import literal, plain

run_inside_app()  # a page opened on its own goes through app.py (see pages/ui/shell.py)

METHOD_NAMES = {"raw": "Raw latent", "pca": "PCA", "tsne": "t-SNE"}
METHOD_HELP = {
    "raw": "The 2-D latent as it is: map positions are latent vectors.",
    "pca": "The two directions of most spread; a click decodes through PCA's exact inverse.",
    "tsne": "Neighbourhoods kept, distances not; a click decodes the blended latents of the nearest dots.",
}
SPLIT_NAMES = {"train": "Training digits", "val": "Validation digits"}
POINT_CHOICES = (1_000, 2_000, 5_000, 10_000, 20_000, 50_000)
DEFAULT_POINTS = loaders.EXPLORER_POINTS  # of the first split: the map the warm-up encodes at server start
AUTO = "own"  # CVAE condition: each dot's own digit (the nearest dot's, for empty space)
GALLERY = 100  # digits shown from a box or lasso selection
HOVER_ENLARGE = 5  # the digit under the pointer, 140 px
PAD_SIZE = 224  # the drawing pad, 8 px a cell
ENLARGE = 6  # the clicked digit's pictures, shown this many times their 28-pixel size
# What a click on a dot shows, by the name of its sprite sheet (pages/ui/picture_panel.py) in the browser.
DOT_PICTURES = {
    "original": "Original",
    "decoded": "Reconstruction: its latent mean decoded",
    "position": "Its PCA position decoded",  # PCA maps only: t-SNE and raw give back the dot's own latent
}

st.session_state.setdefault("explorer_picks", [])  # the last two clicks: {"row": int} or {"xy": [x, y]}
st.session_state.setdefault("explorer_region", None)  # the last box/lasso: {"rows": [...], "box": ...}
st.session_state.setdefault("explorer_context", None)  # what the picks refer to; a new map clears them
# The digit on the drawing pad: {"id", "strokes" or "pixels", "digit": 28x28 uint8, "source"}, or None.
st.session_state.setdefault("explorer_yours", None)
st.session_state.setdefault("explorer_yours_error", None)
st.session_state.setdefault("explorer_pad_heard", 0)  # the number of the pad's last message taken in
finding.follow_open()  # "Open it on the GAN page" was pressed: go there before drawing anything here


def remember_selection() -> None:
    """Chart callback: queue the new selection, with the map it was made on, for the next run in ``latent_selections``
    (``selection.queued``; tests inject selections the same way, ``tests/pages/app_driver.py``)."""
    event = st.session_state.get("latent_map")
    if event is None:
        return
    made = json.loads(json.dumps(event["selection"], default=float))
    # The map it was made on is the last run's. Its rows are that map's (a large map's first digits, replaced by the
    # whole map while the click travelled, number theirs otherwise).
    st.session_state["latent_selections"] = selection.queued(
        st.session_state.get("latent_selections"), made, st.session_state["explorer_context"]
    )


def remember_drawing() -> None:
    """Pad callback: the strokes just drawn, made into the digit the page made of them (or None: cleared)."""
    state = st.session_state.get("explorer_pad") or {}
    message = (state.get("yours") if hasattr(state, "get") else getattr(state, "yours", None)) or {}
    st.session_state["explorer_yours_error"] = None
    if isinstance(message.get("sent"), int):
        st.session_state["explorer_pad_heard"] = message["sent"]
    if not message.get("strokes"):
        st.session_state["explorer_yours"] = None
        return
    try:
        digit = strokes_digit(message["strokes"])
    except MultigenError as error:
        st.session_state["explorer_yours_error"] = plain(error)
        return
    st.session_state["explorer_yours"] = {"id": str(message.get("id")), "strokes": message["strokes"], "digit": digit,
                                          "source": "your drawing"}


def remember_upload() -> None:
    """Uploader callback: the picture made MNIST-like and put on the pad (a bad file: one line, the pad as it was)."""
    upload = st.session_state.get("explorer_upload")
    st.session_state["explorer_yours_error"] = None
    if upload is None:
        if (st.session_state["explorer_yours"] or {}).get("source") == "your upload":
            st.session_state["explorer_yours"] = None
        return
    try:
        digit = read_digit_image(upload.getvalue())
    except MultigenError as error:
        st.session_state["explorer_yours_error"] = plain(error)
        return
    st.session_state["explorer_yours"] = {"id": f"upload-{upload.file_id}", "pixels": digit.ravel().tolist(),
                                          "digit": digit, "source": "your upload"}


st.title("Latent explorer")
st.caption(
    "Each dot is one digit, placed where the VAE's encoder puts it and coloured by its label. "
    "**Click a dot** to see the digit behind it, **click empty space** to decode that position, "
    "click a **second point** for the path between the two, or **draw a box or lasso** to see the digits inside. "
    "On **Your digit**, draw or upload a digit to see where it lands, and find it in a GAN."
)

info, checkpoint = loaders.require_model(page("explorer"))
model = checkpoint.model
dataset = checkpoint.metadata.get("dataset") or "mnist-5k"
conditional = bool(model.conditional)

# -- the map's place ------------------------------------------------------------------------------
inputs = st.container()  # above the map, filled once the checkpoint's data set is known
map_column, detail_column = st.columns([3, 2], gap="large")
map_note, map_slot = map_column.container(), map_column.empty()  # what a map still being made waits for, the map
first_map = st.session_state.get("explorer_figure") is None
if first_map:  # the session's first map: its place on the page, until the map takes it
    # Not an empty Plotly chart: the browser would load and run Plotly (4.7 MB of script, a 0.8 s task on 2 cores)
    # just as the map arrives, and the map's picture (below) would wait behind it.
    map_slot.html(charts.latent_map_placeholder("Placing the digits on the map…", charts.map_margin()))


def stop_without_map() -> NoReturn:
    """End the run here: no map comes in it, so nothing stays in its place."""
    map_slot.empty()
    st.stop()


# -- inputs ---------------------------------------------------------------------------------------
try:
    sizes = {split: split_size(dataset, split) for split in SPLITS}
    names = class_names(dataset)
except MultigenError as error:
    inputs.error(plain(error))
    stop_without_map()
with inputs:
    methods = (["raw"] if model.latent_dim == 2 else []) + ["pca", "tsne"]
    first, second, third = st.columns([2, 3, 3])
    split = first.radio(
        "Split", list(SPLITS), format_func=SPLIT_NAMES.get, key="explorer_split", horizontal=True,
        persist_state="session",
    )
    choices = [n for n in POINT_CHOICES if n < sizes[split]] + [sizes[split]]
    if st.session_state.get("explorer_points") not in choices:
        st.session_state["explorer_points"] = max([n for n in choices if n <= DEFAULT_POINTS], default=choices[0])
    if len(choices) > 1:
        n_points = second.select_slider(
            "Points", choices, key="explorer_points", persist_state="session",
            format_func=lambda n: f"all {n:,}" if n == sizes[split] else f"{n:,}",
            help="How many digits of the split to show (a fixed, seeded sample with every digit equally often).",
        )
    else:
        n_points = choices[0]
        second.markdown(f"**Points**  \nall {n_points:,} digits of this split")
    method = third.radio(
        "Projection", methods, format_func=METHOD_NAMES.get, key="explorer_projection", horizontal=True,
        persist_state="session", help=" ".join(f"{METHOD_NAMES[m]}: {METHOD_HELP[m]}" for m in methods),
    )
    with st.expander("Settings: t-SNE, interpolation, manifold" + (", condition" if conditional else "")):
        left, middle, right = st.columns(3)
        perplexity = left.slider(
            "t-SNE perplexity", 5, 50, 30, key="explorer_perplexity", persist_state="session",
            help="Roughly how many neighbours each dot keeps close; every value is computed once and cached.",
        )
        steps = middle.slider("Interpolation steps", 3, 16, 10, key="explorer_steps", persist_state="session")
        manifold_n = right.slider(
            "Manifold size", 5, 25, 15, key="explorer_manifold_n", persist_state="session",
            help="Digits per side of the manifold grid (2-D latents only).", disabled=model.latent_dim != 2,
        )
        webgl = middle.toggle(
            "Draw the map with WebGL", value=True, key="explorer_webgl", persist_state="session",
            help="WebGL draws all the dots on one canvas, which redraws faster after a click than one SVG element per "
            "dot. Turn it off if your browser shows no map.",
        )
        prior = model.fitted_prior  # a Gaussian mixture fitted to where the training digits' codes lie (fit-prior)
        show_prior = prior is not None and right.toggle(
            "Show the fitted prior", value=False, key="explorer_show_prior", persist_state="session",
            disabled=method == "tsne",
            help=f"The {prior.components} Gaussians the VAE's samples are drawn from (`multigen fit-prior`), each as "
            "its 2-standard-deviation ellipse. Only on the PCA and raw maps: t-SNE bends distances, so it has no "
            "ellipses.",
        ) and method != "tsne"
        condition = AUTO
        if conditional:
            condition = left.selectbox(
                "Decode as digit", [AUTO, *range(10)], key="explorer_condition", persist_state="session",
                format_func=lambda c: "each dot's own digit" if c == AUTO else f"digit {c}",
                help="A CVAE decodes a latent together with a digit label: the latent holds the style, the label "
                "the digit.",
            )

# -- calls into multigen --------------------------------------------------------------------------
wanted_points = n_points
try:
    # A map of tens of thousands of digits not yet encoded: its first QUICK_POINTS now, the rest in the background.
    codes, encoding = loaders.encoded_soon(checkpoint, dataset, split, wanted_points)
    n_points = len(codes.labels)  # what the map shows until the rest are encoded
    if method != "tsne":
        projection = loaders.projected(checkpoint, dataset, split, n_points, method, codes.mu)
    elif encoding is None:  # in the background, once, cached on disk; never inside this rerun (and of every digit:
        # while some are still being encoded, it waits for them, below)
        key = loaders.tsne_key(info, split, n_points, perplexity)
        status = loaders.projection_jobs().request(  # one t-SNE at a time per checkpoint and split
            key, codes.mu, "tsne", seed=loaders.TSNE_SEED, perplexity=perplexity, group=f"{info.path}:{split}"
        )
        projection = status.projection
except MultigenError as error:
    st.error(plain(error))
    stop_without_map()


@st.fragment(run_every=0.5)
def encoding_progress() -> None:
    """While the rest of a large map's digits are encoded: what the map shows meanwhile, and a rerun when they are in."""
    now = loaders.encoding_status(checkpoint, dataset, split)
    if now is None or now.state not in ("running", "queued"):
        st.rerun()
    so_far = f"{now.elapsed:.0f} s so far" if now.state == "running" else "waiting for another map's digits"
    if method == "tsne":
        st.progress(0.0, text=f"Encoding the split's digits ({so_far}) before the t-SNE map of {wanted_points:,} of "
                              "them is computed; they are kept on disk, so this happens once per checkpoint and split.")
    else:
        st.info(f"Showing {n_points:,} of the {wanted_points:,} digits while the rest are encoded ({so_far}); the map "
                "fills in when they are, and every size of it comes from disk after. Clicks on this map are cleared "
                "then.", icon=":material/hourglass_top:")


if method == "tsne" and encoding is not None:
    with map_note:
        encoding_progress()
    stop_without_map()
if method == "tsne" and status.state in ("running", "queued"):

    @st.fragment(run_every=0.5)
    def tsne_progress() -> None:
        # Polls the background job; when it is done (or was replaced by a newer setting), a full rerun follows.
        now = loaders.projection_jobs().status(key)
        if now.state not in ("running", "queued"):
            st.rerun()
        if now.state == "queued":
            st.progress(0.0, text="Waiting for the t-SNE map of another setting of this checkpoint to finish "
                                  "(one runs at a time); this one starts next.")
            return
        st.progress(
            now.fraction,
            text=f"Computing the t-SNE map of {n_points:,} digits with {tsne_engine()} ({now.elapsed:.0f} s so far). "
            "It runs once per checkpoint, split, number of points and perplexity; after that it comes from the cache.",
        )
        if st.button("Cancel, show the PCA map", key="explorer_tsne_cancel", on_click=cancel_tsne):
            st.rerun()  # the whole page, on the PCA map

    def cancel_tsne() -> None:
        """Stop the t-SNE (openTSNE stops within a second; scikit-learn's finishes in the background and is cached)
        and show the PCA map meanwhile."""
        loaders.projection_jobs().cancel(key)
        st.session_state["explorer_projection"] = "pca"

    with map_note:
        tsne_progress()
    stop_without_map()
if method == "tsne" and status.state == "failed":
    st.error(f"The t-SNE map could not be computed: {plain(status.error)}")
    stop_without_map()
points = projection.points

context = [str(info.path), fingerprint(info), split, n_points, method, perplexity if method == "tsne" else None]
if st.session_state["explorer_context"] != context:
    st.session_state.update(explorer_context=context, explorer_picks=[], explorer_region=None)
for made in st.session_state.pop("latent_selections", None) or []:
    if made["context"] != context:
        continue  # made on a map this run no longer shows
    clicked = selection.read_selection(made["selection"], points)
    if clicked.pick is not None:
        st.session_state["explorer_picks"] = [*st.session_state["explorer_picks"], clicked.pick][-2:]
    if clicked.region is not None:
        st.session_state["explorer_region"] = clicked.region


def condition_for(row: int | None, xy: list[float] | None) -> int | None:
    """The digit a CVAE decodes with: the chosen one, else the dot's own (or the nearest dot's)."""
    if not conditional:
        return None
    if condition != AUTO:
        return int(condition)
    if row is None:
        row = selection.nearest_row(points, xy)
    return int(codes.labels[row])


def latent_of(pick: dict) -> np.ndarray:
    """The latent vector a pick stands for: a dot's mean, or the inverse projection of a position."""
    if pick.get("row") is not None:
        return codes.mu[pick["row"]]
    return projection.inverse(np.asarray(pick["xy"], dtype=np.float32))[0]


def describe(pick: dict) -> str:
    if pick.get("row") is not None:
        return f"row {pick['row']} ({label_text(codes.labels[pick['row']], names).lower()})"
    x, y = pick["xy"]
    return f"empty space at ({x:.2f}, {y:.2f})"


picks = st.session_state["explorer_picks"]
region = st.session_state["explorer_region"]
writer = page("writer")
style_row = picks[-1].get("row") if picks and model.kind in writer.kinds else None
if style_row is not None:  # a CVAE's latent is the digit's style: the Write a number page can write in it
    style_digit = {
        "checkpoint": str(info.path), "row": style_row, "label": int(codes.labels[style_row]),
        "image": codes.images[style_row].tolist(), "z": codes.mu[style_row].tolist(),
    }
    if st.session_state.get("style_digit") != style_digit:  # a new click: the write page opens on this CVAE
        st.session_state.update({"style_digit": style_digit, picker_key(writer): str(info.path)})


# Its dots' originals are fetched one at a time, no sheets (also for the first digits shown while the rest are encoded).
large_map = wanted_points > picture_panel.ATLAS_MAX_POINTS


def dot_sheets() -> dict[str, np.ndarray]:
    """Every dot's pictures (DOT_PICTURES), row i for dot i: the browser shows a clicked dot's at once. A large map
    has its originals only (decoding tens of thousands of digits would cost seconds before the first click)."""
    if large_map:
        return {"original": codes.images}
    labels = None if not conditional else (codes.labels if condition == AUTO else int(condition))
    sheets = {"original": codes.images, "decoded": model.draw(codes.mu, labels)}
    if method == "pca":
        sheets["position"] = model.draw(projection.inverse(points), labels)
    return sheets


dot_pictures = ["original", "decoded"] + (["position"] if method == "pca" else [])
try:
    details = []  # (caption, 28x28 picture)
    quality, no_quality = None, None  # the clicked digit's reconstruction: (perceptual distance, pixel BCE)
    if picks:
        pick = picks[-1]
        row, xy = pick.get("row"), pick.get("xy")
        label = condition_for(row, xy)
        if row is not None:
            details.append((DOT_PICTURES["original"], codes.images[row]))
            details.append((DOT_PICTURES["decoded"], model.draw(codes.mu[row], label)))
            if label is None or label == int(codes.labels[row]):  # a true reconstruction, not another digit
                try:
                    measured = reconstruction_quality(model, codes.images[row], label)
                    quality = (float(measured.perceptual[0]), float(measured.bce[0]))
                except MultigenError as error:  # no digit classifier: the pictures still show
                    no_quality = str(error)
            if "position" in dot_pictures:  # the dot's place on the PCA plane
                details.append((DOT_PICTURES["position"], model.draw(projection.inverse(points[row])[0], label)))
        else:
            details.append(("This position decoded", model.draw(latent_of(pick), label)))
    strip = None
    if len(picks) == 2:
        path = interpolate(latent_of(picks[0]), latent_of(picks[1]), steps)
        strip = image_strip(model.draw(path, condition_for(picks[0].get("row"), picks[0].get("xy"))))
    gallery = None
    if region is not None and region["rows"]:
        chosen = region["rows"][:: -(-len(region["rows"]) // GALLERY)]  # at most GALLERY, spread over the selection
        gallery = image_grid(codes.images[chosen], nrow=10)
    manifold = None
    if model.latent_dim == 2:
        box = region.get("box") if (region is not None and method == "raw") else None
        x_range, y_range = box or selection.visible_range(codes.mu)
        manifold_label = condition_for(picks[-1].get("row"), picks[-1].get("xy")) if picks else condition_for(0, None)
        manifold = loaders.manifold(checkpoint, x_range, y_range, manifold_n, manifold_label)
except MultigenError as error:
    st.error(plain(error))
    stop_without_map()

# -- drawing --------------------------------------------------------------------------------------
def draw_map() -> None:
    """The map (on a session's first map, with its picture) and its caption."""
    with map_note:
        if encoding is not None:
            encoding_progress()
    margin = charts.map_margin(names)
    with map_column:
        axes = ("z₁", "z₂") if method == "raw" else (f"{METHOD_NAMES[method]} 1", f"{METHOD_NAMES[method]} 2")
        # The map only changes with its context; rebuilding 5,000+ markers on every click costs ~60 ms.
        figure_key = [*context, webgl, show_prior]
        cached = st.session_state.get("explorer_figure")
        if cached is None or cached[0] != figure_key:
            figure = charts.latent_map_figure(
                points, codes.labels, class_names=names, clickable_background=True, axis_titles=axes, webgl=webgl,
                margin=margin,
            )
            if show_prior:
                charts.add_prior_ellipses(figure, *place_gaussians(projection, prior.means, prior.covariances))
            st.session_state["explorer_figure"] = (figure_key, figure)
        figure = st.session_state["explorer_figure"][1]
        if first_map and not show_prior:  # its picture shows at once, while the browser still loads and runs Plotly
            picture = charts.latent_map_picture(points, codes.labels, margin)
            map_note.html(charts.latent_map_style("latent_map", picture, margin))
        map_slot.plotly_chart(
            figure, key="latent_map", on_select=remember_selection, selection_mode=("points", "box", "lasso"),
            config={"displaylogo": False, "doubleClick": "reset"},  # a double click goes back to the ranges set
        )
        st.caption(
            f"{n_points:,} {SPLIT_NAMES[split].lower()} of {plain(dataset)}, encoded by {literal(info.path.name)} "
            f"({model.latent_dim}-D latent), {METHOD_NAMES[method]} projection. Hover a dot for its label."
            + (f" Ellipses: the {prior.components} Gaussians of the fitted prior the VAE samples from, seen through "
               "this projection (2 standard deviations); N(0, I) also draws in the gaps between them, which decode as "
               "blends." if show_prior else "")
        )


# A click's details are drawn before the map so their pictures reach the browser before the map is re-sent (a click
# on a dot shows its pictures even before that, from the sprite sheets sent with the map: pages/ui/picture_panel.py).
# A session's first map has no details yet: it goes first, its picture the page's first content.
if first_map:
    draw_map()
with detail_column:
    clicks_tab, yours_tab = st.tabs(["Pointer and clicks", "Your digit"])
with clicks_tab:
    if not large_map:  # the digit under the pointer, decoded in the page
        live_digit.map_hover(
            info.path, projection, chart="latent_map", width=28 * HOVER_ENLARGE, key="explorer_hover",
            labels=codes.labels if conditional and condition == AUTO else None,
            label=int(condition) if conditional and condition != AUTO else None,
        )
    pick = picks[-1] if picks else {}
    title, note = None, None
    if pick.get("row") is not None:  # the browser titles an instant view the same way (`titles` below)
        title = f"{label_text(codes.labels[pick['row']], names)} · row {pick['row']}"
    elif pick:
        x, y = pick["xy"]
        how = {"raw": "the latent itself", "pca": "PCA's exact inverse",
               "tsne": "a blend of the latents of the nearest dots"}[method]
        title, note = f"Position ({x:.2f}, {y:.2f})", f"Decoded through {how}."
    atlas = picture_panel.atlas_id(*context, condition, large_map)
    picture_panel.clicked_pictures(
        chart="latent_map", title=title, row=pick.get("row"), atlas=atlas,
        pictures=[(caption, picture_url(image)) for caption, image in details], width=28 * ENLARGE,
        instant=[(DOT_PICTURES[name], name) for name in (["original"] if large_map else dot_pictures)],
        titles=[label_text(label, names) for label in range(len(names))], key="explorer_pictures",
    )
    if not picks:  # after the pictures, so that a first click's pictures show where later ones will
        st.subheader("Click the map")
        st.caption(
            "A dot shows its digit, its reconstruction and what its position decodes to; empty space shows what "
            "the decoder draws there."
        )
    else:
        if note:
            st.caption(note)
        if quality is not None:
            distance_column, bce_column = st.columns(2)
            distance_column.metric(
                "Perceptual distance", f"{quality[0]:.3f}",
                help="Between the digit and its reconstruction, on the digit classifier's features (LPIPS-style, "
                "not the published LPIPS): 0 is the same picture, a digit moved by a pixel about 0.2, another "
                "digit about 0.8. `multigen eval` reports the mean over the validation digits.",
            )
            bce_column.metric(
                "Pixel BCE", f"{quality[1]:.1f} nats",
                help="The digit's binary cross-entropy under the decoder's pixel probabilities, summed over its "
                "784 pixels: the reconstruction term of the VAE's loss. Never 0 for grey pixels.",
            )
        elif no_quality is not None:
            st.caption(f"Reconstruction quality unavailable: {no_quality}")
        elif pick.get("row") is not None:
            st.caption("Reconstruction quality is measured when the digit is decoded with its own label.")
        if style_row is not None:
            st.page_link(writer.file, label="Write a number in this style", icon=":material/edit:")
    if st.button("Clear picks", key="explorer_clear", disabled=not picks and region is None):
        st.session_state.update(explorer_picks=[], explorer_region=None)
        st.rerun()

with yours_tab:
    st.caption("Draw one digit with the mouse, a pen or a finger: the ring on the map shows where the encoder puts it, "
               "as you draw. It is made MNIST-like first (its ink boxed to 20 pixels, centred by mass).")
    yours = st.session_state["explorer_yours"]
    drawing_pad(
        info.path, projection, chart="latent_map", conditional=conditional,
        num_classes=model.config.num_classes if conditional else 0, width=PAD_SIZE, key="explorer_pad",
        on_change=remember_drawing, heard=st.session_state["explorer_pad_heard"],
        yours=None if yours is None else {key: yours[key] for key in ("id", "strokes", "pixels") if key in yours},
    )
    st.file_uploader("…or upload a picture of one digit (PNG or JPEG, any size, dark on light or light on dark)",
                     type=["png", "jpg", "jpeg"], key="explorer_upload", on_change=remember_upload,
                     max_upload_size=MAX_BYTES // 1_000_000)  # the browser refuses a bigger file before sending it
    if st.session_state["explorer_yours_error"]:
        st.error(st.session_state["explorer_yours_error"])
    st.markdown("**Find it in a GAN**")
    candidates = {}
    if yours is not None:
        candidates[yours["source"].capitalize()] = yours["digit"]
    if pick.get("row") is not None:
        candidates[f"The clicked digit (row {pick['row']})"] = codes.images[pick["row"]]
    finding.find_in_gan(candidates, key="explorer_find")

if not first_map:
    draw_map()
with map_column:
    if atlas is not None:  # after the map, which a first visit then sees before the sheets are made
        picture_panel.dot_atlas(atlas, dot_sheets, key="explorer_atlas")

st.subheader("Interpolation")
if strip is not None:
    st.caption(f"{steps} steps on the straight line from {describe(picks[0])} to {describe(picks[1])}; "
               "below, every point between them, decoded in the page as you scrub or play.")
    show_picture(strip, factor=3)
    live_digit.path_scrubber(info.path, latent_of(picks[0]), latent_of(picks[1]), width=28 * HOVER_ENLARGE,
                             label=condition_for(picks[0].get("row"), picks[0].get("xy")), key="explorer_path")
else:
    st.caption("Click two points (dots or empty space) to walk the latent space between them.")

if gallery is not None:
    st.subheader(f"{len(region['rows']):,} digits in the selection")
    counts = np.bincount(codes.labels[region["rows"]], minlength=10)
    shown = f" ({len(chosen)} of them shown)" if len(chosen) < len(region["rows"]) else ""
    st.caption("By label: " + " · ".join(f"{names[d]}: {c}" for d, c in enumerate(counts) if c) + shown)
    show_picture(gallery, factor=2)

if manifold is not None:
    st.subheader("The decoder's map")
    (x0, x1), (y0, y1) = x_range, y_range
    where = "the box you drew" if box else "the range of the dots"
    st.caption(
        f"A {manifold_n} × {manifold_n} grid of latent positions over {where} (z₁ {x0:.2f}…{x1:.2f}, "
        f"z₂ {y0:.2f}…{y1:.2f}), each decoded; the top row is the highest z₂."
        + (" Draw a box on the raw map to zoom in." if method == "raw" and not box else "")
    )
    show_picture(manifold, factor=2)
