"""A VAE's latent space: encoding a data set, reconstructing digits, walks and the manifold grid."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from multigen.errors import MultigenError
from multigen.explore.latent import encode_dataset, interpolate, manifold_grid, reconstruct
from multigen.images import to_uint8

# -- encode and reconstruct ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["vae", "cvae"])
def test_encode_dataset_keeps_rows_aligned_with_labels_and_images(digits, kind, tiny_vae):
    model = tiny_vae(kind, 3)
    codes = encode_dataset(model, digits, batch_size=7)  # batches that do not divide 100
    assert codes.mu.shape == codes.logvar.shape == (100, 3) and codes.mu.dtype == np.float32
    assert np.array_equal(codes.labels, digits.labels.numpy()) and codes.labels.dtype == np.int64
    assert codes.images.shape == (100, 28, 28) and codes.images.dtype == np.uint8
    assert np.array_equal(codes.images, to_uint8(digits.images))
    for row in (0, 42, 99):  # each row's code is that row's image encoded on its own
        labels = digits.labels[row : row + 1] if model.conditional else None
        with torch.no_grad():
            mu, _ = model.encode(digits.images[row : row + 1], labels)
        np.testing.assert_allclose(codes.mu[row], mu[0].numpy(), atol=1e-5)


def test_reconstruct_returns_the_decoded_posterior_mean_in_the_shape_it_was_given(digits, tiny_vae):
    model = tiny_vae("vae", 4)
    originals = to_uint8(digits.images[:5])
    out = reconstruct(model, originals)
    assert out.shape == (5, 28, 28) and out.dtype == np.uint8
    with torch.no_grad():
        mu, _ = model.encode(torch.from_numpy(originals.astype(np.float32) / 255).unsqueeze(1))
    assert np.array_equal(out, model.draw(mu.numpy()))
    assert reconstruct(model, originals[0]).shape == (28, 28)


# -- walks and grids --------------------------------------------------------------------------------


def test_interpolate_walks_a_straight_line_including_both_endpoints():
    z0, z1 = np.array([0.0, 1.0, -2.0]), np.array([4.0, 1.0, 2.0])
    path = interpolate(z0, z1, steps=5)
    assert path.shape == (5, 3) and path.dtype == np.float32
    assert np.array_equal(path[0], z0) and np.array_equal(path[-1], z1)
    np.testing.assert_allclose(path[2], (z0 + z1) / 2)
    with pytest.raises(MultigenError):
        interpolate(z0, z1, steps=1)


def test_manifold_grid_is_one_picture_with_the_highest_y_in_the_top_row(tiny_vae):
    model = tiny_vae("vae", 2)
    grid = manifold_grid(model, (-2.0, 2.0), (-1.0, 3.0), n=4)
    assert grid.shape == (4 * 28, 4 * 28) and grid.dtype == np.uint8
    top_left = model.draw(np.array([-2.0, 3.0]))
    bottom_right = model.draw(np.array([2.0, -1.0]))
    assert np.array_equal(grid[:28, :28], top_left) and np.array_equal(grid[-28:, -28:], bottom_right)
    with pytest.raises(MultigenError, match="latent_dim=2"):
        manifold_grid(tiny_vae("vae", 4), (-1, 1), (-1, 1))


def test_manifold_grid_of_a_conditional_vae_draws_the_chosen_digit_label(tiny_vae):
    model = tiny_vae("cvae", 2)
    assert not np.array_equal(manifold_grid(model, (-1, 1), (-1, 1), n=3, labels=2),
                              manifold_grid(model, (-1, 1), (-1, 1), n=3, labels=8))
    with pytest.raises(MultigenError, match="label"):
        manifold_grid(model, (-1, 1), (-1, 1), n=3)


def test_prior_latents_are_seeded_and_come_from_the_fitted_prior_when_the_model_has_one():
    from multigen.explore.latent import prior_latents
    from multigen.explore.noise import noise_vector
    from multigen.models import build_model
    from multigen.models.prior import fit_mixture

    model = build_model("vae", {"latent_dim": 3, "hidden_channels": 4, "hidden_features": 16}).eval()
    standard = prior_latents(model, 5, seed=7)
    assert standard.dtype == np.float32 and np.array_equal(standard, noise_vector(7, 15).reshape(5, 3))
    model.fitted_prior = fit_mixture(np.random.default_rng(0).normal(5.0, 0.1, (100, 3)), components=2)
    fitted = prior_latents(model, 5, seed=7)
    assert np.array_equal(fitted, prior_latents(model, 5, seed=7)) and np.allclose(fitted, 5.0, atol=1.0)
    assert np.array_equal(prior_latents(model, 5, seed=7, prior="standard"), standard)
    assert model.draw(fitted).shape == (5, 28, 28)
