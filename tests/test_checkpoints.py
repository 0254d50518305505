"""Checkpoints: round trips, refusal of damaged or foreign files, atomic saves, listing and export."""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from multigen import checkpoints
from multigen.checkpoints import (
    FORMAT,
    SCHEMA_VERSION,
    Checkpoint,
    CheckpointError,
    export_checkpoint,
    list_checkpoints,
    load_checkpoint,
    read_metadata,
    save_checkpoint,
    scan_checkpoints,
    store_directions,
)
from multigen.errors import MultigenError
from multigen.models import build_model

ROOT = Path(__file__).resolve().parents[1]
TINY_CONFIGS = {
    "vae": {"latent_dim": 2, "hidden_channels": 4, "hidden_features": 8},
    "cvae": {"latent_dim": 3, "hidden_channels": 4, "hidden_features": 8},
    "gan": {"noise_dim": 2},
    "cgan": {"noise_dim": 3},
}


# -- helpers -----------------------------------------------------------------------------------


def tiny_model(kind: str = "vae", seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model(kind, TINY_CONFIGS[kind])
    with torch.no_grad():  # move batch-norm statistics off their defaults so losing them would show
        for name, buffer in model.named_buffers():
            if buffer.is_floating_point() and "running" in name:
                buffer.add_(torch.rand_like(buffer))
    return model.eval()


def outputs(model: torch.nn.Module) -> torch.Tensor:
    generator = torch.Generator().manual_seed(7)
    z = torch.randn((4, model.latent_dim), generator=generator)
    labels = torch.tensor([0, 3, 5, 9])
    with torch.no_grad():
        images = model.generate(z, labels)
        if model.kind in ("vae", "cvae"):
            mu, logvar = model.encode(images, labels)
            images = torch.cat([images.flatten(1), mu, logvar], dim=1)
    return images


def saved_tiny_checkpoint(path: Path, kind: str = "vae", **kwargs) -> Path:
    return save_checkpoint(path, tiny_model(kind), metadata={"dataset": "mnist-5k", "epoch": 3, "step": 30}, **kwargs)


def rewrite_metadata(path: Path, change) -> None:
    """Rewrite a checkpoint's JSON metadata in place (tensors and checksum untouched), like a hand edit."""
    tensors = load_file(path)
    with safe_open(path, framework="pt") as handle:
        header = dict(handle.metadata())
    document = json.loads(header["multigen"])
    change(document)
    header["multigen"] = json.dumps(document)
    save_file(tensors, path, metadata=header)


def train_one_step(model: torch.nn.Module) -> dict[str, torch.optim.Optimizer]:
    model.train()
    optimizers = model.make_optimizers()
    take_a_step(model, optimizers, seed=1)
    return optimizers


def take_a_step(model: torch.nn.Module, optimizers: dict[str, torch.optim.Optimizer], seed: int) -> None:
    torch.manual_seed(seed)  # dropout in the GAN's discriminator uses the global generator
    images = torch.rand((4, 1, 28, 28), generator=torch.Generator().manual_seed(seed))
    labels = torch.tensor([1, 2, 3, 4])
    model.training_step(images, labels, optimizers, generator=torch.Generator().manual_seed(seed))


def assert_same_tensors(left: dict[str, torch.Tensor], right: dict[str, torch.Tensor]) -> None:
    assert left.keys() == right.keys()
    for key, tensor in left.items():
        assert tensor.dtype == right[key].dtype, key
        assert torch.equal(tensor, right[key]), key


# -- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["vae", "cvae", "gan", "cgan"])
def test_a_saved_model_loads_back_with_the_same_weights_config_and_outputs(tmp_path, kind):
    model = tiny_model(kind)
    path = save_checkpoint(tmp_path / f"{kind}.safetensors", model, metadata={"epoch": 5})

    checkpoint = load_checkpoint(path)

    assert isinstance(checkpoint, Checkpoint)
    assert checkpoint.kind == kind and checkpoint.model.kind == kind
    assert checkpoint.model.config == model.config
    assert not checkpoint.model.training
    assert_same_tensors(checkpoint.model.state_dict(), model.state_dict())
    assert torch.equal(outputs(checkpoint.model), outputs(model))
    assert checkpoint.optimizer_states == {} and checkpoint.extra == {}


@pytest.mark.parametrize("kind", ["cvae", "cgan"])
def test_loading_a_conditional_model_does_not_import_the_compiler(tmp_path, kind):
    # Checking a label embedding's shape on the "meta" device once imported torch._dynamo (1.2-1.8 s on 2 cores): a
    # first visit of the GAN or Write page waited for it. A fresh process, as a server or a CLI command starts.
    path = save_checkpoint(tmp_path / f"{kind}.safetensors", tiny_model(kind))
    script = """
        import sys
        from multigen.checkpoints import load_checkpoint
        load_checkpoint(sys.argv[1])
        print("torch._dynamo" in sys.modules)
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script), str(path)], check=False, capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_building_a_skeleton_skips_initialisation_only_in_its_own_thread():
    entered, leave = threading.Event(), threading.Event()

    def skeleton() -> None:
        with checkpoints._WithoutInitialisation():
            entered.set()
            leave.wait(30)

    thread = threading.Thread(target=skeleton)
    thread.start()
    entered.wait(30)
    try:
        weight = torch.nn.Embedding(10, 4).weight.detach()  # another thread, e.g. a training run in the app
        assert 0.5 < float(weight.std()) < 1.5  # initialised from N(0, 1)
    finally:
        leave.set()
        thread.join()


def test_the_metadata_holds_what_the_caller_passed_and_what_describes_the_file(tmp_path):
    model = tiny_model("vae")
    caller = {
        "dataset": "mnist-5k",
        "epoch": 30,
        "step": 1200,
        "metrics": {"loss": torch.tensor(101.5), "fid": 12.25},
        "history": [{"epoch": 1, "loss": 180.0}],
        "kind": "gan",  # describes the file, so the model's own kind wins
    }
    path = save_checkpoint(tmp_path / "a" / "b" / "vae-2.safetensors", model, metadata=caller)

    metadata = load_checkpoint(path).metadata

    assert metadata["format"] == FORMAT and metadata["schema_version"] == SCHEMA_VERSION
    assert metadata["kind"] == "vae"
    assert metadata["config"]["latent_dim"] == 2
    assert (metadata["dataset"], metadata["epoch"], metadata["step"]) == ("mnist-5k", 30, 1200)
    assert metadata["metrics"] == {"loss": 101.5, "fid": 12.25}
    assert metadata["history"] == [{"epoch": 1, "loss": 180.0}]
    assert metadata["torch_version"] == torch.__version__
    assert isinstance(metadata["multigen_version"], str)
    assert metadata["created"].endswith("+00:00")


def test_metadata_that_is_not_json_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "model.safetensors"
    with pytest.raises(CheckpointError, match="not JSON-serialisable"):
        save_checkpoint(path, tiny_model("vae"), metadata={"callback": object()})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_training_resumed_from_a_checkpoint_takes_the_same_step_as_uninterrupted_training(tmp_path, kind):
    model = tiny_model(kind)
    optimizers = train_one_step(model)
    path = save_checkpoint(tmp_path / "run.safetensors", model, optimizers=optimizers)

    checkpoint = load_checkpoint(path)
    resumed = checkpoint.model.train()
    resumed_optimizers = resumed.make_optimizers()
    assert checkpoint.optimizer_states.keys() == optimizers.keys()
    for name, optimizer in resumed_optimizers.items():
        optimizer.load_state_dict(checkpoint.optimizer_states[name])

    take_a_step(model, optimizers, seed=2)
    take_a_step(resumed, resumed_optimizers, seed=2)

    assert_same_tensors(resumed.state_dict(), model.state_dict())
    for name, optimizer in optimizers.items():
        assert resumed_optimizers[name].param_groups[0]["betas"] == optimizer.param_groups[0]["betas"]
        first = optimizer.state_dict()["state"][0]
        assert float(resumed_optimizers[name].state_dict()["state"][0]["step"]) == float(first["step"]) == 2


def test_an_optimizer_step_kept_as_a_plain_number_round_trips(tmp_path):
    model = tiny_model("vae")
    optimizers = train_one_step(model)
    for state in optimizers["vae"].state.values():
        state["step"] = float(state["step"])  # how older torch versions keep Adam's step
    path = save_checkpoint(tmp_path / "run.safetensors", model, optimizers=optimizers)

    state_dict = load_checkpoint(path).optimizer_states["vae"]

    assert state_dict["state"][0]["step"] == 1.0
    fresh = tiny_model("vae").make_optimizers()["vae"]
    fresh.load_state_dict(state_dict)
    assert float(fresh.state_dict()["state"][0]["step"]) == 1.0


def test_extra_tensors_such_as_rng_states_and_fixed_noise_round_trip(tmp_path):
    extra = {
        "rng/torch": torch.get_rng_state(),
        "fixed_noise": torch.randn(16, 2),
        "mask": torch.tensor([True, False, True]),
        "steps": torch.tensor(7, dtype=torch.int64),
    }
    path = saved_tiny_checkpoint(tmp_path / "model.safetensors", extra=extra)

    assert_same_tensors(load_checkpoint(path).extra, extra)


def test_tied_weights_are_saved_despite_sharing_storage(tmp_path):
    model = tiny_model("vae")
    model.to_logvar.weight = model.to_mu.weight  # two state_dict entries, one storage

    checkpoint = load_checkpoint(save_checkpoint(tmp_path / "tied.safetensors", model))

    assert torch.equal(checkpoint.model.to_logvar.weight, model.to_mu.weight)


def test_a_model_saved_from_a_non_contiguous_tensor_loads_back(tmp_path):
    model = tiny_model("vae")
    with torch.no_grad():
        model.to_mu.weight.set_(model.to_mu.weight.detach().t().contiguous().t())
    assert not model.to_mu.weight.is_contiguous()

    checkpoint = load_checkpoint(save_checkpoint(tmp_path / "model.safetensors", model))

    assert torch.equal(checkpoint.model.to_mu.weight, model.to_mu.weight)


# -- refusing bad files ------------------------------------------------------------------------


def make_empty(path: Path) -> None:
    path.write_bytes(b"")


def make_truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def make_a_few_bytes(path: Path) -> None:
    path.write_bytes(b"\x01\x02\x03")


def make_garbage(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 64)


def make_torch_pickle(path: Path) -> None:
    torch.save(tiny_model("vae").state_dict(), path)


def make_foreign(path: Path) -> None:
    save_file({"weight": torch.zeros(3)}, path)


def make_foreign_with_metadata(path: Path) -> None:
    save_file({"weight": torch.zeros(3)}, path, metadata={"format": "pt"})


def make_future_version(path: Path) -> None:
    rewrite_metadata(path, lambda document: document.update(schema_version=SCHEMA_VERSION + 1))


def make_unknown_kind(path: Path) -> None:
    rewrite_metadata(path, lambda document: document.update(kind="diffusion"))


def make_config_that_does_not_fit(path: Path) -> None:
    rewrite_metadata(path, lambda document: document["config"].update(latent_dim=5))


def make_flipped_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    header_length = int.from_bytes(data[:8], "little")
    data_start = 8 + header_length
    data[data_start + (len(data) - data_start) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


HEADER_PROBLEMS = {
    "empty": (make_empty, "empty"),
    "truncated": (make_truncated, "truncated or corrupt"),
    "a few bytes": (make_a_few_bytes, "truncated or corrupt"),
    "garbage": (make_garbage, "truncated or corrupt"),
    "torch.save pickle": (make_torch_pickle, "pickle"),
    "foreign safetensors": (make_foreign, "without multigen metadata"),
    "foreign safetensors with metadata": (make_foreign_with_metadata, "without multigen metadata"),
    "future schema version": (make_future_version, "newer multigen"),
    "unknown kind": (make_unknown_kind, "diffusion"),
}
TENSOR_PROBLEMS = {
    "flipped byte in the tensor data": (make_flipped_byte, "checksum"),
    "config that does not fit the weights": (make_config_that_does_not_fit, "but its config needs"),
}


def assert_names_file_in_one_line(error: pytest.ExceptionInfo, path: Path, reason: str) -> None:
    message = str(error.value)
    assert str(path) in message
    assert reason in message
    assert "\n" not in message


@pytest.mark.parametrize("case", list(HEADER_PROBLEMS) + list(TENSOR_PROBLEMS))
def test_a_damaged_foreign_or_too_new_file_is_refused_with_one_line_naming_it(tmp_path, case):
    make, reason = {**HEADER_PROBLEMS, **TENSOR_PROBLEMS}[case]
    path = saved_tiny_checkpoint(tmp_path / "model.safetensors")
    make(path)

    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)

    assert_names_file_in_one_line(error, path, reason)


@pytest.mark.parametrize("case", list(HEADER_PROBLEMS))
def test_reading_only_the_metadata_of_a_bad_file_is_refused_too(tmp_path, case):
    make, reason = HEADER_PROBLEMS[case]
    path = saved_tiny_checkpoint(tmp_path / "model.safetensors")
    make(path)

    with pytest.raises(CheckpointError) as error:
        read_metadata(path)

    assert_names_file_in_one_line(error, path, reason)


def test_a_missing_file_or_a_folder_is_refused_with_a_clear_message(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nowhere.safetensors")
    with pytest.raises(CheckpointError, match="does not exist"):
        read_metadata(tmp_path / "nowhere.safetensors")
    with pytest.raises(CheckpointError, match="is a folder"):
        load_checkpoint(tmp_path)


def test_the_module_never_unpickles():
    trees = [ast.parse(path.read_text()) for path in Path(checkpoints.__file__).parent.glob("*.py")]
    tree = ast.Module(body=[node for tree in trees for node in tree.body], type_ignores=[])
    calls = {
        f"{node.value.id}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
    }
    imports = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not calls & {"torch.load", "pickle.load", "pickle.loads"}
    assert "pickle" not in imports


# -- atomic saves ------------------------------------------------------------------------------


def assert_previous_checkpoint_intact(path: Path) -> None:
    assert sorted(entry.name for entry in path.parent.iterdir()) == [path.name]  # no temporary files left
    checkpoint = load_checkpoint(path)
    assert checkpoint.metadata["epoch"] == 3
    assert_same_tensors(checkpoint.model.state_dict(), tiny_model("vae").state_dict())


def test_a_save_that_fails_at_the_rename_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = saved_tiny_checkpoint(tmp_path / "model.safetensors")

    def failing_replace(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(CheckpointError, match="No space left on device") as error:
        save_checkpoint(path, tiny_model("vae", seed=1), metadata={"epoch": 4})
    monkeypatch.undo()

    assert str(path) in str(error.value)
    assert_previous_checkpoint_intact(path)


def test_a_save_interrupted_halfway_through_writing_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = saved_tiny_checkpoint(tmp_path / "model.safetensors")
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            self.handle.close()

        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            raise KeyboardInterrupt  # what Ctrl+C in the middle of a write looks like

    monkeypatch.setattr(os, "fdopen", lambda *args, **kwargs: HalfWriter(real_fdopen(*args, **kwargs)))
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, tiny_model("vae", seed=1), metadata={"epoch": 4})
    monkeypatch.undo()

    assert_previous_checkpoint_intact(path)


def _saving_process(path: Path, script: str) -> subprocess.Popen:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), str(path)], stdout=subprocess.PIPE,
                            text=True, env=environment)


SAVING_MODEL = f"""
    import os, sys, threading, torch
    from multigen.checkpoints import save_checkpoint
    from multigen.models import build_model
    model = build_model("vae", {TINY_CONFIGS["vae"]!r})
    big = torch.rand(2_000_000)  # 8 MB, so that each save takes a while
    """


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_process_killed_in_the_middle_of_writing_a_checkpoint_leaves_the_previous_one_intact(tmp_path):
    path = tmp_path / "model.safetensors"
    # The child saves epoch 0, then starts saving epoch 1 and is held (forever) once the new file's bytes are
    # written but before they replace the old file: the kill below lands exactly there.
    process = _saving_process(path, SAVING_MODEL + """
    save_checkpoint(sys.argv[1], model, metadata={"epoch": 0}, extra={"big": big})
    real_fsync = os.fsync
    def held_fsync(descriptor):
        real_fsync(descriptor)
        print("writing", flush=True)
        threading.Event().wait()
    os.fsync = held_fsync
    save_checkpoint(sys.argv[1], model, metadata={"epoch": 1}, extra={"big": big})
    """)
    try:
        assert process.stdout.readline().strip() == "writing"
        partial = [p for p in tmp_path.iterdir() if p.name.startswith(".model.safetensors.")]
        assert len(partial) == 1 and partial[0].stat().st_size > 8_000_000  # epoch 1's bytes, not yet in place
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
    assert process.returncode == -signal.SIGKILL  # killed, not finished
    checkpoint = load_checkpoint(path)
    assert checkpoint.metadata["epoch"] == 0 and checkpoint.extra["big"].numel() == 2_000_000
    assert [info.path for info in list_checkpoints(tmp_path)] == [path]  # the leftover temporary file is not listed


@pytest.mark.slow  # a random kill time; the mid-write kill above is the deterministic, default-run version
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_process_killed_while_saving_over_and_over_leaves_its_last_or_next_checkpoint(tmp_path):
    path = tmp_path / "model.safetensors"
    process = _saving_process(path, SAVING_MODEL + """
    epoch = 0
    while True:
        save_checkpoint(sys.argv[1], model, metadata={"epoch": epoch}, extra={"big": big})
        print(epoch, flush=True)
        epoch += 1
    """)
    try:
        reported = [int(process.stdout.readline()) for _ in range(3)]  # three saves done, a fourth under way
    finally:
        process.kill()
        process.wait()
    reported += [int(line) for line in process.stdout.read().split()]  # any reported before the kill landed
    process.stdout.close()
    last = reported[-1]
    checkpoint = load_checkpoint(path)
    # Whole saves only: the last one reported done, or the one after it if the kill came after its rename.
    assert checkpoint.metadata["epoch"] in (last, last + 1) and checkpoint.extra["big"].numel() == 2_000_000
    assert [info.path for info in list_checkpoints(tmp_path)] == [path]


# -- listing, export, cheap metadata -----------------------------------------------------------


def test_listing_skips_a_bad_file_with_a_warning_and_returns_the_good_ones_sorted(tmp_path):
    good = saved_tiny_checkpoint(tmp_path / "vae-2.safetensors")
    nested = saved_tiny_checkpoint(tmp_path / "more" / "gan-2.safetensors", kind="gan")
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a checkpoint at all")
    (tmp_path / "notes.txt").write_text("not a checkpoint either")

    with pytest.warns(UserWarning, match="broken.safetensors"):
        found = list_checkpoints(tmp_path, tmp_path / "missing-folder")

    assert [info.path for info in found] == [nested, good]
    assert [info.kind for info in found] == ["gan", "vae"]
    with pytest.warns(UserWarning):
        assert [info.path for info in list_checkpoints(tmp_path, recursive=False)] == [good]


def test_a_scan_returns_the_good_checkpoints_and_why_each_bad_file_could_not_be_read(tmp_path):
    good = saved_tiny_checkpoint(tmp_path / "vae-2.safetensors")
    (tmp_path / "broken.safetensors").write_bytes(b"not a checkpoint at all")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[:200])

    found, unreadable = scan_checkpoints(tmp_path)

    assert [info.path for info in found] == [good]
    assert [str(error).split(" ")[0] for error in unreadable] == [str(tmp_path / "broken.safetensors"), str(truncated)]
    assert all(isinstance(error, CheckpointError) and "\n" not in str(error) for error in unreadable)


def test_a_listed_checkpoint_has_a_short_human_label(tmp_path):
    save_checkpoint(tmp_path / "vae-2.safetensors", tiny_model("vae"), metadata={"epoch": 30})

    (info,) = list_checkpoints(tmp_path)

    assert info.label == "vae-2.safetensors — VAE, latent 2, epoch 30"


def test_export_drops_optimizer_state_and_extras_and_makes_a_smaller_loadable_file(tmp_path):
    model = tiny_model("vae")
    optimizers = train_one_step(model)
    source = save_checkpoint(
        tmp_path / "run.safetensors",
        model,
        optimizers=optimizers,
        metadata={"epoch": 2, "dataset": "mnist-5k"},
        extra={"rng/torch": torch.get_rng_state()},
    )

    exported = export_checkpoint(source, tmp_path / "shipped" / "vae-2.safetensors")

    assert exported.stat().st_size < source.stat().st_size
    checkpoint = load_checkpoint(exported)
    assert checkpoint.optimizer_states == {} and checkpoint.extra == {}
    assert_same_tensors(checkpoint.model.state_dict(), model.state_dict())
    assert checkpoint.metadata["exported_from"] == "run.safetensors"
    assert (checkpoint.metadata["epoch"], checkpoint.metadata["dataset"]) == (2, "mnist-5k")
    assert "optimizers" not in checkpoint.metadata


def test_stored_slider_directions_round_trip_and_go_with_export_but_not_with_new_weights(tmp_path):
    model = tiny_model("cgan")
    gan, style = torch.randn(2, 3), torch.randn(3, 3)
    source = save_checkpoint(tmp_path / "run.safetensors", model, optimizers=train_one_step(model), metadata={"epoch": 4})
    stored = store_directions(source, {"gan": gan}, measurement={"version": 7})
    stored = store_directions(stored, {"style": style.numpy()}, measurement={"version": 7})  # a second name joins the first
    checkpoint = load_checkpoint(stored)
    assert set(checkpoint.directions) == {"gan", "style"}
    assert torch.equal(checkpoint.directions["gan"], gan) and torch.equal(checkpoint.directions["style"], style)
    assert checkpoint.metadata["directions"] == {"gan": {"shape": [2, 3], "version": 7}, "style": {"shape": [3, 3], "version": 7}}
    assert checkpoint.optimizer_states and checkpoint.metadata["epoch"] == 4  # everything else kept
    assert torch.equal(load_checkpoint(export_checkpoint(stored, tmp_path / "shipped.safetensors")).directions["gan"], gan)
    # Saving weights again (a resumed run) drops them: they were measured for the old weights.
    resaved = load_checkpoint(save_checkpoint(tmp_path / "again.safetensors", checkpoint.model, metadata=checkpoint.metadata))
    assert resaved.directions == {} and "directions" not in resaved.metadata


@pytest.mark.parametrize(("value", "message"), [
    (torch.zeros(2, 4), "must be float32 (k, 3)"),
    (torch.zeros(2, 3, dtype=torch.float64), "must be float32 (k, 3)"),
    (torch.full((2, 3), float("nan")), "NaN or infinity"),
])
def test_directions_that_do_not_fit_the_model_are_refused_and_the_file_kept(tmp_path, value, message):
    path = save_checkpoint(tmp_path / "gan.safetensors", tiny_model("cgan"))
    before = path.read_bytes()
    with pytest.raises(MultigenError, match=re.escape(message)):
        store_directions(path, {"gan": value}, measurement={"version": 1})
    assert path.read_bytes() == before


def test_directions_measured_on_a_file_that_changed_since_are_refused(tmp_path):
    """A run saving the checkpoint while its directions were measured: they belong to the old weights."""
    path = save_checkpoint(tmp_path / "gan.safetensors", tiny_model("cgan", seed=1))
    measured_from = checkpoints.format.read_header(path)[2]
    save_checkpoint(path, tiny_model("cgan", seed=2))  # new weights meanwhile
    before = path.read_bytes()
    with pytest.raises(MultigenError, match="changed while its slider directions were measured"):
        store_directions(path, {"gan": torch.zeros(2, 3)}, measurement={"version": 1}, measured_from=measured_from)
    assert path.read_bytes() == before
    stored = store_directions(path, {"gan": torch.zeros(2, 3)}, measurement={"version": 1},
                              measured_from=checkpoints.format.read_header(path)[2])
    assert load_checkpoint(stored).directions["gan"].shape == (2, 3)


def test_reading_metadata_is_cheap_and_gives_the_same_metadata_as_loading(tmp_path, monkeypatch):
    model = tiny_model("vae")
    path = save_checkpoint(tmp_path / "run.safetensors", model, optimizers=train_one_step(model))
    loaded = load_checkpoint(path).metadata

    def no_tensor_reading(*args, **kwargs):
        raise AssertionError("read_metadata must not read tensors or build a model")

    from multigen.checkpoints import format as file_format

    monkeypatch.setattr(file_format, "load_file", no_tensor_reading)
    monkeypatch.setattr(checkpoints, "build_model", no_tensor_reading)

    assert read_metadata(path) == loaded
