"""Slider ranges that every digit survives: each slider direction's length measured with the digit classifier.

A slider moves a style or noise vector along a direction, and far enough along any direction the vector
leaves the region the model was trained on: the digit breaks into loops and blobs or turns into another
digit. How far is safe differs from direction to direction and model to model (the shipped CVAE keeps
its digits at slant 3 but not at width -3), so it is measured, not guessed. ``slider_scales`` draws
seeded starting vectors (the ones a page starts from), moves each along each direction to both ends of
the slider's range and asks the project's digit classifier (``multigen.evaluation``) whether each digit
is still read as it was at 0: as its label for a conditional model, as the class read at 0 for an
unconditional one (where only digits read at 0 with probability ``CONFIDENT`` or more take part). A
direction keeps the largest length at which its digits stay at or above ``CALIBRATION_SHARE`` at both
ends (found by bisection); then the corners (several sliders at their ends together) are measured and all
directions are shortened by the largest common factor at which every corner passes. The slider's range stays the same on the page; the
direction's length is what the measurement sets (a slider at its end moves the vector ``reach * scale``).

``benchmarks/slider_legibility.py`` checks the result on other seeds, over the whole range, against
``LEGIBLE_SHARE``; its table is in ``benchmarks/README.md``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from multigen.errors import MultigenError

if TYPE_CHECKING:
    from multigen.models import GenerativeModel
    from multigen.models.classifier import DigitClassifier

logger = logging.getLogger(__name__)

LEGIBLE_SHARE = 0.97  # the share of digits a slider may never go below, at any position (issue 19)
CALIBRATION_SHARE = 0.985  # asked of the calibration's own digits: a margin for the digits it never saw
CONFIDENT = 0.9  # an unconditional digit takes part when read at 0 with at least this probability
MIN_KINDS = 8  # of the ten digits, read among an unconditional model's starting digits: else it is not measured
MIN_SCALE = 0.05  # no direction is shortened below this (a slider that still moves a little)
SEARCH_STEPS = 4  # of bisection between MIN_SCALE and 1 in log scale: each step halves the ratio's logarithm
READ_BATCH = 1000  # digits drawn and read at once


# -- helpers ------------------------------------------------------------------------------------------------


def read_digits(
    model: GenerativeModel, z: np.ndarray, labels: np.ndarray | None, classifier: DigitClassifier
) -> tuple[np.ndarray, np.ndarray]:
    """The class the classifier reads in each digit ``model`` draws from ``z`` (n, d), and its probability."""
    classes, probabilities = [], []
    for start in range(0, len(z), READ_BATCH):
        images = model.draw(z[start : start + READ_BATCH], None if labels is None else labels[start : start + READ_BATCH])
        x = torch.from_numpy(images).to(classifier.device).float().div_(255.0)[:, None]
        with torch.no_grad():
            p = torch.softmax(classifier(x).double(), dim=1).cpu()
        best = p.max(dim=1)
        classes.append(best.indices.numpy())
        probabilities.append(best.values.numpy())
    return np.concatenate(classes), np.concatenate(probabilities)


def corners(k: int, *, together: int | None = None) -> np.ndarray:
    """Slider positions (m, k) in {-1, 0, 1} with 2 to ``together`` sliders (default all k) at an end at once."""
    most = k if together is None else min(int(together), k)
    rows = [
        [signs[chosen.index(i)] if i in chosen else 0 for i in range(k)]
        for count in range(2, most + 1)
        for chosen in map(list, itertools.combinations(range(k), count))
        for signs in itertools.product((-1, 1), repeat=count)
    ]
    return np.asarray(rows, dtype=np.float64).reshape(-1, k)


# -- public API -----------------------------------------------------------------------------------------------


def slider_scales(
    model: GenerativeModel,
    directions: np.ndarray,
    starts: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    reach: float,
    together: int | None = None,
    hold: Callable[[np.ndarray], np.ndarray] | None = None,
    corner_starts: int | None = None,
    regrow: bool = False,
    target: float = CALIBRATION_SHARE,
    classifier: DigitClassifier | None = None,
) -> np.ndarray:
    """How far along each direction (k, d) a slider of range +-``reach`` may go: scales (k,) in [MIN_SCALE, 1].

    ``starts`` (n, d) are the vectors a page starts from (with ``labels`` (n,) for a conditional model). At
    scale s a slider's end moves a vector by ``reach * s`` along its direction; the scales are the largest
    (to a factor of about 1.2, by bisection) at which the digits legible at 0 stay legible in at least ``target`` of
    cases at both ends of every slider and at every corner of up to ``together`` sliders at their ends
    (default: all of them), the corners measured on the first ``corner_starts`` legible starts (default: all;
    ten sliders have 180 corners of two). ``hold`` maps a corner (k,) in units of the reach to the setting a page
    applies for it (the GAN page holds its sliders together: ``noise.held_together``); by default, as set.
    The corners shorten every direction by one common factor; with ``regrow`` each direction then takes back, in
    turn, as much of its own length as keeps the corners it is part of passing (a few sliders: each step measures
    those corners again). Deterministic for the same inputs.
    """
    basis = np.asarray(directions, dtype=np.float32)
    vectors = np.asarray(starts, dtype=np.float32)
    if basis.ndim != 2 or vectors.ndim != 2 or basis.shape[1] != vectors.shape[1]:
        raise MultigenError(f"Directions {basis.shape} and starts {vectors.shape} need the same vector size.")
    if model.conditional and (labels is None or len(labels) != len(vectors)):
        raise MultigenError(f"A {model.kind} draws each start as a digit: pass one label per start.")
    if not reach > 0:
        raise MultigenError(f"The slider's reach must be positive, got {reach}.")
    if classifier is None:
        from multigen.evaluation.classifier import load_classifier  # here: multigen.evaluation imports scipy

        classifier = load_classifier()
    tags = None if labels is None else np.asarray(labels, dtype=np.int64)
    read, confidence = read_digits(model, vectors, tags, classifier)
    keep = read == tags if tags is not None else confidence >= CONFIDENT
    if keep.mean() < 0.5:
        raise MultigenError(f"Only {keep.mean():.0%} of the starting digits are legible at 0, too few to measure the "
                            "sliders by: check the checkpoint is trained.")
    kinds = len(np.unique(read[keep]))
    if tags is None and kinds < MIN_KINDS:  # an untrained generator can be read "confidently" as one digit throughout
        raise MultigenError(f"The starting digits are read as {kinds} of the ten digits only, too few to measure the "
                            "sliders by: check the checkpoint is trained.")
    vectors, reference = vectors[keep], read[keep]
    tags = None if tags is None else tags[keep]
    k = len(basis)

    def shares(positions: np.ndarray, scales: np.ndarray, rows: int | None = None) -> np.ndarray:
        """The share of digits read as at 0 at each row of slider positions (m, k) in units of the reach, the
        directions scaled by ``scales`` (k,) or, row by row, (m, k)."""
        offsets = ((positions * scales * reach)[:, :, None] * basis[None]).sum(axis=1)  # (m, d)
        moved = (vectors[None, :rows] + offsets[:, None].astype(np.float32)).reshape(-1, vectors.shape[1])
        found, _ = read_digits(model, moved, None if tags is None else np.tile(tags[:rows], len(positions)), classifier)
        return (found.reshape(len(positions), -1) == reference[:rows]).mean(axis=1)

    # Each direction alone: the largest scale at which both ends pass, by bisection in log scale (what
    # passes at MIN_SCALE is assumed; a direction that passes at 1 is left whole).
    def both_ends_pass(lengths: np.ndarray, which: np.ndarray) -> np.ndarray:
        """Whether each direction in ``which`` keeps its digits at both ends at the given lengths (k,)."""
        picked = np.flatnonzero(which)
        ends = np.concatenate([np.eye(k)[picked], -np.eye(k)[picked]])
        return shares(ends, np.abs(ends) * lengths).reshape(2, -1).min(axis=0) >= target

    low, high = np.full(k, MIN_SCALE), np.ones(k)
    low[both_ends_pass(high, high > 0)] = 1.0
    for _ in range(SEARCH_STEPS):
        open_ = low < high
        if not open_.any():
            break
        middle = np.sqrt(low * high)
        passed = np.zeros(k, dtype=bool)
        passed[open_] = both_ends_pass(middle, open_)
        low = np.where(open_ & passed, middle, low)
        high = np.where(open_ & ~passed, middle, high)
    scales = low
    # Several sliders at their ends together: the largest common factor of those scales at which every corner
    # passes, by the same bisection.
    positions = corners(k, together=together)
    if hold is not None and len(positions):
        positions = np.stack([np.asarray(hold(position), dtype=np.float64) for position in positions])
    if not len(positions):
        return scales
    at_full = shares(positions, scales, corner_starts)
    if at_full.min() >= target:
        return scales
    # A corner that passes with the directions at full length passes with them shorter (what the bisection assumes
    # too): only the failing ones are measured again (the GAN page's 180 pairs: a few).
    failing = positions[at_full < target]
    low, high = MIN_SCALE / scales.min(), 1.0
    for _ in range(SEARCH_STEPS):
        middle = float(np.sqrt(low * high))
        if shares(failing, scales * middle, corner_starts).min() >= target:
            low = middle
        else:
            high = middle
    alone, scales = scales, np.maximum(scales * low, MIN_SCALE)
    if regrow:
        # The common factor is set by the worst corner, which often involves one direction only (the shipped cGAN's
        # slant at -3 with any other at an end): each direction in turn takes back what it can of its own length,
        # the others as they are, while every corner it is part of still passes.
        for i in range(k):
            mine = positions[positions[:, i] != 0]

            def passes(length: float, i: int = i, mine: np.ndarray = mine) -> bool:
                trial = scales.copy()
                trial[i] = length
                return bool(shares(mine, trial).min() >= target)  # on every start: a longer slider, a stricter test

            low, high = scales[i], alone[i]
            if high > low and passes(high):
                low = high
            for _ in range(SEARCH_STEPS if high > low else 0):
                middle = float(np.sqrt(low * high))
                low, high = (middle, high) if passes(middle) else (low, middle)
            scales[i] = low
    return scales


def calibrated(model: GenerativeModel, directions: np.ndarray, *arguments: Any, strict: bool = False,
               **options: Any) -> np.ndarray:
    """``directions`` (k, d) each scaled by ``slider_scales(model, directions, *arguments, **options)``; as they
    are (with a warning) without a classifier or when too few of the model's digits are legible at 0 to measure by,
    unless ``strict`` (for directions to be stored as measured: ``multigen calibrate-sliders``), which raises
    that one-line ``MultigenError`` instead."""
    from multigen.evaluation.classifier import load_classifier

    try:
        scales = slider_scales(model, directions, *arguments, classifier=load_classifier(), **options)
    except MultigenError as error:  # no classifier, or a model too untrained to measure by
        if strict:
            raise
        logger.warning("Slider directions left at full length: %s", error)
        return np.asarray(directions, dtype=np.float32)
    return (np.asarray(directions, dtype=np.float64) * scales[:, None]).astype(np.float32)
