"""The DCGAN and cGAN: the architecture of the seed document, the losses, and learning."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from multigen.data import load_dataset
from multigen.errors import MultigenError
from multigen.models import build_model
from multigen.models.gan import categorical_code, discriminator_loss, generator_loss, with_categorical_code


def test_the_generator_follows_the_dcgan_layout_of_the_seed_document():
    model = build_model("gan")
    linear = model.generator.project[0]
    convs = [m for m in model.generator.net if isinstance(m, nn.ConvTranspose2d)]
    assert (linear.in_features, linear.out_features) == (100, 7 * 7 * 128)
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (128, (5, 5), (1, 1)), (64, (5, 5), (2, 2)), (1, (5, 5), (2, 2))
    ]
    assert isinstance(model.generator.net[-1], nn.Tanh)
    disc = [m for m in model.discriminator.features if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in disc] == [(64, (5, 5), (2, 2)), (128, (5, 5), (2, 2))]
    assert model.discriminator.head.out_features == 1


def test_default_optimizers_are_adam_2e_4_with_betas_0_5_0_999():
    optimizers = build_model("gan").make_optimizers()
    for optimizer in optimizers.values():
        group = optimizer.param_groups[0]
        assert isinstance(optimizer, torch.optim.Adam) and group["lr"] == 2e-4 and group["betas"] == (0.5, 0.999)


@pytest.mark.parametrize("kind", ["gan", "cgan"])
def test_generated_images_are_28x28_in_the_unit_range(kind):
    model = build_model(kind, {"noise_dim": 16}).eval()
    images = model.sample(4, labels=torch.tensor([1, 2, 3, 4]), generator=torch.Generator().manual_seed(0))
    assert images.shape == (4, 1, 28, 28) and 0 <= float(images.min()) and float(images.max()) <= 1
    logits = model.discriminator(images * 2 - 1, torch.tensor([1, 2, 3, 4]) if model.conditional else None)
    assert logits.shape == (4,)


def test_the_cgan_label_changes_the_image_for_the_same_noise():
    torch.manual_seed(0)
    model = build_model("cgan", {"noise_dim": 16}).eval()
    z = torch.randn(1, 16)
    assert not torch.allclose(model.generate(z, torch.tensor([3])), model.generate(z, torch.tensor([8])))


def test_the_losses_are_the_non_saturating_ones_of_goodfellow_et_al():
    logits = torch.tensor([0.0, 2.0])
    assert generator_loss(logits).item() == pytest.approx(-torch.log(torch.sigmoid(logits)).mean().item(), rel=1e-6)
    real, fake = torch.tensor([3.0]), torch.tensor([-3.0])
    expected = -torch.log(torch.sigmoid(real)) - torch.log(1 - torch.sigmoid(fake))
    assert discriminator_loss(real, fake).item() == pytest.approx(expected.item(), rel=1e-5)


def test_a_few_dozen_steps_teach_the_discriminator_and_move_the_generator():
    torch.manual_seed(0)
    train = load_dataset("mnist-5k", "train")
    model = build_model("gan", {"noise_dim": 16})
    optimizers = model.make_optimizers()
    before = {k: v.clone() for k, v in model.generator.state_dict().items()}
    generator = torch.Generator().manual_seed(0)
    losses = [
        model.training_step(train.images[i * 32:(i + 1) * 32], train.labels[i * 32:(i + 1) * 32], optimizers, generator)
        for i in range(25)
    ]
    assert losses[-1]["discriminator"].item() < losses[0]["discriminator"].item()
    assert all(torch.isfinite(v).all() for step in losses for v in step.values())
    moved = [not torch.equal(before[k], v) for k, v in model.generator.state_dict().items() if v.is_floating_point()]
    assert all(moved)


@pytest.mark.parametrize("kind", ["gan", "cgan"])
def test_the_generator_s_step_leaves_the_discriminator_its_own_gradient_and_trainable(kind):
    """The generator's step freezes D's weights (their gradients would be thrown away at D's next step): D's
    gradients after a whole step are those its optimizer stepped with, and its weights stay trainable."""
    torch.manual_seed(0)
    train = load_dataset("mnist-5k", "train")
    model = build_model(kind, {"noise_dim": 16, "categorical_code": 0 if kind == "cgan" else 4})
    optimizers = model.make_optimizers()
    stepped_with = {}
    original_step = optimizers["discriminator"].step

    def recording_step(*args, **kwargs):
        stepped_with.update({name: p.grad.clone() for name, p in model.discriminator.named_parameters()})
        return original_step(*args, **kwargs)

    optimizers["discriminator"].step = recording_step
    model.training_step(train.images[:32], train.labels[:32], optimizers, torch.Generator().manual_seed(0))
    for name, parameter in model.discriminator.named_parameters():
        assert parameter.requires_grad, name
        assert torch.equal(parameter.grad, stepped_with[name]), name
    assert all(p.grad is not None for p in model.generator.parameters())


def test_freezing_the_discriminator_changes_no_weight_the_step_makes(monkeypatch):
    """Frozen or not for the generator's step, one whole step (spectral norm and InfoGAN's Q on) ends with the same
    weights in both networks: only gradients no one uses are skipped."""
    import contextlib

    from multigen.models import gan

    def one_step():
        torch.manual_seed(0)
        train = load_dataset("mnist-5k", "train")
        model = build_model("gan", {"noise_dim": 16, "categorical_code": 4, "spectral_norm": True})
        model.training_step(train.images[:32], train.labels[:32], model.make_optimizers(), torch.Generator().manual_seed(0))
        return {k: v.clone() for k, v in model.state_dict().items()}

    frozen = one_step()
    monkeypatch.setattr(gan, "frozen", contextlib.nullcontext)
    plain = one_step()
    assert frozen.keys() == plain.keys()
    for name in frozen:
        assert torch.allclose(frozen[name], plain[name], rtol=1e-5, atol=1e-7), name


def test_a_gan_with_ema_draws_with_the_running_average_of_its_generator(tmp_path):
    from multigen.checkpoints import load_checkpoint, save_checkpoint

    torch.manual_seed(0)
    model = build_model("gan", {"ema_decay": 0.5})
    optimizers = model.make_optimizers()
    before = model.generator_ema.project[0].weight.clone()
    images = load_dataset("mnist-5k", "val").images[:16]
    model.train()
    model.training_step(images, torch.zeros(16, dtype=torch.long), optimizers, torch.Generator().manual_seed(0))
    live = model.generator.project[0].weight
    # One step with decay 0.5: the average lies half-way between the old weights and the new ones.
    torch.testing.assert_close(model.generator_ema.project[0].weight, (before + live) / 2)
    assert not any(p.requires_grad for p in model.generator_ema.parameters())
    z = torch.randn(4, 100, generator=torch.Generator().manual_seed(1))
    model.eval()
    drawn = model.generate(z)
    torch.testing.assert_close(drawn, (model.generator_ema(z) + 1) / 2)
    assert not torch.allclose(drawn, (model.generator(z) + 1) / 2)
    save_checkpoint(tmp_path / "ema.safetensors", model)
    loaded = load_checkpoint(tmp_path / "ema.safetensors").model
    torch.testing.assert_close(loaded.generate(z), drawn)  # the average travels in the checkpoint
    with pytest.raises(MultigenError, match="ema_decay must be in"):
        build_model("gan", {"ema_decay": 1.0})


def test_spectral_norm_holds_each_discriminator_layer_at_unit_gain_and_survives_a_checkpoint(tmp_path):
    from multigen.checkpoints import load_checkpoint, save_checkpoint

    torch.manual_seed(0)
    model = build_model("cgan", {"spectral_norm": True, "noise_dim": 16})
    optimizers = model.make_optimizers()
    data = load_dataset("mnist-5k", "val")
    generator = torch.Generator().manual_seed(0)
    for start in range(0, 64, 16):  # power iteration sharpens its estimate with each training forward pass
        model.training_step(data.images[start:start + 16], data.labels[start:start + 16], optimizers, generator)
    discriminator = model.discriminator
    layers = [discriminator.features[0], discriminator.features[3], discriminator.head]
    for layer in layers:
        sigma = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2)
        assert float(sigma) == pytest.approx(1.0, abs=0.1)
    assert not hasattr(build_model("gan").discriminator.head, "parametrizations")  # off by default
    save_checkpoint(tmp_path / "sn.safetensors", model.eval())
    loaded = load_checkpoint(tmp_path / "sn.safetensors").model
    images, labels = data.images[:4] * 2 - 1, data.labels[:4]
    torch.testing.assert_close(loaded.discriminator(images, labels), model.discriminator(images, labels))


def test_the_discriminator_can_have_its_own_learning_rate_two_time_scales():
    optimizers = build_model("gan", {"learning_rate": 1e-4, "discriminator_learning_rate": 4e-4}).make_optimizers()
    assert optimizers["generator"].param_groups[0]["lr"] == 1e-4
    assert optimizers["discriminator"].param_groups[0]["lr"] == 4e-4
    with pytest.raises(MultigenError, match=r"discriminator_learning_rate must be in \[0, 1\]"):
        build_model("gan", {"discriminator_learning_rate": -1.0})


def test_infogan_code_is_read_from_the_noise_and_every_category_is_equally_likely():
    z = torch.randn(20_000, 16, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(categorical_code(z, 10), minlength=10)
    assert int(counts.min()) > 1_800 and int(counts.max()) < 2_200  # 2,000 each, give or take
    model = build_model("gan", {"noise_dim": 16, "categorical_code": 10}).eval()
    assert model.generator.project[0].in_features == 16 + 10
    one = torch.zeros(1, 16)
    one[0, 3] = 0.5  # category 3 ...
    other = one.clone()
    other[0, 7] = 0.6  # ... and the same vector a little moved, now category 7: another one-hot, another digit
    with torch.no_grad():
        assert not torch.allclose(model.generate(one), model.generate(other), atol=1e-3)


def test_infogan_learns_to_read_its_code_back_from_what_it_draws(tmp_path):
    from multigen.checkpoints import load_checkpoint, save_checkpoint

    torch.manual_seed(0)
    model = build_model("gan", {"noise_dim": 8, "categorical_code": 4})
    optimizers = model.make_optimizers()
    data = load_dataset("mnist-5k", "val")
    generator = torch.Generator().manual_seed(0)
    information = []
    for step in range(40):
        rows = slice((step * 16) % 480, (step * 16) % 480 + 16)  # the validation split holds 500 digits
        losses = model.training_step(data.images[rows], data.labels[rows], optimizers, generator)
        information.append(float(losses["information"]))
    # -log Q(c | G(z)) starts at log 4 (Q guesses) and falls as G draws each code so that Q can tell it.
    assert information[0] == pytest.approx(torch.log(torch.tensor(4.0)).item(), abs=0.3)
    assert sum(information[-5:]) / 5 < 0.5 * information[0]
    save_checkpoint(tmp_path / "info.safetensors", model.eval())
    loaded = load_checkpoint(tmp_path / "info.safetensors").model
    z = torch.randn(6, 8, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(loaded.generate(z), model.generate(z))
    plain = build_model("gan", {"noise_dim": 8})
    assert "information" not in plain.training_step(data.images[:16], data.labels[:16], plain.make_optimizers())


@pytest.mark.parametrize("categories", [1, 9, -2])
def test_an_infogan_code_needs_two_categories_and_room_in_the_noise(categories):
    with pytest.raises(MultigenError, match="categorical_code must be (0|a whole number from 0 to 64)"):
        build_model("gan", {"noise_dim": 8, "categorical_code": categories})


def test_a_code_put_into_noise_keeps_its_values_and_moves_only_the_largest():
    z = torch.randn(200, 12, generator=torch.Generator().manual_seed(3))
    wanted = torch.arange(200) % 5
    coded = with_categorical_code(z, wanted, 5)
    assert torch.equal(categorical_code(coded, 5), wanted)
    assert torch.equal(coded.sort(dim=1).values, z.sort(dim=1).values)  # the same numbers, two swapped at most
    assert torch.equal(coded[:, 5:], z[:, 5:]) and ((coded != z).sum(dim=1) <= 2).all()


def test_the_averaged_generator_gets_batchnorm_statistics_of_its_own_at_each_epoch_end():
    torch.manual_seed(0)
    model = build_model("gan", {"noise_dim": 16, "ema_decay": 0.9})
    optimizers = model.make_optimizers()
    data = load_dataset("mnist-5k", "val")
    generator = torch.Generator().manual_seed(0)
    for start in range(0, 96, 16):
        model.training_step(data.images[start:start + 16], data.labels[start:start + 16], optimizers, generator)
    norm, live = model.generator_ema.net[1], model.generator.net[1]
    torch.testing.assert_close(norm.running_mean, live.running_mean)  # copied at every step
    model.on_epoch_end()
    assert not torch.allclose(norm.running_mean, live.running_mean)
    # The statistics are the averaged generator's own: its activations' mean over fresh noise.
    with torch.no_grad():
        z = torch.randn(2048, 16, generator=torch.Generator().manual_seed(5))
        features = model.generator_ema.net[0](model.generator_ema.project(z).view(-1, 128, 7, 7))
    torch.testing.assert_close(norm.running_mean, features.mean(dim=(0, 2, 3)), atol=0.02, rtol=0.05)
    first = norm.running_mean.clone()
    model.on_epoch_end()  # from fixed noise: the same statistics every time
    torch.testing.assert_close(norm.running_mean, first)
    build_model("gan", {"noise_dim": 16}).on_epoch_end()  # without an average: nothing to do


def test_a_self_conditioned_gan_draws_each_cluster_from_its_code():
    torch.manual_seed(0)
    model = build_model("gan", {"noise_dim": 8, "categorical_code": 2, "cluster_code": True})
    assert model.discriminator.code_head is None and model.discriminator.embed.num_embeddings == 2
    optimizers = model.make_optimizers()
    data = load_dataset("mnist-5k", "val")
    # Two clusters the trainer would have found: the 1s (little ink) and the 0s (much ink).
    rows = torch.cat([torch.nonzero(data.labels == d).flatten()[:48] for d in (1, 0)])
    images, clusters = data.images[rows], (data.labels[rows] == 0).long()
    asked = []

    class Recorded(nn.Module):  # the generator, noting the codes its noise carries
        def forward(self, z, labels=None):
            asked.append(categorical_code(z, 2))
            return model.generator(z, labels)

    networks = {"generator": Recorded(), "discriminator": model.discriminator}
    generator = torch.Generator().manual_seed(0)
    for step in range(40):
        batch = torch.randperm(96, generator=generator)[:16]
        losses = model.training_step(images[batch], clusters[batch], optimizers, generator, networks=networks)
        assert torch.equal(asked[-1], clusters[batch])  # each fake carries its row's real cluster
    assert "information" not in losses  # the discriminator is told the code; there is no Q to read it back
    z = torch.randn(64, 8, generator=torch.Generator().manual_seed(1))
    model.eval()
    with torch.no_grad():
        ink = [model.generate(with_categorical_code(z, c, 2)).mean() for c in (0, 1)]
    # Real 0s carry about twice the ink of real 1s; without the discriminator told the code, the code
    # would have no reason to change the ink at all.
    assert ink[1] > 1.25 * ink[0]  # code 1 draws the 0s' cluster, code 0 the 1s'


def test_a_self_conditioned_gan_needs_a_code_and_no_labels():
    with pytest.raises(MultigenError, match="cluster_code needs a categorical_code"):
        build_model("gan", {"noise_dim": 8, "cluster_code": True})
    with pytest.raises(MultigenError, match="cluster_code is for the unconditional GAN"):
        build_model("cgan", {"noise_dim": 8, "categorical_code": 4, "cluster_code": True})


def test_the_mode_seeking_term_spreads_one_label_s_fakes_over_more_digits():
    """MSGAN (Mao et al., 2019): from the same seed and batches, a cGAN trained with the term draws one label's
    digits further apart than without it."""
    train = load_dataset("mnist-5k", "train")

    def spread(weight: float) -> float:
        torch.manual_seed(0)
        model = build_model("cgan", {"noise_dim": 16, "mode_seeking": weight})
        optimizers, generator = model.make_optimizers(), torch.Generator().manual_seed(0)
        for i in range(8):
            losses = model.training_step(train.images[i * 16:(i + 1) * 16], train.labels[i * 16:(i + 1) * 16],
                                         optimizers, generator)
        assert ("mode_seeking" in losses) == (weight > 0)
        model.eval()
        with torch.no_grad():
            sevens = model.generate(torch.randn(32, 16, generator=torch.Generator().manual_seed(1)), torch.full((32,), 7))
        return torch.pdist(sevens.flatten(1)).mean().item()

    assert spread(5.0) > 1.1 * spread(0.0)


def test_mode_seeking_weight_must_be_a_non_negative_number():
    with pytest.raises(MultigenError, match="mode_seeking"):
        build_model("cgan", {"mode_seeking": -1.0})
