"""GAN generator: steer a GAN's noise vector with sliders and keep the recipe of every picture.

A seed picks a noise vector; each slider moves it along one of the directions in which the
generator's output changes most (GANSpace, Härkönen et al. 2020). Beside the digit: its nearest
training digits by perceptual distance (the copy check of ``multigen.evaluation``). Below: variations
around the current vector and a walk to a second seed. The PNG and JSON downloads rebuild the picture
exactly, and either can be loaded back here.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import streamlit as st

from multigen.errors import MultigenError
from multigen.explore.noise import (
    MAX_RECIPE_BYTES,
    MAX_SEED,
    SLIDER_RANGE,
    apply_sliders,
    code_of,
    held_together,
    make_recipe,
    noise_vector,
    read_recipe,
    recipe_png,
    slerp,
    sliders_total,
    variations,
    with_code,
)
from multigen.images import image_strip
from pages.ui import loaders
from pages.ui.checkpoints import offered, picker_key
from pages.ui.copy_check import copy_check_note, nearest_training
from pages.ui.downloads import recipe_downloads
from pages.ui.folders import display_path
from pages.ui.live_digit import live_digit
from pages.ui.pictures import picture, show_picture
from pages.ui.shell import run_inside_app
from pages.ui.site import page
from pages.ui.text import literal, plain

run_inside_app()  # a page opened on its own goes through app.py (see pages/ui/shell.py)

SLIDERS = loaders.GAN_SLIDERS  # directions offered (fewer when the noise vector is smaller)
VARIATIONS = 8
NEAREST = 3  # training digits shown beside the generated one (the copy check)
PNG_SCALE = 8  # the downloaded PNG is the 28x28 digit enlarged 8x (224 px), each pixel a crisp block

st.session_state.setdefault("gan_seed", 0)
st.session_state.setdefault("gan_seed_b", 1)
st.session_state.setdefault("gan_digit", 0)
st.session_state.setdefault("gan_code", None)  # an InfoGAN's code category; None: the one the noise carries
st.session_state.setdefault("gan_message", None)  # the outcome of loading a recipe, shown once
st.session_state.setdefault("gan_found", None)  # (z, distance) of a digit found by `multigen invert`, else None
for _index in range(SLIDERS):
    st.session_state.setdefault(f"slider_{_index}", 0.0)


def randomize() -> None:
    st.session_state["gan_seed"] = random.randrange(MAX_SEED)
    forget_found()


def forget_found() -> None:
    """A new seed: the page draws from the seed's noise again, not from a found vector."""
    st.session_state["gan_found"] = None


def reset_sliders() -> None:
    for index in range(SLIDERS):
        st.session_state[f"slider_{index}"] = 0.0


def load_recipe() -> None:
    """Set checkpoint, seed, digit and sliders from an uploaded PNG or JSON recipe (checked in full by
    ``read_recipe`` before anything is set: a refused recipe leaves the page as it was)."""
    upload = st.session_state.get("gan_recipe")
    if upload is None:
        return
    try:
        recipe = read_recipe(upload.getvalue(), upload.name)
    except MultigenError as error:
        st.session_state["gan_message"] = ("error", plain(error))
        return
    st.session_state["gan_seed"] = recipe.seed
    st.session_state["gan_found"] = None if recipe.found is None else (list(recipe.found), recipe.distance)
    if recipe.label is not None:
        st.session_state["gan_digit"] = recipe.label
    st.session_state["gan_code"] = recipe.code
    for index in range(SLIDERS):
        value = recipe.sliders[index] if index < len(recipe.sliders) else 0.0
        st.session_state[f"slider_{index}"] = max(-SLIDER_RANGE, min(SLIDER_RANGE, value))
    wanted = recipe.checkpoint
    for info in offered(page("generator")):
        if wanted and wanted in (display_path(info.path), str(info.path), info.path.name):
            st.session_state[picker_key(page("generator"))] = str(info.path)
            break
    loaded = f"Loaded the recipe for seed {recipe.seed}" + (f" ({plain(wanted)})." if wanted else ".")
    reach = sliders_total(st.session_state[f"slider_{index}"] for index in range(SLIDERS))
    if not recipe.held and reach > SLIDER_RANGE:  # saved before the sliders shared one reach
        note = (f"{loaded} It was saved before the sliders shared one reach: its sliders add up to {reach:.1f}, more "
                f"than {SLIDER_RANGE:g}, so the page draws them held together and the digit differs from the saved "
                f"one ({literal('multigen sample --recipe ' + upload.name)} draws that one).")
        st.session_state["gan_message"] = ("warning", note)
    else:
        st.session_state["gan_message"] = ("success", loaded)


