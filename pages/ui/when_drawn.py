"""Hold part of a page back until the browser has drawn another part (``pages/components/when_drawn.js``).

Why: Streamlit's browser code loads an element's library when the element first arrives (Plotly's 4.7 MB, the data
frame's 30-odd files) and runs it on the one main thread. Sent in the same run, a Plotly chart below a table made
the table show 1.1 s later on 2 cores (headless Chromium, a first visit: 3.6 s instead of 2.5 s), because Plotly's
script ran first. The page sends the table, then a small component that reports once the table is on screen; that
report reruns the page, which then sends the charts.
"""

from __future__ import annotations

import streamlit as st

from pages.ui.folders import APP_ROOT

_component = st.components.v2.component(
    "multigen.when_drawn", js=(APP_ROOT / "pages" / "components" / "when_drawn.js").read_text(encoding="utf-8")
)


def drawn(selector: str, *, key: str) -> bool:
    """Whether the browser has drawn an element matching the CSS ``selector`` in this session. False in a session's
    first run that reaches it: the component then reports as soon as the element is on screen, which reruns the page.
    True from then on (remembered for the session: its libraries stay loaded in the tab)."""
    seen = f"{key}_seen"
    if st.session_state.get(seen):
        return True
    state = _component(key=key, data={"selector": selector}, default={"drawn": False}, on_drawn_change=lambda: None)
    if state.drawn:
        st.session_state[seen] = True
    return bool(state.drawn)
