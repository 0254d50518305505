"""The command line end to end, in subprocesses, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MULTIGEN_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "multigen", *args], capture_output=True, text=True, check=False, env=env, cwd=cwd or ROOT, timeout=300
    )


def run_here(capsys, *args: str) -> tuple[int, str, str]:
    """The CLI's entry point in this process (no torch import to pay for): exit status, stdout, stderr."""
    from multigen.cli import main

    try:
        status = main(list(args))
    except SystemExit as exit_:  # argparse's one-line error
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def cvae_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "cvae.safetensors"
    result = run("train", "--model", "cvae", "--epochs", "1", "--batch-size", "500", "--latent-dim", "4",
                 "--device", "cpu", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_train_writes_a_checkpoint_and_reports_progress(cvae_run):
    assert cvae_run.exists()
    info = run("info", str(cvae_run))
    assert info.returncode == 0
    metadata = json.loads(info.stdout)
    assert metadata["kind"] == "cvae" and metadata["config"]["latent_dim"] == 4 and metadata["step"] == 9
    assert metadata["format"] == "multigen-checkpoint" and "torch_version" in metadata


def test_sample_writes_a_png_grid_and_an_npz_with_the_labels_asked_for(cvae_run, tmp_path, capsys):
    png = tmp_path / "grid.png"
    assert run("sample", str(cvae_run), "--n", "20", "--out", str(png)).returncode == 0
    assert Image.open(png).size == (302, 62)  # 10 per row, 2 rows, 2-pixel padding
    npz = tmp_path / "sevens.npz"
    assert run_here(capsys, "sample", str(cvae_run), "--n", "5", "--label", "7", "--seed", "3", "--out", str(npz))[0] == 0
    arrays = np.load(npz)
    assert arrays["images"].shape == (5, 28, 28) and arrays["images"].dtype == np.uint8
    assert arrays["labels"].tolist() == [7] * 5
    again = tmp_path / "again.npz"
    run_here(capsys, "sample", str(cvae_run), "--n", "5", "--label", "7", "--seed", "3", "--out", str(again))
    assert np.array_equal(np.load(again)["images"], arrays["images"])


def test_sample_nearest_follows_each_sample_with_its_nearest_training_digits(cvae_run, tmp_path, capsys):
    png = tmp_path / "copies.png"
    status, out, err = run_here(capsys, "sample", str(cvae_run), "--n", "3", "--nearest", "2", "--out", str(png))
    assert status == 0, err
    assert Image.open(png).size == (92, 92)  # 3 rows of a sample and its 2 neighbours, 2-pixel padding
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["sample 0", "sample 1", "sample 2"]
    assert all(line.count("digit") == 2 for line in lines[:3]) and "of 3 samples are possible copies" in lines[3]
    npz = tmp_path / "copies.npz"
    assert run_here(capsys, "sample", str(cvae_run), "--n", "3", "--nearest", "2", "--out", str(npz))[0] == 0
    arrays = np.load(npz)
    assert arrays["nearest_indices"].shape == arrays["nearest_distances"].shape == (3, 2)
    assert (np.diff(arrays["nearest_distances"], axis=1) >= 0).all() and arrays["nearest_labels"].max() <= 9
    first = lines[0].split(": ", 1)[1].split(", ")[0]  # "0.1234 (row 17, digit 0)"
    assert float(first.split()[0]) == pytest.approx(arrays["nearest_distances"][0, 0], abs=1e-4)


def test_encode_writes_the_latent_means_of_a_split(cvae_run, tmp_path, capsys):
    out = tmp_path / "z.npz"
    status, _, err = run_here(capsys, "encode", str(cvae_run), "--split", "val", "--out", str(out))
    assert status == 0, err
    arrays = np.load(out)
    assert arrays["z"].shape == (500, 4) and arrays["labels"].shape == (500,)


def test_export_drops_the_optimizer_state_and_still_samples(cvae_run, tmp_path, capsys):
    out = tmp_path / "small.safetensors"
    assert run_here(capsys, "export", str(cvae_run), "--out", str(out))[0] == 0
    assert out.stat().st_size < cvae_run.stat().st_size
    assert run_here(capsys, "sample", str(out), "--n", "4", "--out", str(tmp_path / "s.png"))[0] == 0


def test_resume_continues_a_run_to_more_epochs(cvae_run, tmp_path):
    copy = tmp_path / "copy.safetensors"
    copy.write_bytes(cvae_run.read_bytes())
    result = run("train", "--resume", str(copy), "--epochs", "2", "--device", "cpu", "--precision", "bf16")
    assert result.returncode == 0, result.stderr
    assert "threads), bf16)" in result.stderr  # the run says what it computes in; a resume may change it
    metadata = json.loads(run("info", str(copy)).stdout)
    assert metadata["step"] == 18 and metadata["precision"] == "bf16"


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "--batch-size", "0"], "0 must be from 1 to 65,536"),
        (["train", "--lr", "-1"], "positive"),
        (["train", "--model", "flow"], "invalid choice"),
        (["train", "--precision", "fp16"], "invalid choice: 'fp16'"),
        (["train", "--epochs", "3", "--lr-decay-from", "3"], "learning rate falls must be a whole number from 0 to 2"),
        (["train", "--model", "vae", "--ema-decay", "0.9"], "--ema-decay is for gan and cgan models, not vae"),
        (["train", "--dataset", "mnist", "--data-dir", "/nonexistent", "--epochs", "1"], "mnist-5k"),
        (["sample", "missing.safetensors", "--out", "x.png"], "does not exist"),
        (["sample", "README.md", "--out", "x.png"], "README.md"),
        (["info", "pyproject.toml"], "pyproject.toml"),
        (["sample", "CKPT", "--label", "12", "--out", "x.png"], "not a digit"),
        (["sample", "CKPT", "--out", "x.gif"], ".png"),
        (["sample", "CKPT", "--nearest", "0", "--out", "x.png"], "--nearest: 0 must be from 1 to 50"),
        (["sample", "CKPT", "--nearest", "9999", "--out", "x.png"], "--nearest: 9999 must be from 1 to 50"),
        (["encode", "CKPT", "--dataset", "fashion-mnist", "--data-dir", "/nonexistent", "--out", "z.npz"], "mnist-5k"),
        ([], "required"),
    ],
)
def test_bad_arguments_or_files_end_in_one_line_and_exit_status_2(cvae_run, tmp_path, monkeypatch, capsys, args, message):
    (tmp_path / "README.md").write_text("not a checkpoint")
    (tmp_path / "pyproject.toml").write_text("[x]")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MULTIGEN_OFFLINE", "1")
    args = [str(cvae_run) if a == "CKPT" else a for a in args]
    status, _, error = run_here(capsys, *args)  # in this process; the next test runs the program itself
    assert status == 2
    assert message in error and "Traceback" not in error
    assert len(error.strip().splitlines()) == 1, error


