"""Slider lengths measured with a classifier: a stub model whose digit breaks past a known distance, and a stub
classifier that reads the digit it was told only while it is unbroken."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from multigen.errors import MultigenError
from multigen.explore.legibility import MIN_SCALE, corners, slider_scales


class BreakingModel:
    """A conditional 'model' of 3 style numbers: it draws its label (pixel (0, 0) = label), or label + 1 once
    the style leaves ``safe`` (a function of z (n, 3) -> bool (n,))."""

    conditional, kind, latent_dim = True, "stub", 3

    def __init__(self, safe):
        self.safe = safe

    def draw(self, z, labels):
        z, labels = np.asarray(z), np.asarray(labels)
        images = np.zeros((len(z), 28, 28), np.uint8)
        images[:, 0, 0] = np.where(self.safe(z), labels, (labels + 1) % 10)
        return images


class PixelReader(nn.Module):
    """Reads the digit written in pixel (0, 0)."""

    device = torch.device("cpu")

    def forward(self, x):
        return nn.functional.one_hot((x[:, 0, 0, 0] * 255).round().long(), 10).float() * 10


def _starts(n: int = 40):
    z = np.random.default_rng(0).normal(0.0, 0.05, (n, 3)).astype(np.float32)
    return z, np.arange(n) % 10


def test_a_direction_is_shortened_to_where_its_digits_still_read_right_and_a_safe_one_is_left_whole():
    model = BreakingModel(lambda z: np.abs(z[:, 0]) < 1.2)  # breaks 1.2 along the first axis, never along the others
    z, labels = _starts()
    scales = slider_scales(model, np.eye(3), z, labels, reach=3.0, together=1, classifier=PixelReader())
    assert 0.3 < 3.0 * scales[0] < 1.2  # found within the bisection's resolution, on the safe side
    assert scales[1] == scales[2] == 1.0


def test_sliders_that_break_digits_only_together_are_shortened_by_one_common_factor():
    model = BreakingModel(lambda z: np.abs(z[:, 0]) + np.abs(z[:, 1]) < 2.0)  # each alone is safe up to 2
    z, labels = _starts()
    alone = slider_scales(model, np.eye(3), z, labels, reach=1.5, together=1, classifier=PixelReader())
    assert np.array_equal(alone, [1.0, 1.0, 1.0])
    together = slider_scales(model, np.eye(3), z, labels, reach=1.5, classifier=PixelReader())
    assert 1.0 < 1.5 * (together[0] + together[1]) < 2.0
    np.testing.assert_allclose(together / together[0], 1.0)  # the same factor for every direction
    assert together[0] >= MIN_SCALE


def test_corners_are_measured_as_the_page_applies_them_when_it_holds_its_sliders_together():
    """The GAN page applies two sliders at their ends at half each (``noise.held_together``): the pairs are measured
    there, so a model that breaks only past that point shortens the directions, and one that breaks only farther out
    (where held sliders never go) does not."""
    z, labels = _starts()

    def halved(position):
        return position / max(1.0, np.abs(position).sum())

    # Each alone is safe over the whole reach; held, a pair at its ends is at 0.75 each (product 0.56); as set, at 1.5.
    breaks_held = BreakingModel(lambda z: np.abs(z[:, 0] * z[:, 1]) < 0.4)
    breaks_as_set = BreakingModel(lambda z: np.abs(z[:, 0] * z[:, 1]) < 1.0)
    held = slider_scales(breaks_held, np.eye(3), z, labels, reach=1.5, together=2, hold=halved, classifier=PixelReader())
    assert 0.5 < held[0] < 0.85 and np.allclose(held / held[0], 1.0)  # 0.75 s < sqrt(0.4): one common factor
    for model, hold in ((breaks_as_set, halved), (breaks_as_set, None)):
        scales = slider_scales(model, np.eye(3), z, labels, reach=1.5, together=2, hold=hold, classifier=PixelReader())
        assert np.array_equal(scales, [1.0, 1.0, 1.0]) == (hold is not None)


def test_regrow_gives_a_direction_back_its_length_when_only_the_others_break_the_corners():
    """The Write page's slant and thickness at their ends together break digits, width with either does not: the
    common factor shortens all three, ``regrow`` gives width back its whole length."""
    model = BreakingModel(lambda z: np.abs(z[:, 0] * z[:, 1]) < 0.3)
    z, labels = _starts()
    common = slider_scales(model, np.eye(3), z, labels, reach=1.5, classifier=PixelReader())
    regrown = slider_scales(model, np.eye(3), z, labels, reach=1.5, regrow=True, classifier=PixelReader())
    assert common[2] < 0.4 and np.allclose(common / common[0], 1.0)
    assert regrown[2] == 1.0 and (regrown[:2] < 0.45).all()
    assert (2.25 * regrown[0] * regrown[1] < 0.3) and (regrown[:2] >= common[:2]).all()


def test_corners_are_every_choice_of_two_or_more_sliders_at_either_end():
    assert corners(3).shape == (12 + 8, 3) and corners(10, together=2).shape == (180, 10)
    assert corners(1).shape == (0, 1) and corners(3, together=1).shape == (0, 3)
    assert set(np.unique(corners(3))) == {-1.0, 0.0, 1.0} and (np.abs(corners(3)).sum(axis=1) >= 2).all()


def test_a_model_whose_digits_are_unreadable_at_zero_is_refused():
    model = BreakingModel(lambda z: np.zeros(len(z), bool))
    z, labels = _starts()
    with pytest.raises(MultigenError, match="legible"):
        slider_scales(model, np.eye(3), z, labels, reach=3.0, classifier=PixelReader())


def test_an_unconditional_model_that_draws_one_kind_of_digit_is_not_measured():
    """An untrained generator's blobs can be read confidently, all as one digit: no sign of a trained model."""

    class OneDigit(BreakingModel):
        conditional = False

        def draw(self, z, labels):
            return super().draw(z, np.full(len(z), 8))

    z, _ = _starts()
    with pytest.raises(MultigenError, match="read as 1 of the ten digits only"):
        slider_scales(OneDigit(lambda z: np.ones(len(z), bool)), np.eye(3), z, reach=3.0, classifier=PixelReader())
