"""The copy check of the GAN and Write pages: the nearest training digits of what a model drew."""

from __future__ import annotations

import numpy as np

from multigen.checkpoints import Checkpoint
from multigen.evaluation import NearestDigits, nearest_training_digits
from multigen.evaluation.perceptual import COPY_PERCENTILE, TRAINING_DATASET


def nearest_training(checkpoint: Checkpoint, images: np.ndarray, k: int) -> NearestDigits:
    """The ``k`` nearest training digits of each image, with its copy threshold.

    Raises ``MultigenError`` when the model was trained on another data set than the one searched, or
    when the digit classifier is missing; the pages show that as a line and draw everything else.
    """
    return nearest_training_digits(images, k=k, trained_on=checkpoint.metadata.get("dataset"))


def copy_check_note() -> str:
    """What the distances to the nearest training digits mean, for the caption under them."""
    return (
        f"Perceptual distances to the training digits of {TRAINING_DATASET} (0: the same picture; LPIPS-style, on "
        f"the digit classifier). A digit is a possible copy when it is closer to a training digit than all but "
        f"{COPY_PERCENTILE:g}% of real digits that no model saw are to one of their kind."
    )
