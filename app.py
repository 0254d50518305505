"""multigen's latent-space lab: ``streamlit run app.py``.

The router: ``st.navigation`` over the pages of the one page table (``pages/ui/site.py``), and the
sidebar every page shares (the checkpoint picker of the page's kinds of model, and the device models
run on). The pages draw; ``multigen`` computes. A page that Streamlit runs on its own (its legacy
handling of a ``pages/`` folder) comes back through this file: see ``pages/ui/shell.py``.

Streamlit runs this file as the script of every browser session (``__main__``). ``streamlit run app.py`` also
finds ``app`` below and serves the file through it (``st.App``), which gives the server a start-up hook
(``pages/ui/warmup.py``): it imports the pages' libraries before the server answers, then the warm-up fills the
shipped checkpoints' caches in the background.
"""

from __future__ import annotations

import streamlit as st

if __name__ != "__main__":  # imported by `streamlit run app.py` to serve it: the server, with its start-up hook
    from pages.ui.warmup import at_server_start

    app = st.App(__file__, lifespan=at_server_start)
else:  # a session's script run: the router
    from pages.ui.warmup import page_run, start_warm_up

    # The warm-up holds back from the router's first import to the page's last line (pages/ui/warmup.py): a task it
    # started between the two took the CPU from a first visit.
    with page_run():
        from pages.ui.pictures import PAGE_STYLE
        from pages.ui.shell import shell
        from pages.ui.sidebar import draw_sidebar
        from pages.ui.site import PAGES

        st.set_page_config(page_title="multigen", page_icon="✍️", layout="wide")
        st.html(PAGE_STYLE)

        routes = {page: st.Page(page.file, title=page.title, icon=page.icon, default=page.default) for page in PAGES}
        current = st.navigation(list(routes.values()))

        start_warm_up()  # a server started without the hook (AppTest, uvicorn elsewhere): warm up from here, once
        draw_sidebar(next(page for page, route in routes.items() if route.url_path == current.url_path))
        with shell():
            current.run()
