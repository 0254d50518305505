"""Fixtures of the explore tests: tiny seeded VAEs and 100 validation digits."""

from __future__ import annotations

import pytest
import torch

from multigen.data import load_dataset, subset
from multigen.explore.latent import LatentCodes, encode_dataset
from multigen.models import build_model

TINY_VAE = {"hidden_channels": 4, "hidden_features": 16}


@pytest.fixture(scope="session")
def tiny_vae():
    """A factory of tiny seeded VAEs / CVAEs in eval mode: ``tiny_vae(kind, latent_dim)``."""

    def make(kind: str, latent_dim: int = 2):
        torch.manual_seed(0)
        return build_model(kind, {"latent_dim": latent_dim, **TINY_VAE}).eval()

    return make


@pytest.fixture(scope="module")
def digits():
    return subset(load_dataset("mnist-5k", "val"), 100)


@pytest.fixture(scope="module")
def codes4(digits, tiny_vae) -> LatentCodes:
    return encode_dataset(tiny_vae("vae", 4), digits)
