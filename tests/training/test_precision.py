"""Mixed precision: bf16 runs the steps under bfloat16 autocast, keeps float32 weights and losses, is chosen by
``auto`` where the chip has bfloat16 units, and a run resumes across precisions."""

from __future__ import annotations

import math

import pytest
import torch

from multigen.checkpoints import load_checkpoint, read_metadata
from multigen.errors import MultigenError
from multigen.training import Progress, Started, Trainer, resume_config, train
from multigen.training import precision as precision_module
from multigen.training.precision import autocast, resolve_precision


def test_auto_picks_bf16_only_where_the_cpu_has_bfloat16_units(monkeypatch):
    monkeypatch.setattr(precision_module, "_cpu_has_bf16_units", lambda: True)
    assert resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(precision_module, "_cpu_has_bf16_units", lambda: False)
    assert resolve_precision("auto", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16" and resolve_precision("fp32", "cpu") == "fp32"  # as asked
    assert resolve_precision("auto", "mps") == "fp32"
    with pytest.raises(MultigenError, match="use --precision fp32"):
        resolve_precision("bf16", "mps")
    with pytest.raises(MultigenError, match="choose one of auto, fp32, bf16"):
        resolve_precision("fp16", "cpu")


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_a_bf16_run_computes_in_bfloat16_keeps_float32_weights_and_losses_and_says_so(tiny_training_config, kind):
    config = tiny_training_config(kind, precision="bf16", batch_size=500 if kind == "vae" else 100)
    seen: dict[str, set] = {"bfloat16": set(), "float32": set()}
    trainer = Trainer(config)
    events = iter(trainer)
    started = next(events)
    assert isinstance(started, Started) and started.precision == "bf16"

    def record(name):
        def hook(_module, _inputs, output):
            if torch.is_grad_enabled():  # a training step, not a preview
                seen["bfloat16" if output.dtype == torch.bfloat16 else "float32"].add(name)
        return hook

    for name, module in trainer.model.named_modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)):
            module.register_forward_hook(record(name))
    steps = [event for event in events if isinstance(event, Progress)]
    assert steps and all(math.isfinite(value) for event in steps for value in event.losses.values())
    if kind == "vae":
        assert seen["bfloat16"] and not seen["float32"]  # every matrix product of the steps in bfloat16
    else:  # the generator in bfloat16; the discriminator's convolutions kept float32 (its quality needs them)
        assert {name for name in seen["float32"]} == {"discriminator.features.0", "discriminator.features.3"}
        assert any(name.startswith("generator.") for name in seen["bfloat16"])
    saved = load_checkpoint(config.out).model
    assert {parameter.dtype for parameter in saved.parameters()} == {torch.float32}
    assert read_metadata(config.out)["precision"] == "bf16"
    assert read_metadata(config.out)["training"]["precision"] == "bf16"


def test_the_losses_are_computed_in_float32_under_autocast():
    from multigen.models.gan import discriminator_loss, generator_loss
    from multigen.models.vae import vae_loss

    with autocast("bf16", "cpu"):
        logits = torch.nn.Linear(4, 784)(torch.randn(8, 4))  # bfloat16 under autocast
        assert logits.dtype == torch.bfloat16
        loss, reconstruction, kl = vae_loss(logits, torch.rand(8, 784), logits[:, :3], logits[:, 3:6])
        assert loss.dtype == reconstruction.dtype == kl.dtype == torch.float32
        assert discriminator_loss(logits[:, :1], logits[:, 1:2]).dtype == torch.float32
        assert generator_loss(logits[:, :1]).dtype == torch.float32


def test_a_run_resumes_in_another_precision(tiny_training_config):
    config = tiny_training_config("vae", batch_size=500, precision="fp32")
    train(config)
    assert read_metadata(config.out)["precision"] == "fp32"
    longer = resume_config(config.out, epochs=2, precision="bf16")
    events = list(Trainer(longer, resume=config.out))
    assert events[0].precision == "bf16" and events[-1].step == 18
    metadata = read_metadata(config.out)
    assert metadata["precision"] == "bf16" and [row["epoch"] for row in metadata["history"]] == [1, 2]
