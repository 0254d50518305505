"""The shape every model has: ``draw``, the one path from vectors to digits; the registry's capabilities;
the hooks the trainer calls instead of asking which kind of model it holds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from multigen.errors import MultigenError
from multigen.images import to_uint8
from multigen.models import GenerativeModel, TrainableModel, build_model, display_name, kinds, require_encoder

TINY = {"vae": {"hidden_channels": 4, "hidden_features": 16}, "cvae": {"hidden_channels": 4, "hidden_features": 16},
        "gan": {"noise_dim": 8}, "cgan": {"noise_dim": 8}}


def tiny(kind: str, **config):
    torch.manual_seed(0)
    return build_model(kind, {**TINY[kind], **config}).eval()


def test_the_registry_says_what_each_kind_can_do_in_one_place():
    assert kinds() == ("vae", "cvae", "gan", "cgan")
    assert kinds(encoder=True) == ("vae", "cvae") and kinds(encoder=False) == ("gan", "cgan")
    assert kinds(conditional=True) == ("cvae", "cgan")
    assert [display_name(kind) for kind in kinds()] == ["VAE", "CVAE", "DCGAN", "cGAN"]
    assert display_name("classifier") == "digit classifier"
    for kind in kinds():
        model = tiny(kind)
        assert isinstance(model, GenerativeModel) and model.kind == kind
        assert model.has_encoder == (kind in kinds(encoder=True)) and model.conditional == (kind in kinds(conditional=True))
    classifier = build_model("classifier")
    assert isinstance(classifier, TrainableModel) and not isinstance(classifier, GenerativeModel)
    with pytest.raises(MultigenError, match="encoder"):
        require_encoder(tiny("gan"), "Encoding")


@pytest.mark.parametrize("kind", ["vae", "cvae", "gan", "cgan"])
def test_draw_turns_one_or_many_vectors_into_the_uint8_digits_generate_makes(kind):
    model = tiny(kind)
    z = np.random.default_rng(0).standard_normal((3, model.latent_dim)).astype(np.float32)
    labels = np.array([1, 4, 7])
    images = model.draw(z, labels)
    assert images.shape == (3, 28, 28) and images.dtype == np.uint8
    with torch.no_grad():
        expected = to_uint8(model.generate(torch.from_numpy(z), torch.from_numpy(labels) if model.conditional else None))
    assert np.array_equal(images, expected)
    assert np.array_equal(model.draw(z[1], 4), images[1])  # one vector in, one (28, 28) digit out
    with pytest.raises(MultigenError, match="size"):
        model.draw(np.zeros(model.latent_dim + 1))


@pytest.mark.parametrize("kind", ["cvae", "cgan"])
def test_a_conditional_model_draws_only_with_a_label_and_the_label_changes_the_digit(kind):
    model = tiny(kind)
    z = np.full((1, model.latent_dim), 0.5, np.float32)
    with pytest.raises(MultigenError, match="label"):
        model.draw(z)
    with pytest.raises(MultigenError, match="between 0 and 9"):
        model.draw(z, 10)
    with pytest.raises(MultigenError, match="2 labels for 1"):
        model.draw(z, [1, 2])
    assert not np.array_equal(model.draw(z, 1), model.draw(z, 7))
    assert model.draw(np.zeros((4, model.latent_dim)), np.array([0, 1, 2, 3])).shape == (4, 28, 28)


def test_draw_works_in_batches_larger_than_one_forward_pass(monkeypatch):
    from multigen.models import base

    model = tiny("gan")
    z = np.random.default_rng(1).standard_normal((7, 8)).astype(np.float32)
    whole = model.draw(z)
    monkeypatch.setattr(base, "DRAW_BATCH", 3)
    assert np.array_equal(model.draw(z), whole)


@pytest.mark.parametrize("kind", ["vae", "cgan"])
def test_the_preview_draws_the_same_fixed_noise_every_time_with_the_digits_in_columns(kind):
    model = tiny(kind).train()
    images, labels = model.preview(20, seed=5)
    again, _ = model.preview(20, seed=5)
    assert images.shape == (20, 28, 28) and np.array_equal(images, again) and model.training  # mode restored
    assert (labels is None) == (not model.conditional)
    if labels is not None:
        assert labels.tolist() == [i % 10 for i in range(20)]
    assert build_model("classifier").preview(20, seed=5) is None


def test_only_a_model_with_an_encoder_gives_latent_means_for_the_trainers_map():
    from multigen.data import load_dataset, subset

    digits = subset(load_dataset("mnist-5k", "val"), 30)
    assert tiny("cvae").latent_means(digits).shape == (30, 16)
    assert tiny("gan").latent_means(digits) is None and build_model("classifier").latent_means(digits) is None


def test_the_default_schedule_is_constant_then_falls_linearly_and_the_classifier_decays_by_a_cosine():
    vae = tiny("vae")
    assert vae.learning_rate_factor(50, 100, None) == 1.0
    assert [vae.learning_rate_factor(step, 100, 60) for step in (59, 60, 80, 99)] == [1.0, 1.0, 0.5, 0.025]
    classifier = build_model("classifier")
    assert classifier.learning_rate_factor(0, 100, None) == 1.0
    assert classifier.learning_rate_factor(50, 100, None) == pytest.approx(0.5)
    assert classifier.learning_rate_factor(100, 100, None) == pytest.approx(0.0, abs=1e-12)
