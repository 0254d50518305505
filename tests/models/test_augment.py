"""DiffAugment for the GANs: what each transform does to a digit, and that it reaches only the discriminator."""

from __future__ import annotations

import pytest
import torch

from multigen.data import load_dataset
from multigen.errors import MultigenError
from multigen.models import build_model
from multigen.models.augment import BACKGROUND, diff_augment, parse_policy, random_numbers_needed


def _dot(n: int = 1, row: int = 14, col: int = 14) -> torch.Tensor:
    images = torch.full((n, 1, 28, 28), BACKGROUND)
    images[:, :, row, col] = 1.0
    return images


def test_translation_moves_each_digit_by_its_own_whole_pixel_shift_up_to_an_eighth_of_the_image():
    # u = 0 -> the largest shift up/left (-4 pixels on 28), u -> 1 the largest down/right, 0.5 none.
    uniforms = torch.tensor([[0.0, 0.999], [0.5, 0.5], [0.999, 0.0]])
    moved = diff_augment(_dot(3), "translation", uniforms)
    assert [(m[0] == 1).nonzero().tolist() for m in moved] == [[[10, 18]], [[14, 14]], [[18, 10]]]
    # What comes in at the border is background, not the paper's mid grey.
    edge = diff_augment(torch.ones(1, 1, 28, 28), "translation", torch.tensor([[0.999, 0.999]]))[0, 0]
    assert (edge[:4] == BACKGROUND).all() and (edge[:, :4] == BACKGROUND).all() and (edge[4:, 4:] == 1).all()


def test_cutout_blanks_one_square_of_half_the_image_and_nothing_else():
    images = torch.ones(2, 1, 28, 28)
    cut = diff_augment(images, "cutout", torch.tensor([[0.5, 0.5], [0.0, 0.0]]))
    assert int((cut[0] == BACKGROUND).sum()) == 14 * 14  # centred: the whole square inside
    assert (cut[0, 0, 7:21, 7:21] == BACKGROUND).all()
    assert int((cut[1] == BACKGROUND).sum()) == 7 * 7  # centred on a corner: a quarter of it


def test_the_generator_gradient_passes_through_the_transforms():
    images = torch.rand(4, 1, 28, 28, requires_grad=True)
    uniforms = torch.rand(4, random_numbers_needed("translation,cutout"), generator=torch.Generator().manual_seed(0))
    diff_augment(images, "translation,cutout", uniforms).sum().backward()
    kept = images.grad.sum(dim=(1, 2, 3))
    # Each pixel still shown carries a gradient of 1; shifted-out and blanked pixels none.
    assert ((kept > 0) & (kept < 28 * 28)).all() and set(images.grad.unique().tolist()) <= {0.0, 1.0}


def test_policies_are_checked_and_written_in_one_order():
    assert parse_policy(" cutout, translation ") == ("translation", "cutout")
    assert parse_policy("") == () and random_numbers_needed("") == 0
    with pytest.raises(ValueError, match="Unknown augmentation 'color'"):
        parse_policy("translation,color")
    assert build_model("gan", {"augment": "cutout,translation"}).config.augment == "translation,cutout"
    with pytest.raises(MultigenError, match="Invalid cgan config: Unknown augmentation 'flip'"):
        build_model("cgan", {"augment": "flip"})


@pytest.mark.parametrize("kind", ["gan", "cgan"])
def test_the_discriminator_sees_transformed_real_and_fake_digits_and_a_seeded_run_repeats(kind):
    images = load_dataset("mnist-5k", "val").images[:16]
    labels = load_dataset("mnist-5k", "val").labels[:16]

    def step(augment: str) -> tuple[list[torch.Tensor], torch.Tensor]:
        torch.manual_seed(0)
        model = build_model(kind, {"noise_dim": 16, "augment": augment})
        seen = []
        model.discriminator.register_forward_pre_hook(lambda _, args: seen.append(args[0].detach().clone()))
        model.training_step(images, labels, model.make_optimizers(), torch.Generator().manual_seed(0))
        return seen, model.generator.project[0].weight.detach().clone()

    plain, plain_weights = step("")
    augmented, weights = step("translation,cutout")
    again, weights_again = step("translation,cutout")
    real = images * 2 - 1
    assert torch.equal(plain[0], real)  # without a policy the discriminator sees the digits as they are
    assert len(augmented) == 3  # real, fake (discriminator step), fake (generator step)
    assert not torch.equal(augmented[0], real)
    blanked = (augmented[0] == BACKGROUND).flatten(1).sum(1) - (real == BACKGROUND).flatten(1).sum(1)
    assert int((blanked > 0).sum()) >= 12  # nearly every real digit lost ink to the shift or the square
    assert not torch.equal(augmented[1], augmented[2])  # fresh draws in the generator's step
    assert all(torch.equal(a, b) for a, b in zip(augmented, again)) and torch.equal(weights, weights_again)
    assert not torch.equal(weights, plain_weights)
