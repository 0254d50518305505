"""What the page scripts share, one job per module (pages import these and ``multigen``, never torch).

- ``site``: the table of the app's pages (title, file, icon, the kinds of model each takes);
- ``shell``: app.py's frame around every page, and the way back into it from Streamlit's legacy ``pages/``;
- ``folders``: where checkpoints, runs and caches live; ``checkpoints``: which checkpoints a page offers;
- ``sidebar``: the sidebar every page shares, with its checkpoint picker;
- ``loaders``: models, codes, projections and the shared jobs, cached with ``st.cache_*``;
- ``datasets``: how a class is named on a page; ``copy_check``: the nearest training digits;
- ``charts``: Plotly figures; ``selection``: what a click or box on the latent map means;
- ``pictures``: digits drawn crisp with ``st.image``; ``picture_panel``: the explorer's components v2 panel;
- ``downloads``: the PNG + recipe download pair; ``when_drawn``: part of a page held back until the browser has drawn
  another part.
"""
