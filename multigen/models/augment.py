"""Differentiable augmentation of the discriminator's inputs, for GANs trained on few images.

Zhao, Liu, Lin, Zhu & Han, "Differentiable Augmentation for Data-Efficient GAN Training", NeurIPS 2020
(DiffAugment). With 4,500 training digits the discriminator starts to tell the training digits from
unseen real ones, and its judgement of the generator suffers. DiffAugment transforms *both* real and
generated images, in the discriminator's and in the generator's step, with operations the generator's
gradient passes through, so the discriminator cannot memorise the training set pixel for pixel while the
generator still learns the untransformed distribution (the transforms are applied to both sides alike).

Two of the paper's transforms fit digits (its colour transforms do not): ``translation`` shifts each
image by up to 1/8 of its size, ``cutout`` blanks a square of half its size. Both fill with the
background, -1 in the generator's tanh range, not the paper's 0 (mid grey on a black page).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("translation", "cutout")  # the transforms, in the order they are applied
TRANSLATION_RATIO = 0.125  # largest shift, as a share of the image size (the paper's 1/8)
CUTOUT_RATIO = 0.5  # side of the blanked square, as a share of the image size (the paper's 1/2)
BACKGROUND = -1.0  # the value of an empty pixel in the generator's tanh range


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"translation,cutout"`` -> ("translation", "cutout"); "" means no augmentation; unknown names raise."""
    names = tuple(name.strip() for name in policy.split(",") if name.strip())
    unknown = [name for name in names if name not in POLICIES]
    if unknown:
        raise ValueError(f"Unknown augmentation {unknown[0]!r}: choose from {', '.join(POLICIES)} (comma separated).")
    if len(set(names)) != len(names):
        raise ValueError(f"Augmentation {policy!r} names a transform twice.")
    return tuple(name for name in POLICIES if name in names)


def random_numbers_needed(policy: str) -> int:
    """How many uniform numbers per image ``diff_augment`` reads (two per transform: a position)."""
    return 2 * len(parse_policy(policy))


def diff_augment(images: torch.Tensor, policy: str, uniforms: torch.Tensor) -> torch.Tensor:
    """Transform each of ``images`` (n, C, H, W) by ``policy``, differentiably.

    ``uniforms`` (n, ``random_numbers_needed(policy)``) in [0, 1) choose each image's shift and square,
    so the caller decides where randomness comes from (a seeded generator, one process's share of it).
    """
    names = parse_policy(policy)
    if not names:
        return images
    if uniforms.shape != (images.shape[0], 2 * len(names)):
        raise ValueError(f"Expected uniforms shaped {(images.shape[0], 2 * len(names))}, got {tuple(uniforms.shape)}.")
    for index, name in enumerate(names):
        pair = uniforms[:, 2 * index : 2 * index + 2]
        images = _translate(images, pair) if name == "translation" else _cutout(images, pair)
    return images


def _translate(images: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Shift each image by whole pixels in [-r, r] down and right, filling the uncovered border with background."""
    n, _, height, width = images.shape
    reach = int(min(height, width) * TRANSLATION_RATIO + 0.5)
    shifts = (uniforms * (2 * reach + 1)).long().clamp_(max=2 * reach) - reach  # (n, 2): rows, columns
    padded = F.pad(images, (reach, reach, reach, reach), value=BACKGROUND)
    rows = torch.arange(height, device=images.device) + reach - shifts[:, :1]  # (n, H) source rows
    cols = torch.arange(width, device=images.device) + reach - shifts[:, 1:]  # (n, W) source columns
    batch = torch.arange(n, device=images.device)[:, None, None]
    # Advanced indices around a slice put their dimensions first: (n, H, W, C) -> (n, C, H, W).
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def _cutout(images: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Blank one square of side H/2 per image (its centre anywhere in the image, so it may be cut by the edge)."""
    _, _, height, width = images.shape
    side = int(min(height, width) * CUTOUT_RATIO + 0.5)
    centres = (uniforms * torch.tensor([height, width], device=images.device)).long()  # (n, 2)
    rows = torch.arange(height, device=images.device)[None, :] - centres[:, :1]  # (n, H)
    cols = torch.arange(width, device=images.device)[None, :] - centres[:, 1:]  # (n, W)
    inside = ((rows >= -(side // 2)) & (rows < side - side // 2))[:, :, None] & (
        (cols >= -(side // 2)) & (cols < side - side // 2)
    )[:, None, :]
    return images.masked_fill(inside[:, None], BACKGROUND)
