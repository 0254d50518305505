"""Checkpoints: safetensors for the tensors, JSON metadata in the header, atomic writes, never a pickle.

A checkpoint is one ``.safetensors`` file. Its tensors are named by what they hold:

- ``model/{state_dict key}``: the model's weights and buffers;
- ``optimizer/{name}/...``: the tensors of each optimizer's ``state_dict()`` (optional);
- ``extra/{name}``: anything else a caller wants back, such as RNG states or fixed noise (optional);
- ``prior/weights``, ``prior/means``, ``prior/scale_tril``: a VAE's fitted latent prior, a Gaussian mixture
  (``multigen.models.prior``; optional, described by the metadata's ``"prior"``, kept by ``export``);
- ``directions/gan``, ``directions/style``: the slider directions the GAN and Write pages measure for these
  weights (``store_directions``; optional, described by the metadata's ``"directions"``, kept by ``export``).

The header's metadata holds, under the key ``"multigen"``, one JSON document: the format name and
schema version, the model kind and config (enough to rebuild the model), dataset, epoch, step,
metrics, versions, creation time, the non-tensor parts of the optimizer states and whatever the
caller added. A SHA-256 of the tensor data sits next to it, so a damaged file is refused on load.

The file format itself is ``multigen.checkpoints.format``. Files are read with ``safetensors`` only (no ``torch.load``, so no unpickling of untrusted files) and
written to a temporary file that replaces the target in one step, so a crash mid-save leaves the
previous checkpoint as it was.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from multigen.checkpoints.format import (
    CHECKPOINT_SUFFIX,
    DIRECTIONS_PREFIX,
    EXTRA_PREFIX,
    FORMAT,
    MODEL_PREFIX,
    PRIOR_PREFIX,
    SAFETENSORS_DTYPES,
    SCHEMA_VERSION,
    CheckpointError,
    corrupt,
    cpu_tensor,
    decode_optimizer,
    encode_optimizer,
    multigen_version,
    one_line,
    read_checkpoint,
    read_header,
    read_tensors,
    with_prefix,
    write_checkpoint,
)
from multigen.device import resolve_device
from multigen.errors import MultigenError
from multigen.models import MODELS, GenerativeModel, TrainableModel, build_model, display_name, kinds
from multigen.models.prior import MixturePrior

# -- results -----------------------------------------------------------------------------------


@dataclass
class Checkpoint:
    """A loaded checkpoint: the rebuilt model (in eval mode) and everything saved with it."""

    path: Path
    model: nn.Module  # rebuilt from kind + config, weights loaded, .eval(), on the requested device
    metadata: dict[str, Any]  # the full JSON metadata
    optimizer_states: dict[str, dict[str, Any]] = field(default_factory=dict)  # for optimizer.load_state_dict
    extra: dict[str, torch.Tensor] = field(default_factory=dict)  # the extra tensors, on the CPU
    directions: dict[str, torch.Tensor] = field(default_factory=dict)  # stored slider directions, on the CPU

    @property
    def kind(self) -> str:
        """The model kind: ``"vae"``, ``"cvae"``, ``"gan"`` or ``"cgan"``."""
        return self.metadata["kind"]

    @property
    def prior(self) -> MixturePrior | None:
        """The model's fitted latent prior (``multigen.models.prior``), or None: it samples from N(0, I)."""
        return getattr(self.model, "fitted_prior", None)


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


