"""multigen's latent-space lab: ``streamlit run app.py``.

The router: ``st.navigation`` over the pages of the one page table (``pages/ui/site.py``), and the
sidebar every page shares (the checkpoint picker of the page's kinds of model, and the device models
run on). The pages draw; ``multigen`` computes. A page that Streamlit runs on its own (its legacy
handling of a ``pages/`` folder) comes back through this file: see ``pages/ui/shell.py``.
"""

from __future__ import annotations

import streamlit as st

from pages.ui.pictures import PAGE_STYLE
from pages.ui.shell import shell
from pages.ui.sidebar import draw_sidebar
from pages.ui.site import PAGES

st.set_page_config(page_title="multigen", page_icon="✍️", layout="wide")
st.html(PAGE_STYLE)

routes = {page: st.Page(page.file, title=page.title, icon=page.icon, default=page.default) for page in PAGES}
current = st.navigation(list(routes.values()))

draw_sidebar(next(page for page, route in routes.items() if route.url_path == current.url_path))
with shell():
    current.run()
