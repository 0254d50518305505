"""Write a number: type digits and see them written as one strip, every digit in the same hand.

A CVAE or a cGAN is told which digit to draw and given a style vector; one style for all the digits
of a number writes it in one hand. The style comes from a seed or from a digit clicked on a CVAE's
latent map (the explorer hands it over), and three sliders move it along measured directions of
slant, thickness and width. The PNG and JSON downloads carry the recipe that draws the strip again.
Under the strip, the nearest training digit of each written digit (``multigen.evaluation``'s copy check).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import streamlit as st

from multigen.errors import MultigenError
from multigen.explore.handwriting import (
    DIGIT_SIZE,
    MAX_DIGITS,
    STYLE_NAMES,
    STYLE_RANGE,
    make_write_recipe,
    parse_number,
    strip_png,
    style_from_digit,
    style_from_seed,
    write_number,
)
from pages.ui import loaders
from pages.ui.copy_check import copy_check_note, nearest_training
from pages.ui.downloads import recipe_downloads
from pages.ui.folders import display_path
from pages.ui.live_digit import live_digit
from pages.ui.pictures import show_picture
from pages.ui.shell import run_inside_app
from pages.ui.site import page
from pages.ui.text import literal, plain

run_inside_app()  # a page opened on its own goes through app.py (see pages/ui/shell.py)

MAX_SEED = 2**31 - 1
SLIDER_RANGE = STYLE_RANGE  # the range the style directions' lengths are measured for (every position legible)
SCREEN_SCALE = 6  # the strip on screen: each pixel a 6x6 block
PNG_SCALE = 4  # the downloaded PNG: 112 px per digit
SEED, CLICKED = "Seed", "Clicked digit"
SLIDER_HELP = {
    "slant": "Leans left (−) or right (+).",
    "thickness": "Thinner (−) or thicker (+) strokes.",
    "width": "Narrower (−) or wider (+) digits.",
}

st.session_state.setdefault("write_text", "2026")
st.session_state.setdefault("write_seed", 0)
st.session_state.setdefault("write_source", SEED)
for _index in range(len(STYLE_NAMES)):
    st.session_state.setdefault(f"write_slider_{_index}", 0.0)

# A digit clicked on a CVAE's map in the latent explorer: {"checkpoint", "row", "label", "image", "z"}.
clicked = st.session_state.get("style_digit")
if clicked is not None and clicked != st.session_state.get("write_seen_digit"):
    st.session_state["write_seen_digit"] = clicked
    st.session_state["write_source"] = CLICKED  # a digit was just clicked: write in its style
sources = [SEED, CLICKED] if clicked is not None else [SEED]
if st.session_state["write_source"] not in sources:
    st.session_state["write_source"] = SEED


def randomize() -> None:
    st.session_state["write_seed"] = random.randrange(MAX_SEED)


def reset_sliders() -> None:
    for index in range(len(STYLE_NAMES)):
        st.session_state[f"write_slider_{index}"] = 0.0


st.title("Write a number")
st.caption(
    f"Type up to {MAX_DIGITS} digits and a conditional model writes them in one hand: it is told each digit "
    "and given the same style vector for all of them. Take the style from a seed or from a digit you clicked "
    "on a CVAE's map in the latent explorer, then adjust its slant, thickness and width."
)

info, checkpoint = loaders.require_model(page("writer"))
model = checkpoint.model
keep = {"persist_state": "session"}  # the user's choices survive a visit to another page

# -- inputs ---------------------------------------------------------------------------------------
text_column, source_column = st.columns([2, 3], vertical_alignment="bottom")
text = text_column.text_input(
    "Number", key="write_text", placeholder="2026", max_chars=40,
    help=f"1 to {MAX_DIGITS} digits 0-9 (spaces are ignored); press Enter to write it.", **keep,
)
source = source_column.radio(
    "Style from", sources, key="write_source", horizontal=True, **keep,
    help="A seed draws a style at random; a clicked digit lends its own (click a dot on a CVAE's map in the "
    "latent explorer).",
)
seed = None
if source == SEED:
    seed_column, randomize_column, _ = st.columns([2, 1, 2], vertical_alignment="bottom")
    seed = seed_column.number_input("Style seed", min_value=0, max_value=MAX_SEED, step=1, key="write_seed", **keep)
    randomize_column.button("Randomize", key="write_randomize", on_click=randomize, icon=":material/casino:")
    if clicked is None:
        st.caption("To write in the style of a real digit, click a dot on a CVAE's map in the latent explorer.")
else:
    thumbnail_column, about_column = st.columns([1, 6], vertical_alignment="center")
    show_picture(np.asarray(clicked["image"], dtype=np.uint8), factor=3, container=thumbnail_column)
    about_column.markdown(
        f"**Digit {clicked['label']}**, row {clicked['row']} of the map of "
        f"{literal(Path(clicked['checkpoint']).name)}: the CVAE's encoder reads its style; its label is set aside."
    )

st.markdown("**Style**")
slider_columns = st.columns([*([2] * len(STYLE_NAMES)), 1], vertical_alignment="bottom")
values = [
    slider_columns[index].slider(
        name.capitalize(), -SLIDER_RANGE, SLIDER_RANGE, step=0.1, key=f"write_slider_{index}",
        help=SLIDER_HELP[name], **keep,
    )
    for index, name in enumerate(STYLE_NAMES)
]
slider_columns[-1].button("Reset", key="write_reset", on_click=reset_sliders, icon=":material/restart_alt:")

# -- calls into multigen --------------------------------------------------------------------------
try:
    number = "".join(str(digit) for digit in parse_number(text))
    # Measuring the style directions takes a second on a first visit: with every slider at 0 the strip needs none,
    # and they are measured once it is on screen (for the in-page sliders, below).
    directions = loaders.writing_directions(checkpoint) if any(values) else None
    if source == CLICKED:
        style = style_from_digit(model, np.asarray(clicked["image"], dtype=np.uint8), int(clicked["label"]))
        origin = {"type": "digit", **{key: clicked[key] for key in ("checkpoint", "row", "label")}}
        origin["checkpoint"] = display_path(origin["checkpoint"])
        where = f"the clicked {clicked['label']} (row {clicked['row']})"
    else:
        style = style_from_seed(model, seed)
        origin = {"type": "seed"}
        where = f"seed {seed}"
    strip = write_number(model, number, style, sliders=values, directions=directions)
    recipe = make_write_recipe(
        display_path(info.path), model.kind, number, style, sliders=values, directions=directions,
        seed=seed, source=origin,
    )
    png = strip_png(strip, recipe, scale=PNG_SCALE)
except MultigenError as error:
    st.error(plain(error))
    st.stop()
# -- drawing --------------------------------------------------------------------------------------
live = st.empty()  # the strip redrawn in the page while a slider moves: mounted below, once the directions are known
show_picture(strip, factor=SCREEN_SCALE, caption=f"“{number}” in the style of {where}")
with live:
    try:
        live_digit(info.path, start=style, directions=loaders.writing_directions(checkpoint), values=values,
                   key="write_live", sliders=[name.capitalize() for name in STYLE_NAMES],
                   labels=[int(digit) for digit in number])
    except MultigenError as error:
        st.caption(f"The sliders update the strip when released: {plain(error)}")
name = f"multigen-{number}-{Path(info.path).stem}" + (f"-seed{seed}" if seed is not None else "-clicked")
recipe_downloads(
    png, recipe, name, keys=("write_png", "write_json"), what="strip", scale=PNG_SCALE,
    recipe_help="Checkpoint, digits, where the style came from, slider values and the full style vector.",
    columns=st.columns([1, 1, 3])[:2],
)
if seed is not None:
    options = "".join(f" --{name} {value:g}" for name, value in zip(STYLE_NAMES, values) if value)
    command = f"python -m multigen write {number} --ckpt {display_path(info.path)} --style-seed {seed}{options}"
    again = f"From the command line: `{command}`"
else:
    again = "The recipe holds the full style vector, so it draws the strip again."
st.caption(f"{literal(info.path.name)} ({model.display_name}, a style vector of {model.latent_dim} numbers). {again}")

st.markdown("**Nearest training digits**")
nearest, no_copy_check = None, None
try:  # the copy check of every written digit, after the strip is on screen; without it the page still writes
    written = strip.reshape(DIGIT_SIZE, len(number), DIGIT_SIZE).transpose(1, 0, 2)  # (digits, 28, 28)
    nearest = nearest_training(checkpoint, written, 1)
except MultigenError as error:
    no_copy_check = str(error)
if nearest is None:
    st.caption(f"No copy check: {no_copy_check}")
else:
    distances = " · ".join(f"{digit} → {distance:.3f}" for digit, distance in zip(number, nearest.distances[:, 0]))
    show_picture(np.concatenate(nearest.images[:, 0], axis=1), factor=SCREEN_SCALE,
                        caption=f"Under each written digit, the training digit nearest to it: {distances}")
    copies = [f"the {digit} (position {index + 1})" for index, digit in enumerate(number) if nearest.copied[index]]
    verdict = (f":orange[**Possibly copies:** {', '.join(copies)}.]" if copies
               else "None of the digits is a copy by this check.")
    st.caption(f"{verdict} {copy_check_note()}")