st.title("GAN generator")
st.caption(
    "A seed picks a noise vector and the generator turns it into a digit. Each slider moves the vector "
    "along a direction in which the picture changes most (found by GANSpace), each only as far as keeps the digit "
    "legible; the digit follows a slider while you drag it. Download any picture with the recipe that makes it again."
)

info, checkpoint = loaders.require_model(page("generator"))
model = checkpoint.model
conditional = bool(model.conditional)
categories = model.code_categories  # an InfoGAN code or clusters (train --categorical-code K), or 0
code_name = "cluster" if model.code_from_clusters else "code"  # clusters: a self-conditioned GAN
count = min(SLIDERS, model.latent_dim)
keep = {"persist_state": "session"}  # the user's choices survive a visit to another page

# -- inputs ---------------------------------------------------------------------------------------
picture_column, control_column = st.columns([2, 3], gap="large")
with control_column:
    seed_column, randomize_column, reset_column = st.columns([2, 1, 1], vertical_alignment="bottom")
    seed = seed_column.number_input("Seed", min_value=0, max_value=MAX_SEED, step=1, key="gan_seed",
                                    on_change=forget_found, **keep)
    randomize_column.button("Randomize", key="gan_randomize", on_click=randomize, icon=":material/casino:")
    reset_column.button("Reset sliders", key="gan_reset", on_click=reset_sliders, icon=":material/restart_alt:")
    digit = None
    if conditional:
        digit = st.pills("Digit", list(range(10)), key="gan_digit", required=True, help="The digit to draw.", **keep)
    code = None
    if categories:
        asked = st.session_state["gan_code"]
        if asked is not None and asked >= categories:  # a code of another checkpoint, or a recipe's
            st.session_state["gan_code"] = None
            note = f"This checkpoint has no {code_name} {asked} (it has 0-{categories - 1}): it draws the one the seed carries."
            pending = st.session_state["gan_message"]
            st.session_state["gan_message"] = ("error", note) if pending is None else (pending[0], f"{pending[1]} {note}")
        if code_name == "cluster":
            meaning = (
                "The cluster to draw from: before training, the training digits were grouped into "
                f"{categories} clusters by their pixels alone (no labels), and the discriminator was told each "
                "digit's cluster, so each one draws its own kind of digit."
            )
        else:
            meaning = "The category of this InfoGAN's code: learnt without labels, it often stands for a digit or a style."
        code = st.pills(
            code_name.capitalize(), list(range(categories)), key="gan_code", wrap=True, **keep,
            help=f"{meaning} None picked: the one the seed's noise carries (the largest of its first {categories} values).",
        )
    st.markdown("**Directions**")
    st.caption("Direction 1 changes the picture most, the last one least. The sliders share one reach: when their "
               f"sizes add up to more than {SLIDER_RANGE:g}, all are applied scaled down together, so the digit stays legible.")
    halves = st.columns(2)
    values = [
        halves[index % 2].slider(
            f"Direction {index + 1}", -SLIDER_RANGE, SLIDER_RANGE, step=0.1, key=f"slider_{index}", **keep
        )
        for index in range(count)
    ]
    held_note = st.empty()  # says when the sliders are held together (drawn below, once it is known)
with st.expander("Variations, interpolation and recipes"):
    left, middle, right = st.columns(3)
    strength = left.slider(
        "Variation strength", 0.05, 1.0, 0.35, step=0.05, key="gan_strength",
        help="0 copies the current vector, 1 draws a fresh one.", **keep,
    )
    seed_b = middle.number_input("Second seed", min_value=0, max_value=MAX_SEED, step=1, key="gan_seed_b", **keep)
    steps = right.slider("Interpolation steps", 3, 16, 10, key="gan_steps", **keep)
    st.file_uploader(
        "Load a recipe (a PNG or JSON saved here)", type=["png", "json"], key="gan_recipe", on_change=load_recipe,
        max_upload_size=MAX_RECIPE_BYTES // 1_000_000,  # the browser refuses a bigger file before sending it
    )

