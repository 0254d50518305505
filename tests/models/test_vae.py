"""The VAE and CVAE: shapes, the loss of the paper, and learning on real digits."""

from __future__ import annotations

import pytest
import torch

from multigen.data import load_dataset
from multigen.errors import MultigenError
from multigen.models import build_model, make_config
from multigen.models.vae import vae_loss


@pytest.mark.parametrize("kind", ["vae", "cvae"])
@pytest.mark.parametrize("latent_dim", [2, 128])
def test_encode_decode_and_sample_have_the_documented_shapes(kind, latent_dim):
    torch.manual_seed(0)
    model = build_model(kind, {"latent_dim": latent_dim, "hidden_channels": 4, "hidden_features": 16})
    x, labels = torch.rand(5, 1, 28, 28), torch.arange(5)
    with torch.no_grad():
        mu, logvar = model.encode(x, labels)
    assert mu.shape == logvar.shape == (5, latent_dim)
    z = model.reparameterize(mu, logvar)
    with torch.no_grad():
        images = model.decode(z, labels)
    assert images.shape == (5, 1, 28, 28) and 0 <= float(images.min()) and float(images.max()) <= 1
    samples = model.sample(3, labels=torch.tensor(7), generator=torch.Generator().manual_seed(1))
    assert samples.shape == (3, 1, 28, 28)


def test_sampling_with_the_same_generator_seed_gives_the_same_images():
    model = build_model("vae", {"latent_dim": 4, "hidden_channels": 4, "hidden_features": 16}).eval()
    a = model.sample(4, generator=torch.Generator().manual_seed(5))
    b = model.sample(4, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_the_conditional_vae_refuses_to_decode_without_a_label():
    model = build_model("cvae", {"latent_dim": 2, "hidden_channels": 4, "hidden_features": 16})
    with pytest.raises(ValueError, match="labels"):
        model.decode(torch.zeros(1, 2))


def test_vae_loss_is_bce_plus_closed_form_kl():
    x = torch.rand(3, 1, 28, 28)
    logits = torch.zeros(3, 1, 28, 28)
    mu, logvar = torch.zeros(3, 4), torch.zeros(3, 4)
    loss, reconstruction, kl = vae_loss(logits, x, mu, logvar)
    # With logits 0, p = 0.5: each pixel costs log 2 whatever x is; the KL of N(0, I) to itself is 0.
    assert reconstruction.item() == pytest.approx(784 * torch.log(torch.tensor(2.0)).item(), rel=1e-5)
    assert kl.item() == pytest.approx(0.0, abs=1e-6) and loss.item() == pytest.approx(reconstruction.item())
    _, _, kl_shifted = vae_loss(logits, x, torch.ones(3, 4), logvar)
    assert kl_shifted.item() == pytest.approx(2.0)  # 0.5 * sum(mu^2) = 0.5 * 4


@pytest.mark.parametrize("kind", ["vae", "cvae"])
def test_the_loss_falls_over_a_few_dozen_steps_on_real_digits(kind):
    torch.manual_seed(0)
    train = load_dataset("mnist-5k", "train")
    model = build_model(kind, {"latent_dim": 8, "hidden_channels": 8, "hidden_features": 64})
    optimizers = model.make_optimizers()
    generator = torch.Generator().manual_seed(0)
    losses = []
    for step in range(40):
        rows = torch.arange(step * 32, (step + 1) * 32)
        losses.append(model.training_step(train.images[rows], train.labels[rows], optimizers, generator)["loss"].item())
    assert sum(losses[-5:]) / 5 < 0.75 * sum(losses[:5]) / 5


def test_bad_config_values_are_refused_in_one_line():
    with pytest.raises(MultigenError, match="latent_dim"):
        make_config("vae", {"latent_dim": 1})
    with pytest.raises(MultigenError, match="unknown|Unknown"):
        make_config("vae", {"latentdim": 4})
    with pytest.raises(MultigenError, match="Unknown model kind"):
        build_model("diffusion")
