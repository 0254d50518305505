"""The app's shared training job: one background run, its state read from any thread, waited on."""

from __future__ import annotations

import pytest

from multigen.checkpoints import load_checkpoint, read_metadata
from multigen.training import JobBusy, TrainingJob


def test_the_shared_job_runs_in_the_background_and_refuses_a_second_run(tiny_training_config, tmp_path):
    job = TrainingJob()
    job.start(tiny_training_config("vae", epochs=2, batch_size=500))
    with pytest.raises(JobBusy):
        job.start(tiny_training_config("gan", out=str(tmp_path / "other.safetensors")))
    assert job.wait(120)
    state = job.state()
    assert state.status == "finished" and state.step == 18 and state.fraction == 1.0
    assert len(state.losses) == 18 and len(state.epoch_history) == 2 and state.grids and state.latent is not None
    assert load_checkpoint(state.checkpoint).kind == "vae"
    job.start(tiny_training_config("vae", batch_size=500, out=str(tmp_path / "again.safetensors")))  # free again
    assert job.wait(120) and job.state().status == "finished"


def test_stopping_the_job_saves_a_checkpoint(tiny_training_config):
    job = TrainingJob()
    config = tiny_training_config("gan", epochs=50, batch_size=500)
    job.start(config)
    assert job.wait_until(lambda state: state.step >= 2, 60)
    job.stop()
    assert job.wait(60)
    state = job.state()
    assert state.status == "stopped" and 2 <= state.step < 450
    assert read_metadata(config.out)["step"] == state.step


def test_a_failing_run_reports_its_error_in_the_job_state(tiny_training_config, tmp_path):
    job = TrainingJob()
    job.start(tiny_training_config("vae", dataset="fashion-mnist", data_dir=str(tmp_path / "empty")))
    assert job.wait(60)
    state = job.state()
    assert state.status == "failed" and "mnist-5k" in state.error and not state.active


def test_waiting_on_the_job_wakes_when_its_state_changes_and_times_out_when_it_never_does(tiny_training_config):
    job = TrainingJob()
    assert not job.wait_until(lambda state: state.status == "running", 0.2)  # no run: nothing ever changes
    job.start(tiny_training_config("vae", epochs=50, sample_every=2))
    assert job.wait_until(lambda state: len(state.grids) >= 2 and state.status == "running", 60)
    job.pause()
    assert job.wait_until(lambda state: state.status == "paused", 5)
    held = job.state().step
    assert not job.wait_until(lambda state: state.step > held + 1, 1.0)  # a paused run takes at most the step it was in
    job.resume()
    assert job.wait_until(lambda state: state.step > held + 1, 60)
    job.stop()
    assert job.wait_until(lambda state: not state.active, 60) and job.state().status == "stopped"