def describe_checkpoint(metadata: Mapping[str, Any]) -> str:
    """A short description of a checkpoint from its metadata, e.g. ``"VAE, latent 16, epoch 30"``."""
    kind = metadata.get("kind", "?")
    config = metadata.get("config") or {}
    parts = [display_name(kind) if kind in MODELS else str(kind).upper()]
    latent = config.get(MODELS[kind].latent_field) if kind in kinds() else None
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
    tensors = {f"{MODEL_PREFIX}{key}": cpu_tensor(value, seen) for key, value in model.state_dict().items()}
    for name, tensor in (extra or {}).items():
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"extra[{name!r}] must be a tensor, got {type(tensor).__name__}.")
        tensors[f"{EXTRA_PREFIX}{name}"] = cpu_tensor(tensor, seen)
    prior = model.fitted_prior if isinstance(model, GenerativeModel) else None
    if prior is not None:
        tensors.update({f"{PRIOR_PREFIX}{name}": cpu_tensor(t, seen) for name, t in prior.tensors().items()})
    document: dict[str, Any] = {"dataset": None, "epoch": None, "step": None, "metrics": {}}
    document.update(metadata or {})
    document.pop("optimizers", None)  # describes this file's tensors only; rebuilt below
    document.pop("prior", None)  # likewise
    document.pop("directions", None)  # measured for other weights (store_directions adds them to these)
    if prior is not None:
        document["prior"] = prior.describe()
    document.update(
        format=FORMAT,
        schema_version=SCHEMA_VERSION,
        kind=kind,
        config=dataclasses.asdict(config),
        multigen_version=multigen_version(),
        torch_version=torch.__version__,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    if optimizers:
        document["optimizers"] = {
            name: encode_optimizer(name, optimizer, tensors, seen) for name, optimizer in optimizers.items()
        }
    return write_checkpoint(path, tensors, document)


def damaged_prior(path: Path, reason: str) -> CheckpointError:
    return CheckpointError(f"{path} has a damaged fitted prior ({one_line(reason)}): fit it again with "
                           f"`multigen fit-prior {path}`.")


def _check_prior_header(path: Path, metadata: Mapping[str, Any], shapes: Mapping[str, Any], model: TrainableModel) -> None:
    """A stored prior's tensor names, shapes and dtypes against its description and the model, from the header."""
    found = with_prefix(shapes, PRIOR_PREFIX)
    description = metadata.get("prior")
    if not found and description is None:
        return
    if not isinstance(model, GenerativeModel) or not model.has_encoder:
        raise damaged_prior(path, f"a {metadata['kind']} has no latent prior to fit")
    components = description.get("components") if isinstance(description, dict) else None
    if isinstance(components, bool) or not isinstance(components, int) or components < 1:
        raise damaged_prior(path, "its description in the metadata is missing or has no component count")
    k, d = components, model.latent_dim
    expected = {"weights": ((k,), "F32"), "means": ((k, d), "F32"), "scale_tril": ((k, d, d), "F32")}
    for name, want in expected.items():
        if name not in found:
            raise damaged_prior(path, f"its tensor {PRIOR_PREFIX}{name} is missing")
        if tuple(found[name][0]) != want[0] or found[name][1] != want[1]:
            raise damaged_prior(path, f"its tensor {name} is {found[name][1]} {list(found[name][0])}, but {k} components of "
                                      f"a latent of size {d} need {want[1]} {list(want[0])}")
    if set(found) != set(expected):
        raise damaged_prior(path, f"it has unexpected tensors {sorted(set(found) - set(expected))[:3]}")


def _attach_prior(path: Path, metadata: Mapping[str, Any], tensors: Mapping[str, torch.Tensor], model: TrainableModel) -> None:
    """Set ``model.fitted_prior`` from the stored prior, checked in full (``MixturePrior``); none: nothing."""
    stored = with_prefix(tensors, PRIOR_PREFIX)
    if not stored:
        return
    try:
        model.fitted_prior = MixturePrior.from_tensors(stored, metadata.get("prior"))
    except (ValueError, TypeError, MultigenError) as error:
        raise damaged_prior(path, str(error)) from None


class _WithoutInitialisation(TorchFunctionMode):
    """Skips ``torch.nn.init``'s functions and the tensor fills they call (the tensor comes back as it was), in the
    thread that enters it. A skeleton on the "meta" device has no values to initialise, and ``normal_`` (nn.Embedding's
    initialisation, in every conditional model) is implemented there by ``torch._refs``, whose first call imports
    ``torch._dynamo``: 1.2-1.8 s on a 2-core machine, paid by the first cGAN or CVAE a process loads."""

    SKIPPED = frozenset({torch.Tensor.normal_, torch.Tensor.uniform_})

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__module__", None) == "torch.nn.init" or func in self.SKIPPED:
            return args[0] if args else (kwargs or {}).get("tensor")
        return func(*args, **(kwargs or {}))


def _validated(path: Path, *, with_prior: bool = True) -> tuple[dict[str, Any], dict[str, torch.Tensor], TrainableModel]:
    """Everything ``load_checkpoint`` checks, in the order that keeps a hostile file cheap: the header's
    metadata; the config, each field typed and bounded; the weights' names, shapes and dtypes against the
    model that config builds (on PyTorch's "meta" device, which allocates nothing), and a fitted prior's
    against its description; only then the tensors themselves, their checksum, that every weight is finite,
    and the prior's values. Returns the metadata, the tensors and the model, built (on the CPU) with its
    weights loaded and its prior attached (``with_prior=False`` leaves a stored prior unread and unchecked)."""
    metadata, shapes, checksum = read_header(path)
    kind = metadata["kind"]
    try:
        with torch.device("meta"), _WithoutInitialisation():
            skeleton = build_model(kind, metadata["config"])
    except MultigenError as error:
        raise corrupt(path, f"its {kind} config cannot be rebuilt: {error}") from None
    expected = {name: (tuple(t.shape), SAFETENSORS_DTYPES.get(t.dtype)) for name, t in skeleton.state_dict().items()}
    found = with_prefix(shapes, MODEL_PREFIX)
    if found.keys() != expected.keys():
        missing, unexpected = sorted(expected.keys() - found.keys()), sorted(found.keys() - expected.keys())
        raise corrupt(path, f"its weights do not fit a {kind} with its config (missing {missing[:3]}, unexpected {unexpected[:3]})")
    for name, want in expected.items():
        if found[name] != want:
            raise corrupt(path, f"its weight {name} is {found[name][1]} {list(found[name][0])}, but its config needs "
                                f"{want[1]} {list(want[0])}")
    if with_prior:
        _check_prior_header(path, metadata, shapes, skeleton)
    tensors = read_tensors(path, checksum)
    for name, tensor in with_prefix(tensors, MODEL_PREFIX).items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise corrupt(path, f"its weight {name} holds NaN or infinity (the run diverged before it was saved)")
    model = build_model(kind, metadata["config"])
    model.load_state_dict(with_prefix(tensors, MODEL_PREFIX), strict=True)
    if with_prior:
        _attach_prior(path, metadata, tensors, model)
    return metadata, tensors, model


def load_checkpoint(
    path: str | os.PathLike[str], *, device: str | torch.device = "cpu", with_prior: bool = True
) -> Checkpoint:
    """Load a checkpoint without unpickling: the rebuilt model in eval mode on ``device``, and the rest.

    A VAE's fitted prior, when the file has one, is set as ``model.fitted_prior`` (it then samples from it by
    default); ``with_prior=False`` leaves it out (what ``multigen fit-prior`` does to replace a damaged one).
    Optimizer states and extras stay on the CPU (``optimizer.load_state_dict`` moves them to the
    parameters' device). Any problem with the file raises ``CheckpointError``, before anything large is
    allocated (see ``_validated``).
    """
    path = Path(path)
    target = resolve_device(device)
    metadata, tensors, model = _validated(path, with_prior=with_prior)
    try:
        optimizer_states = {
            name: decode_optimizer(encoded, tensors) for name, encoded in (metadata.get("optimizers") or {}).items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise corrupt(path, f"its optimizer state is incomplete: {error!r}") from None
    return Checkpoint(
        path=path,
        model=model.to(target).eval(),
        metadata=metadata,
        optimizer_states=optimizer_states,
        extra=with_prefix(tensors, EXTRA_PREFIX),
        directions=with_prefix(tensors, DIRECTIONS_PREFIX),  # checked where they are used (multigen.cache)
    )


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checkpoint's JSON metadata from its header alone (no tensors are read, so it is cheap).

    Raises ``CheckpointError`` for missing, garbage, foreign or too-new files; damage inside the
    tensor data is only found by ``load_checkpoint``.
    """
    metadata, _ = read_checkpoint(Path(path), with_tensors=False)
    return metadata


def _candidates(folders: tuple[str | os.PathLike[str], ...], recursive: bool) -> Iterator[Path]:
    pattern = f"*{CHECKPOINT_SUFFIX}"
    for folder in map(Path, folders):
        if folder.is_file():
            yield folder
        elif folder.is_dir():
            yield from (folder.rglob(pattern) if recursive else folder.glob(pattern))


def scan_checkpoints(
    *folders: str | os.PathLike[str], recursive: bool = True
) -> tuple[list[CheckpointInfo], list[CheckpointError]]:
    """The checkpoints in ``folders`` sorted by path, and why each unreadable file there could not be read (every
    error names its file and what to do); missing folders are skipped quietly."""
    found: list[CheckpointInfo] = []
    unreadable: list[CheckpointError] = []
    for path in sorted(set(_candidates(folders, recursive))):
        if not path.is_file():
            continue
        try:
            found.append(CheckpointInfo(path=path, metadata=read_metadata(path)))
        except CheckpointError as error:
            unreadable.append(error)
    return found, unreadable


def list_checkpoints(*folders: str | os.PathLike[str], recursive: bool = True) -> list[CheckpointInfo]:
    """The checkpoints in ``folders``, sorted by path; bad files are skipped with a warning, missing folders quietly."""
    found, unreadable = scan_checkpoints(*folders, recursive=recursive)
    for error in unreadable:
        warnings.warn(str(error), stacklevel=2)
    return found


def export_checkpoint(source: str | os.PathLike[str], destination: str | os.PathLike[str]) -> Path:
    """Copy a checkpoint for shipping: model weights, a fitted prior, stored slider directions and metadata only (no
    optimizer state or extras), atomically."""
    source, destination = Path(source), Path(destination)
    metadata, tensors, _ = _validated(source)  # what load refuses, export refuses
    metadata = {key: value for key, value in metadata.items() if key != "optimizers"}
    metadata["exported_from"] = source.name
    weights = {name: tensor for name, tensor in tensors.items()
               if name.startswith((MODEL_PREFIX, PRIOR_PREFIX, DIRECTIONS_PREFIX))}
    return write_checkpoint(destination, weights, metadata)


def store_prior(
    path: str | os.PathLike[str], prior: MixturePrior | None, *, out: str | os.PathLike[str] | None = None
) -> Path:
    """Write ``path`` again (or to ``out``) with ``prior`` as its fitted prior, atomically, every other tensor
    and metadata entry kept as they are; ``None`` removes a stored prior. A damaged stored prior is replaced
    (it is not read). Returns the path written."""
    path = Path(path)
    metadata, tensors, model = _validated(path, with_prior=False)
    model.fitted_prior = prior  # refuses a model without an encoder, or a prior of another latent size
    tensors = {name: tensor for name, tensor in tensors.items() if not name.startswith(PRIOR_PREFIX)}
    metadata = {key: value for key, value in metadata.items() if key != "prior"}
    if prior is not None:
        tensors.update({f"{PRIOR_PREFIX}{name}": tensor.detach().cpu().contiguous() for name, tensor in prior.tensors().items()})
        metadata["prior"] = prior.describe()
    return write_checkpoint(Path(out) if out is not None else path, tensors, metadata)


def store_directions(
    path: str | os.PathLike[str], directions: Mapping[str, Any], *, measurement: Mapping[str, Any],
    measured_from: str | None = None, out: str | os.PathLike[str] | None = None,
) -> Path:
    """Write ``path`` again (or to ``out``) with ``directions`` (name -> float32 array (k, latent_dim), such as
    ``multigen.cache.measure_directions`` gives) stored beside its weights, atomically; directions of other names
    and everything else are kept. ``measurement`` (JSON values; ``multigen.cache.directions_measurement``) is kept
    with each: a reader uses only directions of the measurement it makes. ``measured_from``: the tensor checksum
    of the file the directions were measured on (its header's); a file that has changed since is refused, not
    given directions of other weights. Returns the path written."""
    path = Path(path)
    if measured_from is not None and read_header(path)[2] != measured_from:
        raise MultigenError(f"{path} changed while its slider directions were measured (a run saved it?): "
                            "measure them again.")
    metadata, tensors, model = _validated(path, with_prior=False)
    latent_dim = getattr(model, "latent_dim", None)
    described = metadata.get("directions")
    described = dict(described) if isinstance(described, dict) else {}  # a damaged description is replaced
    for name, value in directions.items():
        tensor = torch.as_tensor(value).detach().cpu().contiguous()
        if tensor.dtype != torch.float32 or tensor.ndim != 2 or tensor.shape[1] != latent_dim:
            raise MultigenError(f"Directions {name!r} must be float32 (k, {latent_dim}), got {tensor.dtype} {list(tensor.shape)}.")
        if not bool(torch.isfinite(tensor).all()):
            raise MultigenError(f"Directions {name!r} hold NaN or infinity.")
        tensors[f"{DIRECTIONS_PREFIX}{name}"] = tensor
        described[name] = {"shape": list(tensor.shape), **measurement}
    metadata["directions"] = described
    return write_checkpoint(Path(out) if out is not None else path, tensors, metadata)


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
    "scan_checkpoints",
    "store_directions",
    "store_prior",
]
