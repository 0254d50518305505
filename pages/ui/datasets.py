"""What the pages say about a data set: how many digits a split holds and what its classes are called."""

from __future__ import annotations

from multigen.data import load_dataset


def split_size(dataset: str, split: str) -> int:
    """Digits in a split (loads it once per process; ``DatasetUnavailable`` when its files are missing)."""
    return len(load_dataset(dataset, split))


def class_names(dataset: str) -> tuple[str, ...]:
    """The names of a data set's ten classes ("0".."9" for the digits)."""
    return load_dataset(dataset, "val").class_names


def label_text(label: int, names: tuple[str, ...]) -> str:
    """``Digit 7`` for the digits, the class name (``Coat``) for other data sets."""
    name = names[label] if 0 <= label < len(names) else str(label)
    return f"Digit {name}" if name.isdigit() else name
