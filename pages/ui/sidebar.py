"""The sidebar every page shares: the checkpoint picker of the page's kinds of model, the checkpoint files it could
not read (each naming itself), and the device."""

from __future__ import annotations

import streamlit as st

from multigen.checkpoints import CheckpointInfo
from pages.ui.checkpoints import (
    available_checkpoints,
    checkpoint_label,
    is_run,
    offered,
    picker_key,
    unreadable_checkpoints,
)
from pages.ui.folders import display_path, runs_dir
from pages.ui.loaders import device_description, training_job
from pages.ui.site import Page


def checkpoint_picker(page: Page) -> CheckpointInfo | None:
    """The sidebar's checkpoint picker for ``page``; the choice is kept per user session."""
    infos = offered(page)
    if not infos:
        st.caption(f"No {page.models} checkpoint yet.")
        return None
    by_path = {str(info.path): info for info in infos}
    key = picker_key(page)
    if st.session_state.get(key) not in by_path:  # first visit, or the picked file went away
        st.session_state[key] = next(iter(by_path))
    chosen = st.selectbox(
        "Checkpoint",
        list(by_path),
        format_func=lambda path: checkpoint_label(by_path[path]),
        key=key,
        help="The shipped models, then every run trained on the Train page (newest first).",
        persist_state="session",
    )
    return by_path.get(chosen)


def draw_sidebar(page: Page | None) -> None:
    """The sidebar of ``page``: its checkpoint picker if it has one, else where runs are saved; the device."""
    with st.sidebar:
        st.markdown("### multigen")
        st.caption("A latent-space lab for GANs and VAEs on handwritten digits.")
        if page is not None and page.picker:
            checkpoint_picker(page)
        else:
            runs = [info for info in available_checkpoints() if is_run(info)]
            st.caption(
                f"Runs trained here are saved in `{display_path(runs_dir())}` ({len(runs)} so far) and appear "
                "in the checkpoint pickers of the other pages."
            )
        for problem in unreadable_checkpoints():  # a damaged file names itself rather than vanish from the pickers
            st.warning(f"Skipped: {problem}")
        if training_job().state().active:
            st.caption("A training run is going on: see the Train page.")
        st.caption(f"Device: {device_description()}")
