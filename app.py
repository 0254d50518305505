"""multigen's latent-space lab: ``streamlit run app.py``.

The router: ``st.navigation`` over the scripts in ``pages/`` and the sidebar every page shares
(the checkpoint picker for the page's kind of model, and the device models run on). The pages draw;
``multigen`` computes. A page that Streamlit runs on its own (its legacy handling of a ``pages/``
folder) comes back through this file: see ``pages/_shared.run_inside_app``.
"""

from __future__ import annotations

import streamlit as st

from pages import _shared as shared

st.set_page_config(page_title="multigen", page_icon="✍️", layout="wide")
st.html(shared.PAGE_STYLE)

explorer = st.Page("pages/latent_explorer.py", title="Latent explorer", icon=":material/scatter_plot:", default=True)
generator = st.Page("pages/gan_generator.py", title="GAN generator", icon=":material/tune:")
compare = st.Page("pages/compare.py", title="Compare", icon=":material/compare:")
writer = st.Page("pages/write_number.py", title="Write a number", icon=":material/edit:")
trainer = st.Page("pages/train.py", title="Train", icon=":material/model_training:")
FAMILY_OF_PAGE = {explorer.url_path: "explorer", generator.url_path: "generator", writer.url_path: "writer"}

page = st.navigation([explorer, generator, compare, writer, trainer])

shared.draw_sidebar(FAMILY_OF_PAGE.get(page.url_path))
with shared.shell():
    page.run()