# -- calls into multigen --------------------------------------------------------------------------
try:
    # GANSpace takes seconds on a first visit: the digit with every slider at 0 is drawn without the directions, which
    # are found once it is on screen (for the in-page sliders, below).
    directions = loaders.gan_directions(checkpoint, count) if any(values) else None
    start, end = noise_vector(seed, model.latent_dim), noise_vector(seed_b, model.latent_dim)
    found = st.session_state["gan_found"]
    if found is not None and len(found[0]) == model.latent_dim:  # a digit found by inversion: start from it
        start = np.asarray(found[0], dtype=np.float32)

    def coded(vectors):
        """The vectors with the picked InfoGAN code (as they are without one)."""
        return vectors if code is None else with_code(vectors, code, categories)

    applied = held_together(values)  # several sliders far out: held to one reach together (the digit stays legible)

    def slid(vectors):
        """The vectors moved by the sliders (as they are with every slider at 0)."""
        return vectors if directions is None else apply_sliders(vectors, directions, applied)

    z = coded(slid(start))
    image = model.draw(z, digit)
    nearby = image_strip(model.draw(coded(variations(z, VARIATIONS, strength=strength, seed=seed)), digit))
    walk = image_strip(model.draw(coded(slid(slerp(start, end, steps))), digit))
    recipe = make_recipe(display_path(info.path), seed, z, label=digit, sliders=values, kind=model.kind, code=code)
    if found is not None:  # z no longer comes from the seed: the recipe starts the page from z itself
        recipe.update(source="inversion", sliders=[], distance=found[1])
    png = recipe_png(picture(image, PNG_SCALE), recipe)
except MultigenError as error:
    st.error(plain(error))
    st.stop()
# -- drawing --------------------------------------------------------------------------------------
total = sliders_total(values)
if total > SLIDER_RANGE:  # beyond the sliders' shared reach: held_together scaled them
    held_note.caption(
        f"**Held together at {SLIDER_RANGE / total:.0%}**: the sliders add up to {total:.1f}, more than the "
        f"{SLIDER_RANGE:g} they share, so each applies at {SLIDER_RANGE / total:.0%} of its setting ("
        + ", ".join(f"{value:+.2f}" for value in applied if value) + ")."
    )
if st.session_state["gan_message"]:
    outcome, text = st.session_state["gan_message"]
    {"success": st.success, "warning": st.warning}.get(outcome, st.error)(text)
    st.session_state["gan_message"] = None

with picture_column:
    found = st.session_state["gan_found"]
    origin = f"found by inversion (distance {found[1]:.3f})" if found and found[1] is not None else (
        "found by inversion" if found else f"seed {seed}")
    caption = (f"Digit {digit}, {origin}" if conditional else origin[0].upper() + origin[1:]) + (
        f", {code_name} {code_of(z, categories)}" if categories else ""
    )
    live = st.empty()  # the digit redrawn in the page while a slider moves: mounted below, once the directions are known
    show_picture(image, factor=10, caption=caption)
    name = f"multigen-{Path(info.path).stem}-seed{seed}" + (f"-digit{digit}" if conditional else "")
    recipe_downloads(
        png, recipe, name, keys=("download_png", "download_json"), what="digit", scale=PNG_SCALE,
        recipe_help="Checkpoint, seed, digit, slider values and the full noise vector.", columns=st.columns(2),
    )
    st.caption(f"{literal(info.path.name)} · a noise vector of {model.latent_dim} numbers · {count} directions")
    with live:
        try:
            live_digit(info.path, start=start, directions=loaders.gan_directions(checkpoint, count), values=values,
                       key="gan_live", sliders=[f"Direction {index + 1}" for index in range(len(values))],
                       labels=[digit] if conditional else None, code=code, categories=categories,
                       reach=SLIDER_RANGE)
        except MultigenError as error:
            st.caption(f"The sliders update the digit when released: {plain(error)}")
    st.markdown("**Nearest training digits**")
    nearest, no_copy_check = None, None
    try:  # the copy check, after the digit is on screen (a first visit finds the training digits' features first)
        nearest = nearest_training(checkpoint, image[None], NEAREST)
    except MultigenError as error:  # without a digit classifier (or for other data) the page draws all the rest
        no_copy_check = str(error)
    if nearest is None:
        st.caption(f"No copy check: {no_copy_check}")
    else:
        for column, distance, label, neighbour in zip(
            st.columns(NEAREST), nearest.distances[0], nearest.labels[0], nearest.images[0]
        ):
            show_picture(neighbour, factor=3, caption=f"{distance:.3f} · digit {label}", container=column)
        limit = f"{nearest.thresholds[0]:.3f} to a training {nearest.labels[0, 0]}"
        verdict = (f":orange[**Possibly a copy:** closer than {limit}.]" if nearest.copied[0]
                   else f"Not a copy by this check (a copy would be closer than {limit}).")
        st.caption(f"{verdict} {copy_check_note()}")

st.subheader("Variations")
st.caption(f"{VARIATIONS} vectors near the current one (strength {strength:.2f}).")
show_picture(nearby, factor=3)

st.subheader("Interpolation")
st.caption(f"A spherical walk in {steps} steps from seed {seed} to seed {seed_b}, the sliders applied at every step.")
show_picture(walk, factor=3)