def test_the_program_itself_ends_a_bad_file_in_one_line_and_exit_status_2(tmp_path):
    (tmp_path / "README.md").write_text("not a checkpoint")
    result = run("sample", "README.md", "--out", "x.png", cwd=tmp_path)
    assert result.returncode == 2 and "README.md" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (["--model", "vae", "--spectral-norm"], "--spectral-norm is for gan and cgan models, not vae: leave it out."),
        (["--model", "cvae", "--d-lr", "4e-4"], "--d-lr is for gan and cgan models, not cvae: leave it out."),
        (["--model", "gan", "--augment", "flip"], "Unknown augmentation 'flip': choose from translation, cutout"),
        (["--model", "gan", "--d-lr", "0"], "--d-lr: 0.0 must be a positive number"),
        (["--model", "vae", "--categorical-code", "10"], "--categorical-code is for gan and cgan models, not vae"),
        (["--model", "gan", "--categorical-code", "1"], "categorical_code must be 0 (off) or 2 to min(noise_dim, 64)"),
        (["--model", "gan", "--cluster-code"], "cluster_code needs a categorical_code (--categorical-code K)"),
        (["--model", "cgan", "--cluster-code", "--categorical-code", "10"], "--cluster-code is for gan models, not cgan"),
        (["--model", "vae", "--mode-seeking", "1"], "--mode-seeking is for gan and cgan models, not vae"),
        (["--model", "cgan", "--mode-seeking", "-1"], "mode_seeking"),
    ],
)
def test_gan_options_are_refused_in_one_line_for_other_models_or_bad_values(capsys, args, message):
    status, _, error = run_here(capsys, "train", *args)  # refused before any data is loaded or model built
    assert status == 2 and message in error and len(error.strip().splitlines()) == 1, error


# -- the fitted prior of a VAE (multigen.models.prior) -------------------------------------------------
@pytest.fixture(scope="module")
def tiny_vae(tmp_path_factory):
    import torch

    from multigen.checkpoints import save_checkpoint
    from multigen.models import build_model

    torch.manual_seed(0)
    model = build_model("vae", {"latent_dim": 3, "hidden_channels": 4, "hidden_features": 16})
    return save_checkpoint(tmp_path_factory.mktemp("prior") / "vae.safetensors", model, metadata={"dataset": "mnist-5k"})


