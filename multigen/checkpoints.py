"""Checkpoints: safetensors for the tensors, JSON metadata in the header, atomic writes, never a pickle.

A checkpoint is one ``.safetensors`` file. Its tensors are named by what they hold:

- ``model/{state_dict key}``: the model's weights and buffers;
- ``optimizer/{name}/...``: the tensors of each optimizer's ``state_dict()`` (optional);
- ``extra/{name}``: anything else a caller wants back, such as RNG states or fixed noise (optional).

The header's metadata holds, under the key ``"multigen"``, one JSON document: the format name and
schema version, the model kind and config (enough to rebuild the model), dataset, epoch, step,
metrics, versions, creation time, the non-tensor parts of the optimizer states and whatever the
caller added. A SHA-256 of the tensor data sits next to it, so a damaged file is refused on load.

Files are read with ``safetensors`` only (no ``torch.load``, so no unpickling of untrusted files) and
written to a temporary file that replaces the target in one step, so a crash mid-save leaves the
previous checkpoint as it was.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from safetensors.torch import save as serialize_tensors
from torch import nn

from multigen.device import resolve_device
from multigen.errors import MultigenError
from multigen.models import MODELS, TrainableModel, build_model

FORMAT = "multigen-checkpoint"
SCHEMA_VERSION = 1
CHECKPOINT_SUFFIX = ".safetensors"

METADATA_KEY = "multigen"  # header key holding the JSON metadata
CHECKSUM_KEY = "multigen_sha256"  # header key holding the SHA-256 of the tensor data
MODEL_PREFIX = "model/"
OPTIMIZER_PREFIX = "optimizer/"
EXTRA_PREFIX = "extra/"
TENSOR_MARKER = "__tensor__"  # {"__tensor__": name} stands for a tensor stored under that name
FALLBACK_VERSION = "0.1.0"
KIND_NAMES = {"vae": "VAE", "cvae": "CVAE", "gan": "GAN", "cgan": "cGAN", "classifier": "digit classifier"}
READ_ERRORS = (SafetensorError, OSError, ValueError, RuntimeError)  # what reading a damaged file can raise
MAX_DETAIL = 240  # characters of an underlying error quoted in a CheckpointError


class CheckpointError(MultigenError):
    """A checkpoint file is missing, damaged, foreign or too new; the message names the file and the fix."""


# -- results -----------------------------------------------------------------------------------


@dataclass
class Checkpoint:
    """A loaded checkpoint: the rebuilt model (in eval mode) and everything saved with it."""

    path: Path
    model: nn.Module  # rebuilt from kind + config, weights loaded, .eval(), on the requested device
    metadata: dict[str, Any]  # the full JSON metadata
    optimizer_states: dict[str, dict[str, Any]] = field(default_factory=dict)  # for optimizer.load_state_dict
    extra: dict[str, torch.Tensor] = field(default_factory=dict)  # the extra tensors, on the CPU

    @property
    def kind(self) -> str:
        """The model kind: ``"vae"``, ``"cvae"``, ``"gan"`` or ``"cgan"``."""
        return self.metadata["kind"]


@dataclass
class CheckpointInfo:
    """A checkpoint found on disk, described by its header only (no tensors read)."""

    path: Path
    metadata: dict[str, Any]

    @property
    def kind(self) -> str:
        """The model kind: ``"vae"``, ``"cvae"``, ``"gan"`` or ``"cgan"``."""
        return self.metadata["kind"]

    @property
    def label(self) -> str:
        """A short human label such as ``"vae-16.safetensors — VAE, latent 16, epoch 30"``."""
        return f"{self.path.name} — {describe_checkpoint(self.metadata)}"


# -- helpers -----------------------------------------------------------------------------------


def _multigen_version() -> str:
    version = getattr(sys.modules.get("multigen"), "__version__", None)
    return version if isinstance(version, str) else FALLBACK_VERSION


def _one_line(detail: object) -> str:
    text = " ".join(str(detail).split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


def _unusable(path: Path, reason: str) -> CheckpointError:
    return CheckpointError(f"{path} is not a multigen checkpoint ({reason}): re-export or retrain it.")


def _corrupt(path: Path, detail: object) -> CheckpointError:
    return _unusable(path, f"it is truncated or corrupt: {_one_line(detail)}")


def _json_default(value: Any) -> Any:
    """Turn the few non-JSON values callers commonly pass (0-d tensors, numpy scalars, paths) into JSON."""
    if isinstance(value, torch.Tensor):
        if value.numel() == 1:
            return value.item()
        raise TypeError(f"a tensor of shape {tuple(value.shape)} is not JSON-serialisable (put it in extra=)")
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "item") and hasattr(value, "dtype"):  # numpy scalars and 1-element arrays
        return value.item()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _cpu_tensor(tensor: torch.Tensor, seen_storages: set[tuple[int, int]]) -> torch.Tensor:
    """A contiguous CPU copy-if-needed that shares storage with no other tensor being saved."""
    tensor = tensor.detach().to("cpu").contiguous()
    if tensor.numel() == 0:
        return tensor
    storage = tensor.untyped_storage()
    key = (storage.data_ptr(), storage.nbytes())
    if key in seen_storages:  # tied weights: safetensors refuses shared storage, so save a copy
        return tensor.clone()
    seen_storages.add(key)
    return tensor


def _tensor_checksum(tensors: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and raw bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def _encode(value: Any, name: str, tensors: dict[str, torch.Tensor], seen: set[tuple[int, int]]) -> Any:
    """Replace tensors inside ``value`` by ``{"__tensor__": name}``, storing them in ``tensors``."""
    if isinstance(value, torch.Tensor):
        tensors[name] = _cpu_tensor(value, seen)
        return {TENSOR_MARKER: name}
    if isinstance(value, Mapping):
        return {str(key): _encode(item, f"{name}/{key}", tensors, seen) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item, f"{name}/{index}", tensors, seen) for index, item in enumerate(value)]
    return value


def _decode(value: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """Inverse of ``_encode``; a missing tensor raises ``KeyError``."""
    if isinstance(value, dict):
        if set(value) == {TENSOR_MARKER}:
            return tensors[value[TENSOR_MARKER]]
        return {key: _decode(item, tensors) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item, tensors) for item in value]
    return value


def _encode_optimizer(
    name: str, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], seen: set[tuple[int, int]]
) -> dict[str, Any]:
    state_dict = optimizer.state_dict()
    prefix = f"{OPTIMIZER_PREFIX}{name}"
    return {
        "state": {
            str(index): _encode(values, f"{prefix}/state/{index}", tensors, seen)
            for index, values in state_dict["state"].items()
        },
        "param_groups": [
            _encode(group, f"{prefix}/param_groups/{number}", tensors, seen)
            for number, group in enumerate(state_dict["param_groups"])
        ],
    }


def _decode_optimizer(encoded: dict[str, Any], tensors: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    state = {int(index): _decode(values, tensors) for index, values in encoded["state"].items()}
    groups = []
    for group in encoded["param_groups"]:
        group = _decode(group, tensors)
        # JSON has no tuples; torch optimizers keep their list-valued settings (betas, etas) as tuples.
        groups.append({key: tuple(v) if isinstance(v, list) and key != "params" else v for key, v in group.items()})
    return {"state": state, "param_groups": groups}


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable; not every platform can open a folder, which is fine."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, sync it, then rename it onto ``path``."""
    folder = path.parent
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    descriptor, temporary_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(temporary_name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(folder)


def _write_checkpoint(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> Path:
    try:
        document = json.dumps(metadata, default=_json_default)
    except (TypeError, ValueError) as error:
        raise CheckpointError(
            f"Could not save {path}: its metadata is not JSON-serialisable ({_one_line(error)}); "
            "pass numbers, strings, lists and dicts."
        ) from None
    header = {METADATA_KEY: document, CHECKSUM_KEY: _tensor_checksum(tensors)}
    data = serialize_tensors(tensors, metadata=header)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, data)
    except OSError as error:
        raise CheckpointError(
            f"Could not save {path} ({_one_line(error)}): check the folder is writable and has free space; "
            "any previous checkpoint there is unchanged."
        ) from None
    return path


def _looks_like_pickle(path: Path) -> bool:
    with open(path, "rb") as handle:
        start = handle.read(4)
    is_zip = start.startswith(b"PK\x03\x04")  # torch.save's default (zip) format
    is_pickle = len(start) >= 2 and start[0] == 0x80 and 2 <= start[1] <= 5  # legacy torch.save, pickle.dump
    return is_zip or is_pickle


def _check_file(path: Path) -> None:
    if not path.exists():
        raise CheckpointError(f"{path} does not exist: check the path, or train or export a model there first.")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint: pass the path of a {CHECKPOINT_SUFFIX} file.")
    if path.stat().st_size == 0:
        raise _unusable(path, "the file is empty")


def _explain_unreadable(path: Path, error: Exception) -> CheckpointError:
    if isinstance(error, OSError) and not isinstance(error, SafetensorError):
        return CheckpointError(f"Could not read {path} ({_one_line(error)}): check that the file is readable.")
    if _looks_like_pickle(path):
        return CheckpointError(
            f"{path} is a PyTorch pickle (torch.save) file, which multigen never loads because unpickling "
            "can run arbitrary code: re-export it as a multigen checkpoint or retrain it."
        )
    return _corrupt(path, error)


def _parse_metadata(path: Path, header: Mapping[str, str] | None) -> dict[str, Any]:
    """Validate the header's metadata and return the JSON document."""
    if not header or METADATA_KEY not in header:
        raise CheckpointError(
            f"{path} is a safetensors file without multigen metadata (probably saved by another tool): "
            "load a checkpoint saved by multigen, or re-export the model with multigen."
        )
    try:
        metadata = json.loads(header[METADATA_KEY])
    except json.JSONDecodeError as error:
        raise _corrupt(path, f"its metadata is not valid JSON: {error}") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} has a {METADATA_KEY!r} header that is not a {FORMAT} (probably saved by another tool): "
            "load a checkpoint saved by multigen."
        )
    version = metadata.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _corrupt(path, f"its schema_version {version!r} is not a positive whole number")
    if version > SCHEMA_VERSION:
        raise CheckpointError(
            f"{path} was saved by a newer multigen (checkpoint schema {version}; this version reads up to "
            f"{SCHEMA_VERSION}): upgrade multigen to load it."
        )
    if metadata.get("kind") not in MODELS:
        raise _corrupt(path, f"its model kind {metadata.get('kind')!r} is not one of {', '.join(MODELS)}")
    if not isinstance(metadata.get("config"), dict):
        raise _corrupt(path, "its model config is missing")
    if not isinstance(header.get(CHECKSUM_KEY), str):
        raise _corrupt(path, "its tensor checksum is missing")
    return metadata


