"""Fused optimizers: the trainer's Adam runs PyTorch's fused kernel, keeps every setting of the model's own, steps
as the plain one does, and resumes from a checkpoint written by a plain one."""

from __future__ import annotations

import torch

from multigen.checkpoints import load_checkpoint
from multigen.models import build_model
from multigen.training import Trainer, resume_config, train
from multigen.training.kernels import fused_optimizers


def test_fused_optimizers_keep_the_models_settings_and_step_as_the_plain_ones():
    torch.manual_seed(0)
    plain_model = build_model("gan", {"noise_dim": 8, "learning_rate": 1e-4, "discriminator_learning_rate": 4e-4})
    fused_model = build_model("gan", {"noise_dim": 8})
    fused_model.load_state_dict(plain_model.state_dict())
    fused_model.config = plain_model.config  # the same TTUR rates and betas
    plain = plain_model.make_optimizers()
    fused = fused_optimizers(fused_model.make_optimizers(), "cpu")
    for name, optimizer in fused.items():
        group, reference = optimizer.param_groups[0], plain[name].param_groups[0]
        assert group["fused"] is True and type(optimizer) is torch.optim.Adam
        assert (group["lr"], group["betas"], group["eps"]) == (reference["lr"], reference["betas"], reference["eps"])
    assert fused["discriminator"].param_groups[0]["lr"] == 4e-4
    # Three steps on the same gradients (seeded, of ordinary size). A chain of GAN training steps would compare the
    # forward passes too, and Adam's first steps turn last-bit differences of near-zero gradients into whole
    # learning-rate steps (with one thread, 2e-5 apart after three).
    start = {name: parameter.detach().clone() for name, parameter in plain_model.named_parameters()}
    for step in range(3):
        for model, optimizers in ((plain_model, plain), (fused_model, fused)):
            gradients = torch.Generator().manual_seed(step)
            for parameter in model.parameters():
                parameter.grad = torch.randn(parameter.shape, generator=gradients)
            for optimizer in optimizers.values():
                optimizer.step()
    moves = {"generator": [], "discriminator": []}
    for (name, a), b in zip(plain_model.named_parameters(), fused_model.parameters()):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-6), name  # the same arithmetic, in one kernel
        moves[name.split(".")[0]].append((a - start[name]).abs().flatten())
    ratio = torch.cat(moves["discriminator"]).mean() / torch.cat(moves["generator"]).mean()
    assert 3.5 < ratio < 4.5  # each network at its own rate (TTUR: 4e-4 and 1e-4)


def test_an_optimizer_without_a_fused_kernel_or_a_device_without_one_is_left_as_it_is():
    weight = torch.nn.Parameter(torch.zeros(3))
    rmsprop = {"model": torch.optim.RMSprop([weight])}
    assert fused_optimizers(rmsprop, "cpu")["model"] is rmsprop["model"]
    adam = {"model": torch.optim.Adam([weight])}
    assert fused_optimizers(adam, "meta")["model"] is adam["model"]


def test_the_trainer_fuses_its_optimizers_and_resumes_a_plain_run_where_it_stopped(tiny_training_config, monkeypatch):
    import multigen.training.trainer as trainer_module

    made = []

    def spy(optimizers, device):
        made.append(fused := fused_optimizers(optimizers, device))
        return fused

    def plain(optimizers, device):
        return optimizers

    settings = {"batch_size": 500, "precision": "fp32"}
    monkeypatch.setattr(trainer_module, "fused_optimizers", plain)
    whole = tiny_training_config("vae", epochs=2, out=str(tiny_training_config().out).replace("vae.", "whole."), **settings)
    train(whole)  # two epochs with plain Adam
    first = tiny_training_config("vae", epochs=1, **settings)
    train(first)  # the first of them, with plain Adam, saved
    monkeypatch.setattr(trainer_module, "fused_optimizers", spy)
    list(Trainer(resume_config(first.out, epochs=2), resume=first.out))  # the second, fused, from the saved state
    assert made and all(group["fused"] for optimizer in made[0].values() for group in optimizer.param_groups)
    expected, resumed = load_checkpoint(whole.out).model, load_checkpoint(first.out).model
    for (name, a), b in zip(expected.named_parameters(), resumed.parameters()):
        assert torch.allclose(a, b, atol=1e-4), name  # Adam's moments and step count carried over
