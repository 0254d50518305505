"""The checkpoint file format, below the public API of ``multigen.checkpoints``: tensor names and
the JSON header, optimizer states as tensors plus JSON, a SHA-256 over the tensor data, atomic writes,
and reading a file with ``safetensors`` only (never ``torch.load``), every failure a ``CheckpointError``
that names the file."""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from safetensors.torch import save as serialize_tensors

from multigen.errors import MultigenError
from multigen.models import MODELS

FORMAT = "multigen-checkpoint"
SCHEMA_VERSION = 1
CHECKPOINT_SUFFIX = ".safetensors"

METADATA_KEY = "multigen"  # header key holding the JSON metadata
CHECKSUM_KEY = "multigen_sha256"  # header key holding the SHA-256 of the tensor data
MODEL_PREFIX = "model/"
OPTIMIZER_PREFIX = "optimizer/"
EXTRA_PREFIX = "extra/"
PRIOR_PREFIX = "prior/"  # a VAE's fitted latent prior (multigen.models.prior): weights, means, scale_tril
DIRECTIONS_PREFIX = "directions/"  # the pages' slider directions, measured for these weights (store_directions)
TENSOR_MARKER = "__tensor__"  # {"__tensor__": name} stands for a tensor stored under that name
FALLBACK_VERSION = "0.1.0"
READ_ERRORS = (SafetensorError, OSError, ValueError, RuntimeError)  # what reading a damaged file can raise
STALE_SECONDS = 600  # a temporary checkpoint file this old belongs to a save that was killed
MAX_DETAIL = 240  # characters of an underlying error quoted in a CheckpointError


class CheckpointError(MultigenError):
    """A checkpoint file is missing, damaged, foreign or too new; the message names the file and the fix."""




def multigen_version() -> str:
    version = getattr(sys.modules.get("multigen"), "__version__", None)
    return version if isinstance(version, str) else FALLBACK_VERSION


