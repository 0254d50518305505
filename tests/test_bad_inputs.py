"""A corpus of hostile and careless inputs: crafted checkpoints (made through safetensors' public API),
absurd sizes, bad output paths and seeds. Every one ends in one line and exit status 2 (or a
``MultigenError``), never a traceback, and nothing is allocated for a size a file merely claims."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from multigen.checkpoints import CheckpointError, export_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint
from multigen.cli import main
from multigen.errors import MultigenError
from multigen.models import build_model

ROOT = Path(__file__).resolve().parents[1]
TINY_VAE = {"latent_dim": 2, "hidden_channels": 4, "hidden_features": 16}


def crafted(folder: Path, name: str, *, config: dict | None = None, metadata: str | None = None) -> str:
    """A tiny VAE checkpoint rewritten through safetensors: its config fields replaced by ``config``, or its
    whole metadata text by ``metadata`` (the tensors, and so their checksum, stay as they were)."""
    torch.manual_seed(0)
    path = folder / name
    save_checkpoint(path, build_model("vae", TINY_VAE), metadata={"dataset": "mnist-5k"})
    with safe_open(path, framework="pt") as handle:
        header = handle.metadata()
    tensors = load_file(path)
    document = json.loads(header["multigen"])
    document["config"].update(config or {})
    header["multigen"] = metadata if metadata is not None else json.dumps(document)
    save_file(tensors, path, metadata=header)
    return str(path)


def run_here(capsys, *args: str) -> tuple[int, str]:
    try:
        status = main(list(args))
    except SystemExit as exit_:  # argparse's one-line error
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.err


def one_line_refusal(status: int, err: str) -> str:
    assert status == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


# -- crafted checkpoints -----------------------------------------------------------------------------
HOSTILE_CONFIGS = {
    "latent as text": ({"latent_dim": "2"}, "latent_dim must be a whole number"),
    "latent as a fraction": ({"latent_dim": 2.5}, "latent_dim must be a whole number"),
    "a wide layer (4 GB)": ({"hidden_features": 150_000}, "hidden_features must be a whole number from 1 to 2048"),
    "a huge layer (125 GB)": ({"hidden_features": 10**7}, "hidden_features"),
    "a hundred million labels": ({"num_classes": 10**8}, "num_classes must be a whole number from 2 to 100"),
    "a NaN beta": ({"beta": float("nan")}, "beta must be a finite number"),
    "fields of another config": ({"hidden_features": 32}, "weight .* but its config needs"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_CONFIGS))
def test_a_checkpoint_whose_config_lies_is_refused_before_anything_is_built(tmp_path, case):
    changes, message = HOSTILE_CONFIGS[case]
    path = crafted(tmp_path, "lying.safetensors", config=changes)
    with pytest.raises(CheckpointError, match=message) as refused:
        load_checkpoint(path)
    assert str(path) in str(refused.value)  # the file names itself
    with pytest.raises(CheckpointError, match=message):  # what load refuses, export refuses
        export_checkpoint(path, tmp_path / "copy.safetensors")
    assert not (tmp_path / "copy.safetensors").exists()


def test_every_command_that_reads_a_lying_checkpoint_ends_in_one_line(tmp_path, capsys):
    path = crafted(tmp_path, "lying.safetensors", config={"latent_dim": "2"})
    for args in (
        ["sample", path, "--out", str(tmp_path / "s.png")],
        ["encode", path, "--out", str(tmp_path / "z.npz")],
        ["eval", path, "--samples", "10"],
        ["export", path, "--out", str(tmp_path / "e.safetensors")],
        ["write", "12", "--ckpt", path, "--out", str(tmp_path / "w.png")],
        ["train", "--resume", path, "--epochs", "2"],
    ):
        err = one_line_refusal(*run_here(capsys, *args))
        assert "lying.safetensors" in err, args


def test_nan_weights_are_refused_by_name_instead_of_drawing_black_digits(tmp_path, capsys):
    model = build_model("vae", TINY_VAE)
    with torch.no_grad():
        model.decoder[0].weight[0, 0, 0, 0] = float("nan")  # as a diverged run saved by another tool would be
    path = str(save_checkpoint(tmp_path / "diverged.safetensors", model))
    with pytest.raises(CheckpointError, match="decoder.0.weight holds NaN or infinity"):
        load_checkpoint(path)
    one_line_refusal(*run_here(capsys, "sample", path, "--out", str(tmp_path / "black.png")))
    assert not (tmp_path / "black.png").exists()


def test_a_metadata_header_nested_without_end_is_refused_in_one_line(tmp_path, capsys):
    path = crafted(tmp_path, "nested.safetensors", metadata="[" * 100_000)
    with pytest.raises(CheckpointError, match="nested too deeply"):
        load_checkpoint(path)
    for command in ("info", "export"):
        args = [command, path] + (["--out", str(tmp_path / "x.safetensors")] if command == "export" else [])
        one_line_refusal(*run_here(capsys, *args))


def test_a_checkpoint_claiming_a_huge_model_is_refused_with_little_memory(tmp_path):
    """In a fresh process, so its peak memory is this case's alone: building the model first took 4.4 GB.
    (Its peak resident size is read from /proc, VmHWM: getrusage's ru_maxrss would count the parent's
    size at fork, which Linux carries across exec.)"""
    path = crafted(tmp_path, "huge.safetensors", config={"hidden_features": 150_000})
    script = (
        "import re, sys\n"
        "from multigen.cli import main\n"
        f"status = main(['sample', {path!r}, '--out', {str(tmp_path / 'x.png')!r}, '--device', 'cpu'])\n"
        "peak = re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1)\n"
        "print(status, peak)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert result.returncode == 0 and len(result.stdout.split()) == 2, (result.stdout, result.stderr[-2000:])
    status, peak_kb = map(int, result.stdout.split())
    assert status == 2 and "hidden_features" in result.stderr
    assert peak_kb < 1_500_000, f"peak memory {peak_kb / 1e6:.1f} GB"  # torch itself takes a few hundred MB


# -- absurd sizes, seeds and paths ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sample", "CKPT", "--n", "1000000000", "--out", "x.png"], "from 1 to 10,000"),
        (["eval", "CKPT", "--samples", "1000000000"], "from 10 to 100,000"),
        (["write", "12345678", "--ckpt", "CKPT", "--scale", "2000"], "from 1 to 32"),
        (["sample", "CKPT", "--seed", str(2**64), "--out", "x.png"], "from 0 to 4,294,967,295"),
        (["train", "--seed", "100000000000000"], "from 0 to 4,294,967,295"),
        (["train", "--epochs", "1000000"], "from 1 to 100,000"),
    ],
)
def test_sizes_and_seeds_past_what_the_machine_holds_are_refused_with_the_limit(capsys, args, message):
    status, err = run_here(capsys, *[str(ROOT / "checkpoints" / "cvae.safetensors") if a == "CKPT" else a for a in args])
    assert message in one_line_refusal(status, err)


def test_a_run_of_millions_of_steps_is_refused_before_it_starts(tiny_training_config):
    from multigen.training import Trainer

    config = tiny_training_config("vae", epochs=100_000, batch_size=1)
    with pytest.raises(MultigenError, match="more than the 2,000,000 a run may take"):
        next(iter(Trainer(config)))


def test_bad_output_paths_are_refused_before_any_work(tmp_path, capsys):
    shipped = str(ROOT / "checkpoints" / "cvae.safetensors")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cases = {
        "is a folder": str(tmp_path),
        "its folder cannot be made": str(blocker / "inside" / "grid.png"),
        "longer than the file system allows": str(tmp_path / ("x" * 300 + ".png")),
        "must end in .png or .npz": str(tmp_path / "grid.jpg"),
    }
    for message, out in cases.items():
        assert message in one_line_refusal(*run_here(capsys, "sample", shipped, "--out", out)), message
    assert "must end in .safetensors" in one_line_refusal(*run_here(capsys, "export", shipped, "--out", str(tmp_path / "x.png")))


def test_the_classifier_checkpoint_cannot_be_sampled_and_says_why(capsys, tmp_path):
    err = one_line_refusal(*run_here(capsys, "sample", str(ROOT / "checkpoints" / "classifier.safetensors"),
                                     "--out", str(tmp_path / "x.png")))
    assert "digit classifier, which draws nothing" in err


def test_an_unexpected_error_is_one_line_that_points_to_debug(monkeypatch, capsys):
    from multigen.cli import commands

    def broken(args):
        raise RuntimeError("something nobody foresaw\nwith a second line")

    monkeypatch.setitem(commands.COMMANDS, "info", broken)
    status = main(["info", "whatever.safetensors"])
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1 and "RuntimeError: something nobody foresaw" in err and "--debug" in err
    with pytest.raises(RuntimeError):
        main(["--debug", "info", "whatever.safetensors"])


# -- housekeeping ------------------------------------------------------------------------------------
def test_a_save_removes_what_a_killed_save_of_the_same_file_left_behind(tmp_path):
    path = tmp_path / "run.safetensors"
    old, fresh, other = tmp_path / ".run.safetensors.abc.tmp", tmp_path / ".run.safetensors.def.tmp", tmp_path / ".x.tmp"
    for leftover in (old, fresh, other):
        leftover.write_bytes(b"half a checkpoint")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    os.utime(other, (hour_ago, hour_ago))
    save_checkpoint(path, build_model("vae", TINY_VAE))
    assert not old.exists()  # stale: removed
    assert fresh.exists() and other.exists()  # a save that may still be under way, and a file not of this pattern
    assert [info.path for info in list_checkpoints(tmp_path)] == [path]


def test_the_jobs_loss_history_stays_bounded_however_long_the_run(tiny_training_config, monkeypatch):
    from multigen.training import TrainingJob

    job = TrainingJob()
    monkeypatch.setattr(TrainingJob, "MAX_LOSS_ROWS", 20)
    job.start(tiny_training_config("vae", epochs=2, batch_size=64))  # 140 steps
    assert job.wait(120)
    state = job.state()
    assert state.step == 140 and 10 <= len(state.losses) <= 20
    steps = [row["step"] for row in state.losses]
    assert steps == sorted(steps) and steps[-1] == 140  # thinned evenly, the last step kept


def test_a_data_set_that_is_loading_does_not_hold_up_another(tmp_path):
    import threading

    from multigen import data

    busy = data._load_locks.setdefault(("mnist", str(tmp_path.resolve())), threading.Lock())
    with busy:  # as while mnist downloads
        done = threading.Event()
        threading.Thread(target=lambda: (data.load_dataset("mnist-5k", "val"), done.set()), daemon=True).start()
        assert done.wait(30)


# -- the whole corpus ------------------------------------------------------------------------------------
def _corpus_files(folder: Path) -> dict[str, str]:
    """Every kind of file a careless or hostile person may hand a command, by what it is."""
    files = {case: crafted(folder, f"config-{index}.safetensors", config=changes)
             for index, (case, (changes, _)) in enumerate(sorted(HOSTILE_CONFIGS.items()))}
    files["nested header"] = crafted(folder, "nested.safetensors", metadata="[" * 100_000)
    files["metadata not multigen's"] = crafted(folder, "foreign.safetensors", metadata='{"format": "other"}')
    model = build_model("vae", TINY_VAE)
    with torch.no_grad():
        model.decoder[0].weight.fill_(float("inf"))
    files["infinite weights"] = str(save_checkpoint(folder / "inf.safetensors", model))
    good = Path(crafted(folder, "good.safetensors"))
    truncated = folder / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[:-100])
    files["truncated"] = str(truncated)
    (folder / "empty.safetensors").write_bytes(b"")
    files["empty"] = str(folder / "empty.safetensors")
    (folder / "noise.safetensors").write_bytes(os.urandom(4096))
    files["random bytes"] = str(folder / "noise.safetensors")
    torch.save({"weights": torch.zeros(3)}, folder / "pickled.safetensors")
    files["a torch.save pickle"] = str(folder / "pickled.safetensors")
    (folder / "a-folder.safetensors").mkdir()
    files["a folder"] = str(folder / "a-folder.safetensors")
    files["missing"] = str(folder / "missing.safetensors")
    files["the classifier"] = str(ROOT / "checkpoints" / "classifier.safetensors")
    files["a GAN (no encoder, no labels)"] = str(ROOT / "checkpoints" / "dcgan.safetensors")
    return files


def test_every_command_on_every_bad_file_or_argument_ends_cleanly(tmp_path, capsys):
    files = _corpus_files(tmp_path)
    out = tmp_path / "out"
    cases = []
    for name, path in files.items():
        cases += [
            (name, ["info", path]),
            (name, ["sample", path, "--n", "4", "--out", str(out / "s.png")]),
            (name, ["encode", path, "--out", str(out / "z.npz")]),
            (name, ["eval", path, "--samples", "10"]),
            (name, ["export", path, "--out", str(out / "e.safetensors")]),
            (name, ["write", "12", "--ckpt", path, "--out", str(out / "w.png")]),
            (name, ["train", "--resume", path, "--epochs", "2", "--out", str(out / "t.safetensors")]),
        ]
    shipped = str(ROOT / "checkpoints" / "cvae.safetensors")
    for args in (["--n", "0"], ["--n", "10001"], ["--n", "-5"], ["--n", "1e9"], ["--seed", "-1"], ["--seed", str(2**32)],
                 ["--label", "10"], ["--label", "x"], ["--nearest", "51"], ["--out", str(tmp_path)],
                 ["--out", "/proc/forbidden/x.png"], ["--out", str(tmp_path / ("y" * 5000 + ".png"))]):
        cases.append(("sample " + " ".join(args)[:30], ["sample", shipped, "--out", str(out / "s.png"), *args]))
    for args in (["--epochs", "0"], ["--epochs", "100001"], ["--batch-size", "65537"], ["--latent-dim", "1000"],
                 ["--lr", "nan"], ["--lr", "-1"], ["--lr", "inf"], ["--beta", "nan", "--model", "vae"],
                 ["--ema-decay", "2", "--model", "gan"], ["--categorical-code", "65", "--model", "gan"],
                 ["--cluster-code", "--model", "cgan"], ["--augment", "rotate", "--model", "gan"],
                 ["--dataset", "imagenet"], ["--model", "classifier"], ["--out", str(tmp_path)]):
        cases.append(("train " + " ".join(args)[:30], ["train", "--quiet", "--device", "cpu", *args]))
    for text in ("", "12a", "1" * 13, "٣", "-1"):
        cases.append((f"write {text!r}", ["write", text, "--ckpt", shipped, "--out", str(out / "w.png")]))
    gan = str(ROOT / "checkpoints" / "dcgan.safetensors")
    for name, recipe in (("empty", ""), ("a list", "[]"), ("a NaN z", '{"seed": 1, "z": [NaN]}'),
                         ("a cgan's", '{"seed": 1, "kind": "cgan", "label": 3, "z": [0.5]}'),
                         ("another size", '{"seed": 1, "z": [0.5, 0.5]}'), ("a huge seed", '{"seed": 1e300}'),
                         ("nested", "[" * 100_000), ("a strip's", '{"seed": 1, "type": "number"}')):
        path = tmp_path / f"recipe-{len(cases)}.json"
        path.write_text(recipe)
        cases.append((f"sample --recipe ({name})", ["sample", gan, "--recipe", str(path), "--out", str(out / "r.png")]))
    for args in (["--recipe", str(tmp_path)], ["--recipe", files["random bytes"]], ["--recipe", files["missing"]],
                 ["--recipe", str(ROOT / "checkpoints" / "README.md"), "--n", "3"]):
        cases.append(("sample " + " ".join(args)[:30], ["sample", gan, "--out", str(out / "r.png"), *args]))

    unclean = []
    for name, args in cases:
        try:
            status = main(args)
        except SystemExit as exit_:
            status = exit_.code
        except BaseException as error:  # noqa: BLE001 - what the corpus is here to catch
            unclean.append((name, args[0], f"raised {type(error).__name__}: {error}"))
            continue
        err = capsys.readouterr().err
        clean = status == 0 or (status == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err)
        if not clean:
            unclean.append((name, args[0], status, err[-300:]))
    print(f"{len(cases)} bad-input cases, {len(cases) - len(unclean)} ended cleanly")  # the figure for the notes
    assert not unclean, unclean
    assert len(cases) > 150
