"""The one training engine: events, control from other threads, exact resume, divergence."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
import torch

from multigen.checkpoints import load_checkpoint, read_metadata
from multigen.data import load_dataset
from multigen.errors import MultigenError
from multigen.training import (
    EpochEnd,
    Finished,
    LatentSnapshot,
    Progress,
    Samples,
    Started,
    Trainer,
    TrainingDiverged,
    resume_config,
    train,
)


def _state(path):
    return {k: v.clone() for k, v in load_checkpoint(path).model.state_dict().items()}


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def _nine_steps(kind: str, small_mnist: dict) -> dict:
    """Settings for one 9-step epoch: mnist-5k in batches of 500, or for the (slower) GANs 900 digits in batches of 100."""
    return {"batch_size": 100, **small_mnist} if kind in ("gan", "cgan") else {"batch_size": 500}


@pytest.mark.parametrize("kind", ["vae", "cvae", "gan", "cgan"])
def test_every_model_trains_through_the_same_loop_and_saves_a_checkpoint(tiny_training_config, small_mnist, kind):
    config = tiny_training_config(kind, **_nine_steps(kind, small_mnist))
    events = list(Trainer(config))
    assert isinstance(events[0], Started) and events[0].total_steps == 9
    progress = [e for e in events if isinstance(e, Progress)]
    assert [e.step for e in progress] == list(range(1, 10)) and all("loss" in e.losses for e in progress)
    assert progress[-1].images_per_second > 0
    samples = [e for e in events if isinstance(e, Samples)]
    assert samples[0].step == 0 and samples[-1].step == 9 and samples[-1].grid.dtype == np.uint8
    assert samples[-1].images.shape == (100, 28, 28)
    snapshots = [e for e in events if isinstance(e, LatentSnapshot)]
    assert bool(snapshots) == (kind in ("vae", "cvae"))
    if snapshots:
        assert snapshots[-1].points.shape == (100, 2) and snapshots[-1].labels.shape == (100,)
    assert isinstance(events[-2], EpochEnd) and isinstance(events[-1], Finished)
    assert events[-1].reason == "completed"
    metadata = read_metadata(config.out)
    assert metadata["kind"] == kind and metadata["epoch"] == 1 and metadata["step"] == 9
    assert metadata["training"]["seed"] == 0 and metadata["history"][0]["epoch"] == 1


def test_the_same_seed_gives_the_same_weights(tiny_training_config, tmp_path):
    a = train(tiny_training_config("vae", batch_size=256, out=str(tmp_path / "a.safetensors")))
    b = train(tiny_training_config("vae", batch_size=256, out=str(tmp_path / "b.safetensors")))
    _assert_same_weights(_state(a), _state(b))


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_resuming_a_stopped_run_gives_the_same_result_as_an_uninterrupted_one(tiny_training_config, small_mnist, tmp_path, kind):
    # Two epochs, stopped in the second.
    epochs, stop_at, size = 2, 12, _nine_steps(kind, small_mnist)
    full = train(tiny_training_config(kind, epochs=epochs, **size, out=str(tmp_path / "full.safetensors")))

    config = tiny_training_config(kind, epochs=epochs, **size, out=str(tmp_path / "part.safetensors"))
    trainer = Trainer(config)
    for event in trainer:
        if isinstance(event, Progress) and event.step == stop_at:
            trainer.stop()
        last = event
    assert last.reason == "stopped" and read_metadata(config.out)["step"] == stop_at

    resumed = train(resume_config(config.out), resume=config.out)
    assert read_metadata(resumed)["step"] == 9 * epochs
    _assert_same_weights(_state(full), _state(resumed))


def test_a_self_conditioned_gan_trains_on_clusters_and_a_resume_keeps_them(tiny_training_config, small_mnist, tmp_path, monkeypatch):
    from multigen import clusters as clustering
    from multigen.models import GAN, build_model

    seen = []
    step = GAN.training_step
    # Any grouping will do here (t-SNE's is tested in tests/test_clusters.py): every third digit.
    monkeypatch.setattr(clustering, "cluster_images", lambda images, k, seed=0: torch.arange(len(images)) % k)

    def spy(self, images, labels, *args, **kwargs):
        seen.append(int(labels.max()))
        return step(self, images, labels, *args, **kwargs)

    monkeypatch.setattr(GAN, "training_step", spy)
    settings = {**_nine_steps("gan", small_mnist), "model_config": {"categorical_code": 3, "cluster_code": True}}
    full = train(tiny_training_config("gan", **settings, out=str(tmp_path / "full.safetensors")))
    clusters = load_checkpoint(full).extra["data/clusters"]
    assert torch.equal(clusters, torch.arange(900) % 3)
    assert max(seen) <= 2  # each step got the digits' cluster ids (0-2), not their labels (0-9)

    config = tiny_training_config("gan", **settings, out=str(tmp_path / "part.safetensors"))
    trainer = Trainer(config)
    for event in trainer:
        if isinstance(event, Progress) and event.step == 5:
            trainer.stop()
    monkeypatch.setattr(clustering, "cluster_images", lambda *args, **kwargs: pytest.fail("a resume must not re-cluster"))
    resumed = train(resume_config(config.out), resume=config.out)
    _assert_same_weights(_state(full), _state(resumed))
    assert torch.equal(load_checkpoint(resumed).extra["data/clusters"], clusters)
    # Ids that cannot be this run's (a damaged file) are refused in one line, not an IndexError mid-run.
    with pytest.raises(MultigenError, match="holds no cluster ids 0-2 for the 900 training digits"):
        build_model("gan", settings["model_config"]).prepare(
            load_dataset(small_mnist["dataset"], "train", data_dir=small_mnist["data_dir"]), saved={"data/clusters": clusters + 1}, seed=0
        )


def test_learning_rates_fall_linearly_to_zero_after_the_epoch_given(tiny_training_config, tmp_path):
    from multigen.models import build_model

    vae = build_model("vae")
    assert [vae.learning_rate_factor(step, 18, 9) for step in (0, 8, 9, 12, 17)] == [1, 1, 1, 6 / 9, 1 / 9]
    # VAE (lr 1e-3), two 9-step epochs, falling after the first: the last step ran at 1/9 of the rate.
    decayed = train(tiny_training_config("vae", batch_size=500, epochs=2, lr_decay_from=1))
    assert load_checkpoint(decayed).optimizer_states["vae"]["param_groups"][0]["lr"] == pytest.approx(1e-3 / 9)
    constant = train(tiny_training_config("vae", batch_size=500, epochs=2, out=str(tmp_path / "constant.safetensors")))
    assert not torch.equal(_state(decayed)["encoder.0.weight"], _state(constant)["encoder.0.weight"])
    with pytest.raises(MultigenError, match="learning rate falls must be a whole number from 0 to 1"):
        tiny_training_config("vae", epochs=2, lr_decay_from=2).validate()


def test_a_run_extended_with_a_falling_learning_rate_is_the_run_that_had_it_from_the_start(tiny_training_config, tmp_path):
    first = tiny_training_config("vae", batch_size=500, epochs=1, out=str(tmp_path / "extended.safetensors"))
    train(first)  # one epoch at a constant rate, then two more, falling during the last
    extended = train(resume_config(first.out, epochs=3, lr_decay_from=2), resume=first.out)
    whole = train(tiny_training_config("vae", batch_size=500, epochs=3, lr_decay_from=2, out=str(tmp_path / "whole.safetensors")))
    _assert_same_weights(_state(whole), _state(extended))
    # Once the rate has started to fall, another schedule would rewrite steps already taken.
    with pytest.raises(MultigenError, match="learning rate already falls"):
        list(Trainer(resume_config(whole, epochs=4), resume=whole))


def test_resume_can_extend_a_finished_run_with_more_epochs(tiny_training_config):
    config = tiny_training_config("vae", batch_size=500)
    train(config)
    longer = resume_config(config.out, epochs=2)
    events = list(Trainer(longer, resume=config.out))
    assert events[0].start_step == 9 and events[-1].step == 18
    assert [h["epoch"] for h in read_metadata(config.out)["history"]] == [1, 2]


def test_resuming_from_an_exported_checkpoint_is_refused_clearly(tiny_training_config, tmp_path):
    from multigen.checkpoints import export_checkpoint

    config = tiny_training_config("vae", batch_size=500)
    train(config)
    exported = export_checkpoint(config.out, tmp_path / "small.safetensors")
    with pytest.raises(MultigenError, match="optimizer state"):
        list(Trainer(config, resume=exported))


def test_pause_holds_the_run_and_resume_continues_it_from_another_thread(tiny_training_config):
    trainer = Trainer(tiny_training_config("vae", batch_size=500))
    steps = []
    paused_at = threading.Event()

    def consume():
        for event in trainer:
            if isinstance(event, Progress):
                steps.append(event.step)
                if event.step == 2:
                    trainer.pause()
                    paused_at.set()

    thread = threading.Thread(target=consume)
    thread.start()
    assert paused_at.wait(60)
    thread.join(0.5)
    assert thread.is_alive() and steps[-1] == 2 and trainer.paused
    trainer.resume()
    thread.join(60)
    assert steps[-1] == 9


def test_a_nan_loss_stops_the_run_with_a_clear_message_and_keeps_the_last_good_checkpoint(tiny_training_config, monkeypatch):
    config = tiny_training_config("vae", epochs=2, batch_size=500)
    from multigen.models.vae import VAE

    original = VAE.training_step
    calls = {"n": 0}

    def poisoned(self, *args, **kwargs):
        calls["n"] += 1
        losses = original(self, *args, **kwargs)
        if calls["n"] == 12:
            losses["loss"] = torch.tensor(float("nan"))
        return losses

    monkeypatch.setattr(VAE, "training_step", poisoned)
    with pytest.raises(TrainingDiverged, match="step 12.*last good checkpoint"):
        list(Trainer(config))
    assert read_metadata(config.out)["epoch"] == 1  # the epoch-1 checkpoint survives
    load_checkpoint(config.out)


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"batch_size": 0}, "batch size"),
        ({"learning_rate": -0.1}, "Learning rate"),
        ({"epochs": 0}, "epochs"),
        ({"latent_dim": 1}, "latent size"),
        ({"model": "flow"}, "Unknown model"),
        ({"device": "tpu"}, "Unknown device"),
    ],
)
def test_invalid_settings_are_refused_in_one_line(tiny_training_config, overrides, message):
    with pytest.raises(MultigenError, match=message) as error:
        Trainer(dataclasses.replace(tiny_training_config("vae"), **overrides))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("kind", ["cvae", "gan"])
def test_each_epoch_logs_cheap_fid_and_inception_score_into_the_checkpoint(tiny_training_config, small_mnist, kind):
    config = tiny_training_config(kind, **_nine_steps(kind, small_mnist), eval_samples=100)
    events = list(Trainer(config))
    epoch_end = next(e for e in events if isinstance(e, EpochEnd))
    assert epoch_end.metrics["fid"] > 0 and 1.0 <= epoch_end.metrics["inception_score"] <= 10.0
    assert ("conditional_accuracy" in epoch_end.metrics) == (kind == "cvae")
    assert ("negative_elbo" in epoch_end.metrics) == (kind == "cvae")
    metadata = read_metadata(config.out)
    assert metadata["history"][0]["fid"] == epoch_end.metrics["fid"]
    assert metadata["metrics"]["inception_score"] == epoch_end.metrics["inception_score"]
