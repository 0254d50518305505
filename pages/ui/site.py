"""The app's pages, in one table: what app.py navigates over and what the sidebar offers on each page.

A row says where a page's script is, how the navigation shows it, and which kinds of model it takes
(asked of ``multigen.models.kinds``, never listed by hand). A page with a ``picker`` has the sidebar's
checkpoint picker for those kinds, which opens on its ``preferred`` shipped checkpoints first.
"""

from __future__ import annotations

from dataclasses import dataclass

from multigen.models import display_name, kinds


@dataclass(frozen=True)
class Page:
    """One page of the app."""

    key: str  # names the page in code and in session state (its picker is ``checkpoint_<key>``)
    title: str  # the navigation's label and the page's own heading
    file: str  # the script, relative to the app folder
    icon: str  # a Material icon for the navigation
    kinds: tuple[str, ...] = ()  # the kinds of model the page works with (none: it trains them)
    picker: bool = False  # True: the sidebar picks one checkpoint of those kinds for the page
    preferred: tuple[str, ...] = ()  # shipped checkpoints (file stems) the picker lists first, in order
    default: bool = False  # the page the app opens on

    @property
    def models(self) -> str:
        """The kinds it takes as a person reads them: ``VAE or CVAE``."""
        names = [display_name(kind) for kind in self.kinds]
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


PAGES: tuple[Page, ...] = (
    Page("explorer", "Latent explorer", "pages/latent_explorer.py", ":material/scatter_plot:",
         kinds=kinds(encoder=True), picker=True, preferred=("vae-2", "vae-16", "cvae"), default=True),
    Page("generator", "GAN generator", "pages/gan_generator.py", ":material/tune:",
         kinds=kinds(encoder=False), picker=True, preferred=("cgan", "dcgan")),
    Page("compare", "Compare", "pages/compare.py", ":material/compare:", kinds=kinds()),
    Page("writer", "Write a number", "pages/write_number.py", ":material/edit:",
         kinds=kinds(conditional=True), picker=True, preferred=("cgan", "cvae")),
    Page("train", "Train", "pages/train.py", ":material/model_training:"),
)


def page(key: str) -> Page:
    """The page named ``key`` (``"explorer"``, ``"generator"``, ...)."""
    for row in PAGES:
        if row.key == key:
            return row
    raise KeyError(f"No page {key!r}: the pages are {', '.join(row.key for row in PAGES)}.")


def page_for_model(kind: str) -> Page | None:
    """The first page whose checkpoint picker takes a model of ``kind``: where a new run opens."""
    return next((row for row in PAGES if row.picker and kind in row.kinds), None)
