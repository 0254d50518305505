"""multigen's latent-space lab: ``streamlit run app.py``.

The router: ``st.navigation`` over the scripts in ``pages/`` and the sidebar every page shares
(the checkpoint picker for the page's kind of model, and the device models run on). The pages draw;
``multigen`` computes.
"""

from __future__ import annotations

import streamlit as st

from pages import _shared as shared

st.set_page_config(page_title="multigen", page_icon="✍️", layout="wide")

explorer = st.Page("pages/latent_explorer.py", title="Latent explorer", icon=":material/scatter_plot:", default=True)
generator = st.Page("pages/gan_generator.py", title="GAN generator", icon=":material/tune:")
trainer = st.Page("pages/train.py", title="Train", icon=":material/model_training:")
FAMILY_OF_PAGE = {explorer.url_path: "explorer", generator.url_path: "generator"}

page = st.navigation([explorer, generator, trainer])

with st.sidebar:
    st.markdown("### multigen")
    st.caption("A latent-space lab for GANs and VAEs on handwritten digits.")
    family = FAMILY_OF_PAGE.get(page.url_path)
    if family is not None:
        shared.checkpoint_picker(family)
    else:
        runs = [info for info in shared.available_checkpoints() if shared.is_run(info)]
        st.caption(
            f"Runs trained here are saved to `{shared.display_path(shared.runs_dir())}` "
            f"({len(runs)} so far) and appear in the pickers of the other pages."
        )
    job = shared.training_job().state()
    if job.active:
        st.caption(f"Training: {job.status}, step {job.step:,} of {job.total_steps:,}.")
    st.caption(f"Device: {shared.device_description()}")

page.run()
