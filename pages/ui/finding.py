"""Find a digit in a GAN: the Latent explorer's panel that searches a GAN's noise for the person's digit
(``multigen.inversion``), says how close it got beside two real digits of the kind, and opens the GAN page on
the found vector."""

from __future__ import annotations

import numpy as np
import streamlit as st

from multigen.errors import MultigenError
from multigen.inversion import invert
from pages.ui import loaders
from pages.ui.checkpoints import checkpoint_label, offered, picker_key
from pages.ui.pictures import show_picture
from pages.ui.site import page
from pages.ui.text import plain

READ = "read"  # a cGAN draws the digit as the digit classifier reads it


def _open_on_gan_page(found: dict) -> None:
    """Button callback: the GAN page opens on this checkpoint, this label and the found vector."""
    generator = page("generator")
    st.session_state[picker_key(generator)] = found["checkpoint"]
    st.session_state["gan_found"] = (found["z"], found["distance"])
    if found["label"] is not None:
        st.session_state["gan_digit"] = found["label"]
    message = (f"Opened on the digit found by inversion (perceptual distance {found['distance']:.3f}): the sliders, "
               "variations and interpolation start from it.")
    st.session_state["gan_message"] = ("success", message)
    st.session_state["explorer_open_gan"] = True


def follow_open() -> None:
    """At the top of the page: if "Open it on the GAN page" was pressed, go there now."""
    if st.session_state.pop("explorer_open_gan", False):
        st.switch_page(page("generator").file)


def find_in_gan(candidates: dict[str, np.ndarray], *, key: str) -> None:
    """The panel: pick one of ``candidates`` (what a person calls it -> a (28, 28) uint8 digit), a GAN or cGAN
    checkpoint and, for a cGAN, the digit to draw; search; show the answer and how good it is."""
    generators = offered(page("generator"))
    if not generators:
        st.caption("No GAN checkpoint to search: train one on the Train page.")
        return
    if not candidates:
        st.caption("Draw or upload a digit, or click a dot on the map, then search a GAN for it.")
        return
    names = list(candidates)
    which = st.radio("Digit to find", names, key=f"{key}_which", horizontal=True) if len(names) > 1 else names[0]
    left, right = st.columns(2)
    paths = [str(info.path) for info in generators]
    chosen = left.selectbox("GAN", paths, key=f"{key}_gan",
                            format_func=lambda path: checkpoint_label(generators[paths.index(path)]))
    info = generators[paths.index(chosen)]
    try:
        model = loaders.load_model(info).model
    except (MultigenError, OSError) as error:
        st.error(plain(error))
        return
    label = None
    if model.conditional:
        picked = right.selectbox(
            "Draw it as", [READ, *range(model.config.num_classes)], key=f"{key}_label",
            format_func=lambda value: "the digit the classifier reads" if value == READ else f"digit {value}",
            help="A cGAN draws a given digit: the one its noise must be found for.")
        label = None if picked == READ else int(picked)
    target = candidates[which]
    if st.button("Find it in the GAN", key=f"{key}_go", icon=":material/search:", type="primary"):
        with st.spinner("Searching the GAN's noise (8 starts, 150 steps of Adam)…"):
            try:
                found = invert(model, target, label=label)
            except MultigenError as error:
                st.error(plain(error))
                return
        st.session_state[f"{key}_found"] = {
            "checkpoint": str(info.path), "target": target.tolist(), "z": found.z.tolist(), "label": found.label,
            "image": found.image.tolist(), "distance": found.distance, "real": found.real_distance,
            "name": info.path.name,
        }
    found = st.session_state.get(f"{key}_found")
    if found is None:
        return
    target_column, found_column = st.columns(2)
    show_picture(np.array(found["target"], np.uint8), factor=4, caption="Searched for", container=target_column)
    drawn_as = f" as a {found['label']}" if found["label"] is not None else ""
    show_picture(np.array(found["image"], np.uint8), factor=4, caption=f"Found in {found['name']}{drawn_as}",
                 container=found_column)
    close = found["distance"] < found["real"]
    st.metric(
        "Perceptual distance", f"{found['distance']:.3f}",
        delta=f"{found['distance'] - found['real']:+.3f} against two real digits ({found['real']:.3f})",
        delta_color="inverse",
        help="Between the digit searched for and the one found (0: the same picture). Beside it, the median distance "
        "between two real validation digits of the same kind: closer than that, the GAN can draw your digit; "
        "further, it can only draw something near it.",
    )
    st.caption("The GAN can draw this digit: closer than two real digits of the kind are to each other." if close
               else "The GAN can only draw something near this digit: further than two real digits of the kind.")
    st.button("Open it on the GAN page", key=f"{key}_open", icon=":material/tune:", on_click=_open_on_gan_page,
              args=(found,))
