"""Checks of a model config's fields, shared by every config's ``__post_init__``: each field's type and a
range that covers every sensible model and refuses absurd ones (a config read from a file is never
trusted: ``hidden_features: 10**7`` would ask for tens of gigabytes before any weight is compared).
Each raises ``ValueError`` with one line; ``multigen.models.build_model`` turns it into a ``MultigenError``."""

from __future__ import annotations

import math
import numbers
from typing import Any


def whole(name: str, value: Any, low: int, high: int) -> int:
    """A whole number (an int or numpy integer, not a bool, a float or a string) from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}.")
    return int(value)


def number(name: str, value: Any, low: float, high: float, *, above_low: bool = False, below_high: bool = False) -> float:
    """A finite number in [low, high]; ``above_low`` / ``below_high`` leave out that end."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    if value < low or value > high or (above_low and value == low) or (below_high and value == high):
        interval = f"{'(' if above_low else '['}{low:g}, {high:g}{')' if below_high else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value!r}.")
    return float(value)


def flag(name: str, value: Any) -> bool:
    """A true/false setting (JSON's true or false, not 1 or "yes")."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}.")  # noqa: TRY004 - one kind of error per bad field
    return value


def text(name: str, value: Any, max_length: int = 200) -> str:
    """A short string."""
    if not isinstance(value, str) or len(value) > max_length:
        raise ValueError(f"{name} must be a string of at most {max_length} characters, got {str(value)[:40]!r}.")
    return value
