"""How the pages name a data set's classes to a person (the names themselves: ``multigen.data.class_names``)."""

from __future__ import annotations


def label_text(label: int, names: tuple[str, ...]) -> str:
    """``Digit 7`` for the digits, the class name (``Coat``) for other data sets."""
    name = names[label] if 0 <= label < len(names) else str(label)
    return f"Digit {name}" if name.isdigit() else name
