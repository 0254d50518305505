"""ONNX export: the file onnxruntime runs draws what PyTorch draws, for every kind, shipped or tiny."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from multigen.checkpoints import load_checkpoint, save_checkpoint
from multigen.cli import main
from multigen.errors import MultigenError
from multigen.export import cached_onnx, export_onnx, read_onnx_metadata
from multigen.models import build_model

ort = pytest.importorskip("onnxruntime")

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "checkpoints"
TOLERANCE = 1e-4  # on [0, 1] pixels, and on latent means
TINY = {
    "vae": {"hidden_channels": 4, "hidden_features": 16, "latent_dim": 3},
    "cvae": {"hidden_channels": 4, "hidden_features": 16, "latent_dim": 3},
    "gan": {"noise_dim": 8},
    "cgan": {"noise_dim": 8},
    "infogan": {"noise_dim": 12, "categorical_code": 4, "ema_decay": 0.9, "spectral_norm": True},
    "self-conditioned": {"noise_dim": 12, "categorical_code": 5, "cluster_code": True},
}


def tiny(tmp_path: Path, name: str) -> Path:
    kind = name if name in ("vae", "cvae", "gan", "cgan") else "gan"
    torch.manual_seed(0)
    model = build_model(kind, TINY[name])
    with torch.no_grad():  # BatchNorm statistics that are not the identity, so eval mode matters
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    return save_checkpoint(tmp_path / f"{name}.safetensors", model)


def run_onnx(path: Path, **inputs: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


def check_decoder(checkpoint: Path, out: Path) -> None:
    model = load_checkpoint(checkpoint).model
    export_onnx(checkpoint, out)
    z = np.random.default_rng(1).standard_normal((7, model.latent_dim)).astype(np.float32)
    labels = np.arange(7, dtype=np.int64) % 10
    feeds = {"z": z, **({"labels": labels} if model.conditional else {})}
    (pixels,) = run_onnx(out, **feeds)
    with torch.no_grad():
        expected = model.generate(torch.from_numpy(z), torch.from_numpy(labels) if model.conditional else None).numpy()
    assert pixels.shape == (7, 1, 28, 28) and pixels.dtype == np.float32
    assert np.abs(pixels - expected).max() < TOLERANCE
    assert np.array_equal(np.round(pixels[:, 0] * 255).astype(np.uint8), model.draw(z, labels))  # what pages show


def check_encoder(checkpoint: Path, out: Path) -> None:
    from multigen.data import load_dataset, subset

    model = load_checkpoint(checkpoint).model
    export_onnx(checkpoint, out, part="encoder")
    digits = subset(load_dataset("mnist-5k", "val"), 20)
    feeds = {"images": digits.images.numpy(), **({"labels": digits.labels.numpy()} if model.conditional else {})}
    mu, logvar = run_onnx(out, **feeds)
    with torch.no_grad():
        expected_mu, expected_logvar = model.encode(digits.images, digits.labels if model.conditional else None)
    assert np.abs(mu - expected_mu.numpy()).max() < TOLERANCE and np.abs(logvar - expected_logvar.numpy()).max() < TOLERANCE


@pytest.mark.parametrize("name", sorted(TINY))
def test_a_tiny_models_decoder_runs_in_onnxruntime_as_in_pytorch(tmp_path, name):
    check_decoder(tiny(tmp_path, name), tmp_path / f"{name}.onnx")


@pytest.mark.parametrize("name", ["vae", "cvae"])
def test_a_tiny_vaes_encoder_runs_in_onnxruntime_as_in_pytorch(tmp_path, name):
    check_encoder(tiny(tmp_path, name), tmp_path / f"{name}-encoder.onnx")


@pytest.mark.parametrize("name", ["vae-2", "vae-16", "cvae", "dcgan", "cgan"])
def test_each_shipped_decoder_runs_in_onnxruntime_as_in_pytorch(tmp_path, name):
    check_decoder(SHIPPED / f"{name}.safetensors", tmp_path / f"{name}.onnx")


@pytest.mark.parametrize("name", ["vae-2", "cvae"])
def test_each_shipped_encoder_runs_in_onnxruntime_as_in_pytorch(tmp_path, name):
    check_encoder(SHIPPED / f"{name}.safetensors", tmp_path / f"{name}-encoder.onnx")


def test_the_file_says_what_goes_in_and_comes_out(tmp_path):
    path = export_onnx(SHIPPED / "dcgan.safetensors", tmp_path / "dcgan.onnx")
    metadata = read_onnx_metadata(path)
    assert metadata["kind"] == "gan" and metadata["part"] == "decoder" and metadata["latent_dim"] == 100
    assert metadata["code_categories"] == 20 and metadata["code_from_clusters"] is True and not metadata["conditional"]
    assert [spec["name"] for spec in metadata["inputs"]] == ["z"] and metadata["outputs"][0]["range"] == [0.0, 1.0]
    cgan = read_onnx_metadata(export_onnx(SHIPPED / "cgan.safetensors", tmp_path / "cgan.onnx"))
    assert [spec["name"] for spec in cgan["inputs"]] == ["z", "labels"] and cgan["num_classes"] == 10
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temporary file, nothing left over


def test_the_export_command_writes_onnx_and_refuses_what_it_cannot_export_in_one_line(tmp_path, capsys):
    out = tmp_path / "decoder.onnx"
    assert main(["export", str(SHIPPED / "vae-2.safetensors"), "--format", "onnx", "--out", str(out)]) == 0
    assert read_onnx_metadata(out)["part"] == "decoder"
    assert main(["export", str(SHIPPED / "vae-2.safetensors"), "--part", "encoder", "--out", str(tmp_path / "e.onnx")]) == 0
    assert read_onnx_metadata(tmp_path / "e.onnx")["part"] == "encoder"  # the format read from the suffix
    capsys.readouterr()
    for args, message in (
        (["export", str(SHIPPED / "dcgan.safetensors"), "--part", "encoder", "--out", str(tmp_path / "x.onnx")], "encoder"),
        (["export", str(SHIPPED / "classifier.safetensors"), "--out", str(tmp_path / "x.onnx")], "draws nothing"),
        (["export", str(SHIPPED / "cvae.safetensors"), "--format", "onnx", "--out", str(tmp_path / "x.safetensors")], ".onnx"),
    ):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1


def test_the_app_exports_once_per_checkpoint_content_and_part(tmp_path, monkeypatch):
    from multigen import export

    calls = []
    real = export.export_onnx
    monkeypatch.setattr(export, "export_onnx", lambda *args, **kwargs: (calls.append(args), real(*args, **kwargs))[1])
    results = []
    threads = [threading.Thread(target=lambda: results.append(cached_onnx(SHIPPED / "cgan.safetensors", cache_dir=tmp_path)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and len(calls) == 1 and results[0].is_file()  # four sessions, one export
    assert cached_onnx(SHIPPED / "cgan.safetensors", cache_dir=tmp_path) == results[0] and len(calls) == 1
    assert cached_onnx(SHIPPED / "vae-2.safetensors", part="encoder", cache_dir=tmp_path).name.endswith("-encoder.onnx")
    with pytest.raises(MultigenError, match="Unknown part"):
        cached_onnx(SHIPPED / "cgan.safetensors", part="generator", cache_dir=tmp_path)


def test_the_export_cache_keeps_only_the_newest_files(tmp_path, monkeypatch):
    import os
    import time

    from multigen import export

    monkeypatch.setattr(export, "MAX_CACHED", 2)
    for age, name in ((300, "old"), (200, "older-but-newer"), (100, "recent")):
        stale = tmp_path / f"{name}-decoder.onnx"
        stale.write_bytes(b"onnx")
        os.utime(stale, (time.time() - age, time.time() - age))
    made = cached_onnx(SHIPPED / "vae-2.safetensors", cache_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.onnx")) == sorted([made.name, "recent-decoder.onnx"])


def test_an_export_in_use_is_kept_newest_and_outlives_directions_stored_in_its_checkpoint(tmp_path, monkeypatch):
    import os
    import shutil

    import numpy as np

    from multigen import cache, export
    from multigen.checkpoints import store_directions

    checkpoint = tmp_path / "dcgan.safetensors"
    shutil.copy(SHIPPED / "dcgan.safetensors", checkpoint)
    folder = tmp_path / "models"
    made = cached_onnx(checkpoint, part="decoder", cache_dir=folder)
    os.utime(made, (1, 1))  # long unused ...
    monkeypatch.setattr(export, "export_onnx", lambda *_, **__: (_ for _ in ()).throw(AssertionError("exported again")))
    assert cached_onnx(checkpoint, part="decoder", cache_dir=folder) == made  # ... asked for again: not made anew,
    assert made.stat().st_mtime > 1  # but the newest, the last that pruning deletes
    # The page's sliders stored in the file afterwards: the same weights, the same export.
    store_directions(checkpoint, {"gan": np.zeros((10, 100), np.float32)}, measurement=cache.directions_measurement())
    assert cached_onnx(checkpoint, part="decoder", cache_dir=folder) == made


def test_pruning_passes_over_files_another_process_deleted_meanwhile(tmp_path, monkeypatch):
    import os
    from pathlib import Path

    from multigen import cache

    for age, name in ((1000, "a"), (2000, "b"), (3000, "c")):  # a the newest
        (tmp_path / f"{name}.onnx").write_bytes(b"x")
        os.utime(tmp_path / f"{name}.onnx", (5000 - age, 5000 - age))
    real_stat = Path.stat

    def stat(self, *args, **kwargs):
        if self.name == "b.onnx":  # listed, then deleted by another server before its date is read
            self.unlink(missing_ok=True)
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)
    cache.prune_oldest(tmp_path, "*.onnx", 1)
    assert sorted(p.name for p in tmp_path.glob("*.onnx")) == ["a.onnx"]
