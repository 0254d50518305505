"""Pictures fit their column: no sample grid runs off the right edge of the page, at any usual window width.

A picture is an ``img`` or a ``canvas``; its column is the ``st.columns`` column it sits in, else the
page's main block. Each check measures the page in Chromium at several window widths.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from test_browser import (
    FIRST_RENDER_TIMEOUT_MS,
    TRAINING_TIMEOUT_MS,
    expect,
    fill_training_form,
    open_app_page,
    start_button,
    stop_button,
    stop_training_after_failure,
)

pytestmark = pytest.mark.browser

WIDTHS = (1280, 1600)  # a laptop's window and a wide one
HEIGHT = 1000

# Every shown picture whose right edge passes the right edge of its column's content, by more than half a pixel.
OVERFLOWING = """() => [...document.querySelectorAll('img, canvas')].flatMap(picture => {
    const box = picture.getBoundingClientRect();
    const column = picture.closest('[data-testid=stColumn]') || picture.closest('[data-testid=stMainBlockContainer]');
    if (!column || box.width === 0 || box.height === 0) return [];
    const edge = column.getBoundingClientRect().right - parseFloat(getComputedStyle(column).paddingRight);
    if (box.right <= edge + 0.5) return [];
    const figure = picture.closest('[data-testid=stImage]');
    const caption = figure ? figure.innerText.trim() : picture.tagName.toLowerCase();
    return [`${caption}: right edge at ${Math.round(box.right)} px, its column's at ${Math.round(edge)} px`];
})"""


def pictures_past_their_column(page: Any) -> dict[int, list[str]]:
    """For each window width of WIDTHS, the pictures that run past their column's right edge."""
    found = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        page.wait_for_function("width => window.innerWidth === width", arg=width)
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")  # laid out
        found[width] = page.evaluate(OVERFLOWING)
    return {width: over for width, over in found.items() if over}


def test_the_compare_pages_sample_grids_fit_their_columns(page):
    page.set_viewport_size({"width": WIDTHS[0], "height": HEIGHT})
    open_app_page(page, "/compare", "Compare")
    grids = page.locator("[data-testid=stImage] img")
    expect(grids.first).to_be_visible(timeout=FIRST_RENDER_TIMEOUT_MS)
    for index in range(grids.count()):
        expect(grids.nth(index)).to_have_js_property("complete", True)

    assert pictures_past_their_column(page) == {}


def test_the_train_pages_sample_grid_fits_its_column(page):
    page.set_viewport_size({"width": WIDTHS[0], "height": HEIGHT})
    open_app_page(page, "/train", "Train")
    expect(start_button(page)).to_be_enabled(timeout=TRAINING_TIMEOUT_MS)  # no run left over
    fill_training_form(page, model="VAE", epochs=50, batch_size=500)

    start_button(page).click()
    try:
        grid = page.locator("[data-testid=stImage]").filter(has_text=re.compile(r"^Epoch \d+, step [\d,]+"))
        expect(grid.last.locator("img")).to_have_js_property("complete", True, timeout=TRAINING_TIMEOUT_MS)
        stop_button(page).click()  # the grid stays, and the next test finds no run going on
        expect(page.get_by_text("The run was stopped").first).to_be_visible(timeout=TRAINING_TIMEOUT_MS)
    except BaseException:
        stop_training_after_failure(page)
        raise
    expect(grid.last.locator("img")).to_have_js_property("complete", True)

    assert pictures_past_their_column(page) == {}
