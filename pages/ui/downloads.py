"""The "Download PNG" / "Download recipe" pair of the GAN and Write pages."""

from __future__ import annotations

import json
from typing import Any


def recipe_downloads(
    png: bytes, recipe: dict[str, Any], name: str, *, keys: tuple[str, str], what: str, recipe_help: str,
    scale: int, columns: Any,
) -> None:
    """The picture with its recipe inside, and the recipe alone, as two buttons in ``columns``."""
    png_column, json_column = columns
    png_column.download_button(
        "Download PNG", png, file_name=f"{name}.png", mime="image/png", key=keys[0], on_click="ignore",
        icon=":material/image:", help=f"The {what} enlarged {scale}x, with its recipe inside the file.",
    )
    json_column.download_button(
        "Download recipe", json.dumps(recipe, indent=2), file_name=f"{name}.json", mime="application/json",
        key=keys[1], on_click="ignore", icon=":material/data_object:", help=recipe_help,
    )