def test_fit_prior_stores_a_mixture_that_sample_and_eval_then_draw_from_by_default(tiny_vae, tmp_path, capsys):
    path = tmp_path / "vae.safetensors"
    path.write_bytes(tiny_vae.read_bytes())
    status, out, err = run_here(capsys, "fit-prior", str(path), "--components", "3", "--seed", "1")
    assert status == 0, err
    assert "3-component full-covariance Gaussian mixture" in out and "4500 mnist-5k training digits" in out
    prior = json.loads(run_here(capsys, "info", str(path))[1])["prior"]
    assert (prior["components"], prior["seed"], prior["covariance_type"], prior["dataset"]) == (3, 1, "full", "mnist-5k")

    def drawn(*flags: str) -> np.ndarray:
        npz = tmp_path / "s.npz"
        status, out, err = run_here(capsys, "sample", str(path), "--n", "6", "--seed", "2", "--out", str(npz), *flags)
        assert status == 0, err
        return np.load(npz)["images"], out

    (default, said), (fitted, _), (standard, said_standard) = drawn(), drawn("--prior", "fitted"), drawn("--prior", "standard")
    assert np.array_equal(default, fitted) and not np.array_equal(default, standard)
    assert "from the fitted prior" in said and "from the standard prior" in said_standard
    figures = {}
    for choice in ("fitted", "standard"):
        status, out, err = run_here(capsys, "eval", str(path), "--samples", "20", "--prior", choice, "--device", "cpu")
        assert status == 0, err
        figures[choice] = json.loads(out)
    assert figures["fitted"]["prior"] == "fitted" and figures["standard"]["prior"] == "standard"
    assert figures["fitted"]["fid"] != figures["standard"]["fid"]
    assert figures["fitted"]["negative_elbo"] == figures["standard"]["negative_elbo"]  # the prior changes no weight


def test_fit_prior_with_out_leaves_the_checkpoint_as_it_was_and_remove_takes_the_prior_away(tiny_vae, tmp_path, capsys):
    before = tiny_vae.read_bytes()
    fitted = tmp_path / "fitted.safetensors"
    assert run_here(capsys, "fit-prior", str(tiny_vae), "--components", "2", "--covariance", "diag", "--out", str(fitted))[0] == 0
    assert tiny_vae.read_bytes() == before
    assert json.loads(run_here(capsys, "info", str(fitted))[1])["prior"]["covariance_type"] == "diag"
    assert run_here(capsys, "fit-prior", str(fitted), "--remove")[0] == 0
    assert "prior" not in json.loads(run_here(capsys, "info", str(fitted))[1])


def test_calibrate_sliders_stores_the_pages_directions_in_the_checkpoint(tiny_vae, tmp_path, capsys, monkeypatch):
    from multigen import cache
    from multigen.checkpoints import load_checkpoint, save_checkpoint
    from multigen.explore import legibility
    from multigen.models import build_model

    gan = save_checkpoint(tmp_path / "cgan.safetensors", build_model("cgan", {"noise_dim": 4}).eval())
    before = gan.read_bytes()
    out_path = tmp_path / "calibrated.safetensors"
    # An untrained generator's digits are too few legible to measure the sliders by: nothing stored as measured.
    status, _, err = run_here(capsys, "calibrate-sliders", str(gan), "--out", str(out_path))
    assert status == 2 and "too few to measure the sliders by" in err and err.count("\n") == 1
    assert not out_path.exists() and gan.read_bytes() == before
    # As if trained: the classifier's measurement (here, half of each length) is what is stored.
    monkeypatch.setattr(legibility, "slider_scales", lambda model, directions, *_, **__: np.full(len(directions), 0.5))
    status, out, err = run_here(capsys, "calibrate-sliders", str(gan), "--out", str(out_path))
    assert status == 0, err
    assert gan.read_bytes() == before and "stored the slider directions" in out and "style: 0.50, 0.50, 0.50" in out
    checkpoint = load_checkpoint(out_path)
    assert {name: about["shape"] for name, about in checkpoint.metadata["directions"].items()} == {"gan": [4, 4], "style": [3, 4]}
    assert np.array_equal(cache.style_directions(checkpoint, cache_dir=None), checkpoint.directions["style"].numpy())
    status, _, err = run_here(capsys, "calibrate-sliders", str(tiny_vae))
    assert status == 2 and "A vae has no sliders to calibrate" in err and err.count("\n") == 1
    status, _, err = run_here(capsys, "calibrate-sliders", str(tmp_path / "missing.safetensors"))
    assert status == 2 and "does not exist" in err and err.count("\n") == 1


@pytest.mark.parametrize(("command", "expected"), [
    (("sample", "{vae}", "--prior", "fitted", "--out", "{tmp}/x.png"), "has no fitted prior: run `multigen fit-prior {vae}` first"),
    (("eval", "{vae}", "--prior", "fitted"), "has no fitted prior: run `multigen fit-prior {vae}` first"),
    (("sample", "{gan}", "--prior", "standard", "--out", "{tmp}/x.png"), "--prior is for VAEs and CVAEs"),
    (("fit-prior", "{gan}"), "needs an encoder, which a gan lacks"),
    (("fit-prior", "{vae}", "--components", "0"), "0 must be from 1 to 1,000"),
    (("sample", "{vae}", "--prior", "best", "--out", "{tmp}/x.png"), "invalid choice: 'best'"),
])
def test_prior_flags_asked_of_the_wrong_checkpoint_end_in_one_line(tiny_vae, tmp_path, capsys, command, expected):
    from multigen.checkpoints import save_checkpoint
    from multigen.models import build_model

    gan = save_checkpoint(tmp_path / "gan.safetensors", build_model("gan", {"noise_dim": 4}))
    values = {"vae": tiny_vae, "gan": gan, "tmp": tmp_path}
    status, _, err = run_here(capsys, *(part.format(**values) for part in command))
    assert status == 2 and expected.format(**values) in err and err.count("\n") == 1, err