def one_line(detail: object) -> str:
    text = " ".join(str(detail).split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


def unusable(path: Path, reason: str) -> CheckpointError:
    return CheckpointError(f"{path} is not a multigen checkpoint ({reason}): re-export or retrain it.")


def corrupt(path: Path, detail: object) -> CheckpointError:
    return unusable(path, f"it is truncated or corrupt: {one_line(detail)}")


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


def cpu_tensor(tensor: torch.Tensor, seen_storages: set[tuple[int, int]]) -> torch.Tensor:
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
        tensors[name] = cpu_tensor(value, seen)
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


def encode_optimizer(
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


def decode_optimizer(encoded: dict[str, Any], tensors: Mapping[str, torch.Tensor]) -> dict[str, Any]:
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


def _remove_stale_temporaries(path: Path) -> None:
    """Delete what a killed save of ``path`` left behind: its own temporary files (``.NAME.*.tmp``, the pattern
    below), once older than ``STALE_SECONDS`` so that a save still under way elsewhere is never touched."""
    now = time.time()
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            if now - leftover.stat().st_mtime > STALE_SECONDS:
                leftover.unlink()
        except OSError:  # gone already, or not ours to delete: nothing to clean
            pass


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, sync it, then rename it onto ``path``."""
    folder = path.parent
    _remove_stale_temporaries(path)
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


def write_checkpoint(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> Path:
    try:
        document = json.dumps(metadata, default=_json_default)
    except (TypeError, ValueError) as error:
        raise CheckpointError(
            f"Could not save {path}: its metadata is not JSON-serialisable ({one_line(error)}); "
            "pass numbers, strings, lists and dicts."
        ) from None
    header = {METADATA_KEY: document, CHECKSUM_KEY: _tensor_checksum(tensors)}
    data = serialize_tensors(tensors, metadata=header)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, data)
    except OSError as error:
        raise CheckpointError(
            f"Could not save {path} ({one_line(error)}): check the folder is writable and has free space; "
            "any previous checkpoint there is unchanged."
        ) from None
    return path


def looks_like_pickle(path: Path) -> bool:
    with open(path, "rb") as handle:
        start = handle.read(4)
    is_zip = start.startswith(b"PK\x03\x04")  # torch.save's default (zip) format
    is_pickle = len(start) >= 2 and start[0] == 0x80 and 2 <= start[1] <= 5  # legacy torch.save, pickle.dump
    return is_zip or is_pickle


def check_file(path: Path) -> None:
    if not path.exists():
        raise CheckpointError(f"{path} does not exist: check the path, or train or export a model there first.")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint: pass the path of a {CHECKPOINT_SUFFIX} file.")
    if path.stat().st_size == 0:
        raise unusable(path, "the file is empty")


def _explain_unreadable(path: Path, error: Exception) -> CheckpointError:
    if isinstance(error, OSError) and not isinstance(error, SafetensorError):
        return CheckpointError(f"Could not read {path} ({one_line(error)}): check that the file is readable.")
    if looks_like_pickle(path):
        return CheckpointError(
            f"{path} is a PyTorch pickle (torch.save) file, which multigen never loads because unpickling "
            "can run arbitrary code: re-export it as a multigen checkpoint or retrain it."
        )
    return corrupt(path, error)


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
        raise corrupt(path, f"its metadata is not valid JSON: {error}") from None
    except RecursionError:  # [[[[... nested deeper than any metadata multigen writes
        raise corrupt(path, "its metadata is nested too deeply to be multigen's") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} has a {METADATA_KEY!r} header that is not a {FORMAT} (probably saved by another tool): "
            "load a checkpoint saved by multigen."
        )
    version = metadata.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise corrupt(path, f"its schema_version {version!r} is not a positive whole number")
    if version > SCHEMA_VERSION:
        raise CheckpointError(
            f"{path} was saved by a newer multigen (checkpoint schema {version}; this version reads up to "
            f"{SCHEMA_VERSION}): upgrade multigen to load it."
        )
    if metadata.get("kind") not in MODELS:
        raise corrupt(path, f"its model kind {metadata.get('kind')!r} is not one of {', '.join(MODELS)}")
    if not isinstance(metadata.get("config"), dict):
        raise corrupt(path, "its model config is missing")
    if not isinstance(header.get(CHECKSUM_KEY), str):
        raise corrupt(path, "its tensor checksum is missing")
    return metadata


def read_header(path: Path) -> tuple[dict[str, Any], dict[str, tuple[tuple[int, ...], str]], str]:
    """The validated metadata, each tensor's (shape, safetensors dtype such as "F32") and the tensor checksum,
    read from the header alone: no tensor is loaded."""
    check_file(path)
    try:
        with safe_open(path, framework="pt", device="cpu") as handle:
            header = handle.metadata()
            shapes = {}
            for name in handle.keys():  # noqa: SIM118 - a safetensors handle is not iterable
                piece = handle.get_slice(name)
                shapes[name] = (tuple(piece.get_shape()), piece.get_dtype())
    except READ_ERRORS as error:
        raise _explain_unreadable(path, error) from None
    metadata = _parse_metadata(path, header)
    return metadata, shapes, header[CHECKSUM_KEY]


def tensors_checksum(path: Path, prefixes: tuple[str, ...]) -> str:
    """The SHA-256 of the file's tensors whose names start with one of ``prefixes``, as the header's checksum is
    made (so a file holding only those tensors gives its header's checksum); only those tensors are read.

    What a page computes from the weights alone (an encoding, an evaluation) is keyed by this, not by the whole
    file's checksum: storing slider directions or a fitted prior in the file then leaves those results valid."""
    read_header(path)  # a missing, pickled or damaged file is named in one line before anything is read
    try:
        with safe_open(path, framework="pt", device="cpu") as handle:
            names = [name for name in handle.keys() if name.startswith(prefixes)]  # noqa: SIM118 - not iterable
            return _tensor_checksum({name: handle.get_tensor(name) for name in names})
    except READ_ERRORS as error:
        raise _explain_unreadable(path, error) from None


def read_tensors(path: Path, checksum: str) -> dict[str, torch.Tensor]:
    """Every tensor of the file (on the CPU), verified against the header's checksum."""
    try:
        tensors = load_file(path, device="cpu")
    except READ_ERRORS as error:
        raise _explain_unreadable(path, error) from None
    if _tensor_checksum(tensors) != checksum:
        raise CheckpointError(
            f"{path} is corrupt (its tensor data does not match the checksum in its header, e.g. after a damaged "
            "download or disk): re-download, re-export or retrain it."
        )
    return tensors


def read_checkpoint(path: Path, *, with_tensors: bool) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The validated metadata and, when asked, the checksum-verified tensors (on the CPU)."""
    metadata, _, checksum = read_header(path)
    return metadata, (read_tensors(path, checksum) if with_tensors else {})


def with_prefix(tensors: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The entries whose names start with ``prefix``, under the rest of their names."""
    return {name[len(prefix) :]: tensor for name, tensor in tensors.items() if name.startswith(prefix)}


SAFETENSORS_DTYPES = {  # torch dtype -> the name safetensors writes in a header
    torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL",
}