def _read(path: Path, *, with_tensors: bool) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The validated metadata and, when asked, the checksum-verified tensors (on the CPU)."""
    _check_file(path)
    try:
        with safe_open(path, framework="pt", device="cpu") as handle:
            header = handle.metadata()
    except READ_ERRORS as error:
        raise _explain_unreadable(path, error) from None
    metadata = _parse_metadata(path, header)
    if not with_tensors:
        return metadata, {}
    try:
        tensors = load_file(path, device="cpu")
    except READ_ERRORS as error:
        raise _explain_unreadable(path, error) from None
    if _tensor_checksum(tensors) != header[CHECKSUM_KEY]:
        raise CheckpointError(
            f"{path} is corrupt (its tensor data does not match the checksum in its header, e.g. after a damaged "
            "download or disk): re-download, re-export or retrain it."
        )
    return metadata, tensors


def _with_prefix(tensors: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {name[len(prefix) :]: tensor for name, tensor in tensors.items() if name.startswith(prefix)}


def describe_checkpoint(metadata: Mapping[str, Any]) -> str:
    """A short description of a checkpoint from its metadata, e.g. ``"VAE, latent 16, epoch 30"``."""
    kind = metadata.get("kind", "?")
    config = metadata.get("config") or {}
    parts = [KIND_NAMES.get(kind, str(kind).upper())]
    latent = config.get("latent_dim", config.get("noise_dim"))
    if latent is not None:
        parts.append(f"latent {latent}")
    if metadata.get("epoch") is not None:
        parts.append(f"epoch {metadata['epoch']}")
    if isinstance(metadata.get("dataset"), str):
        parts.append(metadata["dataset"])
    if isinstance(metadata.get("world_size"), int) and metadata["world_size"] > 1:
        parts.append(f"{metadata['world_size']} processes")  # trained under torchrun
    return ", ".join(parts)


# -- public API --------------------------------------------------------------------------------


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    *,
    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
    metadata: Mapping[str, Any] | None = None,
    extra: Mapping[str, torch.Tensor] | None = None,
) -> Path:
    """Save a model (and optionally its optimizers and extra tensors) atomically; returns the path.

    ``metadata`` is merged into the top-level JSON (dataset, epoch, step, metrics, history, ...);
    the keys that describe the file itself (format, schema_version, kind, config, versions, created)
    are always computed here. Tensors are moved to the CPU before writing; parent folders are created.
    """
    path = Path(path)
    if not isinstance(model, TrainableModel) or model.kind not in MODELS or not dataclasses.is_dataclass(model.config):
        raise TypeError(f"save_checkpoint needs a multigen model with .kind and .config, got {type(model).__name__}.")
    kind, config = model.kind, model.config
    seen: set[tuple[int, int]] = set()
    tensors = {f"{MODEL_PREFIX}{key}": _cpu_tensor(value, seen) for key, value in model.state_dict().items()}
    for name, tensor in (extra or {}).items():
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"extra[{name!r}] must be a tensor, got {type(tensor).__name__}.")
        tensors[f"{EXTRA_PREFIX}{name}"] = _cpu_tensor(tensor, seen)
    document: dict[str, Any] = {"dataset": None, "epoch": None, "step": None, "metrics": {}}
    document.update(metadata or {})
    document.pop("optimizers", None)  # describes this file's tensors only; rebuilt below
    document.update(
        format=FORMAT,
        schema_version=SCHEMA_VERSION,
        kind=kind,
        config=dataclasses.asdict(config),
        multigen_version=_multigen_version(),
        torch_version=torch.__version__,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    if optimizers:
        document["optimizers"] = {
            name: _encode_optimizer(name, optimizer, tensors, seen) for name, optimizer in optimizers.items()
        }
    return _write_checkpoint(path, tensors, document)


def load_checkpoint(path: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint without unpickling: the rebuilt model in eval mode on ``device``, and the rest.

    Optimizer states and extras stay on the CPU (``optimizer.load_state_dict`` moves them to the
    parameters' device). Any problem with the file raises ``CheckpointError``.
    """
    path = Path(path)
    target = resolve_device(device)
    metadata, tensors = _read(path, with_tensors=True)
    kind = metadata["kind"]
    try:
        model = build_model(kind, metadata["config"])
    except MultigenError as error:
        raise _corrupt(path, f"its {kind} config cannot be rebuilt: {error}") from None
    try:
        model.load_state_dict(_with_prefix(tensors, MODEL_PREFIX), strict=True)
    except RuntimeError as error:
        raise _corrupt(path, f"its weights do not fit a {kind} with its config: {error}") from None
    try:
        optimizer_states = {
            name: _decode_optimizer(encoded, tensors) for name, encoded in (metadata.get("optimizers") or {}).items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise _corrupt(path, f"its optimizer state is incomplete: {error!r}") from None
    return Checkpoint(
        path=path,
        model=model.to(target).eval(),
        metadata=metadata,
        optimizer_states=optimizer_states,
        extra=_with_prefix(tensors, EXTRA_PREFIX),
    )


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checkpoint's JSON metadata from its header alone (no tensors are read, so it is cheap).

    Raises ``CheckpointError`` for missing, garbage, foreign or too-new files; damage inside the
    tensor data is only found by ``load_checkpoint``.
    """
    metadata, _ = _read(Path(path), with_tensors=False)
    return metadata


def _candidates(folders: tuple[str | os.PathLike[str], ...], recursive: bool) -> Iterator[Path]:
    pattern = f"*{CHECKPOINT_SUFFIX}"
    for folder in map(Path, folders):
        if folder.is_file():
            yield folder
        elif folder.is_dir():
            yield from (folder.rglob(pattern) if recursive else folder.glob(pattern))


def list_checkpoints(*folders: str | os.PathLike[str], recursive: bool = True) -> list[CheckpointInfo]:
    """The checkpoints in ``folders``, sorted by path; bad files are skipped with a warning, missing folders quietly."""
    found: list[CheckpointInfo] = []
    for path in sorted(set(_candidates(folders, recursive))):
        if not path.is_file():
            continue
        try:
            found.append(CheckpointInfo(path=path, metadata=read_metadata(path)))
        except CheckpointError as error:
            warnings.warn(str(error), stacklevel=2)
    return found


def export_checkpoint(source: str | os.PathLike[str], destination: str | os.PathLike[str]) -> Path:
    """Copy a checkpoint for shipping: model weights and metadata only (no optimizer state or extras), atomically."""
    source, destination = Path(source), Path(destination)
    metadata, tensors = _read(source, with_tensors=True)
    metadata = {key: value for key, value in metadata.items() if key != "optimizers"}
    metadata["exported_from"] = source.name
    weights = {name: tensor for name, tensor in tensors.items() if name.startswith(MODEL_PREFIX)}
    return _write_checkpoint(destination, weights, metadata)


__all__ = [
    "CHECKPOINT_SUFFIX",
    "FORMAT",
    "SCHEMA_VERSION",
    "Checkpoint",
    "CheckpointError",
    "CheckpointInfo",
    "describe_checkpoint",
    "export_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "read_metadata",
    "save_checkpoint",
]
