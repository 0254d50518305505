"""Training on several processes: torchrun with the gloo backend, two processes on this CPU."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from multigen.checkpoints import describe_checkpoint, load_checkpoint, read_metadata
from multigen.distributed import SINGLE_PROCESS, Shard
from multigen.errors import MultigenError
from multigen.models import build_model
from multigen.training import Trainer, resume_config, train

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("distributed_worker.py")


def _torchrun(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc-per-node=2 ARGS`` (a free port each time), one thread per process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "MULTIGEN_OFFLINE": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _config(tiny_training_config, kind: str, **overrides) -> dict:
    # float32: the comparison with one process is exact to 1e-4 only there (bfloat16 sums the halves differently)
    config = tiny_training_config(kind, batch_size=500, sample_every=1000, precision="fp32", **overrides)
    return {**config.__dict__}


def _run_group(config: dict, out: Path, *stop: int) -> list[dict]:
    result = _torchrun(str(WORKER), json.dumps(config), str(out), *map(str, stop))
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads((out / f"rank{rank}.json").read_text()) for rank in (0, 1)]


def test_a_global_batch_is_split_evenly_and_noise_is_the_slice_of_one_process_noise():
    first, second = Shard(0, 2), Shard(1, 2)
    rows = torch.arange(8)
    assert first.rows(rows).tolist() == [0, 1, 2, 3] and second.rows(rows).tolist() == [4, 5, 6, 7]
    whole = SINGLE_PROCESS.randn(8, 3, generator=torch.Generator().manual_seed(5), device=torch.device("cpu"))
    halves = [s.randn(4, 3, generator=torch.Generator().manual_seed(5), device=torch.device("cpu")) for s in (first, second)]
    assert torch.equal(torch.cat(halves), whole)
    whole = SINGLE_PROCESS.rand(8, 2, generator=torch.Generator().manual_seed(5), device=torch.device("cpu"))
    halves = [s.rand(4, 2, generator=torch.Generator().manual_seed(5), device=torch.device("cpu")) for s in (first, second)]
    assert torch.equal(torch.cat(halves), whole)  # augmentation draws (uniform) follow the same rule


def test_two_gloo_processes_end_with_the_same_weights_as_one_process_on_the_same_global_batch(tmp_path, tiny_training_config):
    config = _config(tiny_training_config, "cvae", out=str(tmp_path / "group.safetensors"))
    reports = _run_group(config, tmp_path)
    assert [(r["world_size"], r["backend"], r["reason"], r["step"]) for r in reports] == [(2, "gloo", "completed", 9)] * 2
    ranks = [load_file(str(tmp_path / f"rank{rank}.safetensors")) for rank in (0, 1)]
    single = Trainer(tiny_training_config("cvae", batch_size=500, sample_every=1000, precision="fp32",
                                          out=str(tmp_path / "one.safetensors")))
    list(single)
    reference = single.model.state_dict()
    for name, tensor in reference.items():
        assert torch.equal(ranks[0][name], ranks[1][name]), f"{name} differs between the two processes"
        torch.testing.assert_close(ranks[0][name], tensor, rtol=1e-4, atol=1e-5, msg=f"{name} differs from one process")
    assert read_metadata(config["out"])["world_size"] == 2  # rank 0 wrote the checkpoint
    torch.manual_seed(0)  # the trainer's seed: these are the weights before the first step
    initial = build_model("cvae", single.config.model_settings()).state_dict()
    assert not torch.equal(ranks[0]["to_mu.weight"], initial["to_mu.weight"])  # they did train


def test_a_gan_stopped_by_one_process_stops_everywhere_after_the_same_step_with_the_same_weights(
    tmp_path, tiny_training_config, small_mnist
):
    # A self-conditioned GAN: rank 0 finds the clusters and every process must train on them.
    config = _config(tiny_training_config, "gan", out=str(tmp_path / "stopped.safetensors"), **small_mnist,
                     model_config={"categorical_code": 4, "cluster_code": True})
    config["batch_size"] = 100
    reports = _run_group(config, tmp_path, 1, 3)  # rank 1 asks to stop after step 3
    assert {(r["reason"], r["step"]) for r in reports} == {("stopped", 4)}
    saved = load_checkpoint(config["out"])
    assert saved.metadata["step"] == 4  # rank 0 saved on the way out
    ranks = [load_file(str(tmp_path / f"rank{rank}.safetensors")) for rank in (0, 1)]
    for name in ranks[0]:  # generator and discriminator both, BatchNorm running statistics included
        assert torch.equal(ranks[0][name], ranks[1][name]), f"{name} differs between the two processes"
    clusters = saved.extra["data/clusters"]
    assert clusters.shape == (900,) and set(clusters.tolist()) == {0, 1, 2, 3}
    assert [r["clusters"] for r in reports] == [clusters.tolist()] * 2  # process 1 trained on rank 0's


def test_torchrun_trains_from_the_cli_and_the_checkpoint_resumes_on_one_process(tmp_path):
    out = tmp_path / "vae.safetensors"
    result = _torchrun("-m", "multigen", "train", "--model", "vae", "--latent-dim", "2", "--epochs", "1",
                       "--batch-size", "500", "--eval-samples", "0", "--device", "cpu", "--quiet", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 processes (gloo)" in result.stderr and "Global batch 500 = 2 processes x 250" in result.stderr
    assert result.stdout.count("completed:") == 1  # rank 0 alone reports
    metadata = read_metadata(out)
    assert metadata["world_size"] == 2 and metadata["step"] == 9
    assert describe_checkpoint(metadata) == "VAE, latent 2, epoch 1, mnist-5k, 2 processes"  # as the pickers show it
    model = load_checkpoint(out).model
    assert model.sample(4, generator=torch.Generator().manual_seed(0)).shape == (4, 1, 28, 28)

    train(resume_config(out, epochs=2), resume=out)  # this one process continues the 2-process run
    metadata = read_metadata(out)
    assert metadata["world_size"] == 1 and metadata["step"] == 18 and len(metadata["history"]) == 2


def test_a_batch_that_does_not_split_over_the_processes_is_refused_before_training(tiny_training_config):
    with pytest.raises(MultigenError, match="The batch size 63 does not split evenly over 2 processes: use a multiple of 2"):
        Trainer(tiny_training_config("vae", batch_size=63), shard=Shard(1, 2, backend="gloo"))


def test_ctrl_c_on_torchrun_stops_every_process_after_one_step_and_rank_0_saves(tmp_path):
    out = tmp_path / "interrupted.safetensors"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "MULTIGEN_OFFLINE": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "multigen",
               "train", "--epochs", "50", "--batch-size", "100", "--eval-samples", "0", "--device", "cpu",
               "--quiet", "--out", str(out)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        for line in process.stderr:  # training has begun once rank 0 reports the batch split
            if line.startswith("Global batch"):
                break
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert stderr.count("stopping after this step and saving") == 2  # both processes heard it
    assert f"stopped: {out}" in stdout
    metadata = read_metadata(out)
    assert metadata["world_size"] == 2 and 0 < metadata["step"] < 50 * 45


def test_when_one_process_dies_the_other_ends_with_one_line_that_says_where_to_look(tmp_path):
    result = _torchrun(str(WORKER), "die", str(tmp_path / "lost.safetensors"))
    assert result.returncode != 0
    rank0 = [line for line in result.stderr.splitlines() if line.startswith("multigen: error:")]
    assert len(rank0) == 1 and "process 0 lost the others of its group" in rank0[0]
    assert "real error is in another process's output" in rank0[0]
    assert "[rank0]" not in result.stderr  # no traceback from process 0 (torchrun's own report aside)
