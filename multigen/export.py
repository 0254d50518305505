"""ONNX export of the halves of a model that a browser can run: a VAE's or CVAE's decoder (and its
encoder), a GAN's or cGAN's generator.

The exported graph computes exactly what ``GenerativeModel.generate`` computes, in eval mode (BatchNorm
with its running statistics, the averaged generator where there is one): float32 vectors ``z`` (n, d),
and for a conditional model int64 ``labels`` (n,), to float32 ``pixels`` (n, 1, 28, 28) in [0, 1], the
same pixels ``multigen`` returns. An InfoGAN or self-conditioned GAN reads its code from z (the argmax of
its first ``code_categories`` entries) inside the graph, as ``generate`` does, so a code is picked by
moving the largest of those entries into its place (``multigen.explore.noise.with_code``). The encoder
maps ``images`` (n, 1, 28, 28) in [0, 1] (and ``labels`` for a CVAE) to ``mu`` and ``logvar`` (n, d).

What goes in and comes out is written into the file's metadata (``metadata_props["multigen"]``, JSON),
so a page can check the file before it runs it. ``cached_onnx`` exports once per checkpoint's weights
(the SHA-256 of its ``model/`` tensors) and part, into a folder every session of the app shares.
"""

from __future__ import annotations

import io
import json
import os
import threading
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from multigen.cache import prune_oldest, weights_sha256
from multigen.checkpoints import load_checkpoint
from multigen.checkpoints.format import read_header, write_atomically
from multigen.errors import MultigenError
from multigen.models import GenerativeModel, require_encoder

PARTS = ("decoder", "encoder")
OPSET = 17  # ONNX operator set: read by onnxruntime 1.14+ (Python and web)
METADATA_KEY = "multigen"
DEFAULT_CACHE_DIR = ".cache/onnx"
MAX_CACHED = 32  # exports kept per cache folder (a run being trained makes a new one for every epoch looked at)


class _Decoder(nn.Module):
    """z (+ labels) -> pixels in [0, 1]: the model's own ``generate``."""

    def __init__(self, model: GenerativeModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.generate(z, labels)


class _Encoder(nn.Module):
    """images (+ labels) -> (mu, logvar): a VAE's q(z|x)."""

    def __init__(self, model: GenerativeModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.encode(images, labels)


def _signature(model: GenerativeModel, part: str) -> tuple[nn.Module, tuple, list[dict[str, Any]], list[dict[str, Any]]]:
    """The module to trace, example inputs, and the description of its inputs and outputs."""
    labels = [{"name": "labels", "dtype": "int64", "shape": ["n"], "range": [0, model.config.num_classes - 1],
               "meaning": "the digit to draw (one per row)"}] if model.conditional else []
    example_labels = (torch.arange(2) % model.config.num_classes,) if model.conditional else ()
    if part == "decoder":
        inputs = [{"name": "z", "dtype": "float32", "shape": ["n", model.latent_dim],
                   "meaning": "latent (VAE) or noise (GAN) vectors"}, *labels]
        outputs = [{"name": "pixels", "dtype": "float32", "shape": ["n", 1, 28, 28], "range": [0.0, 1.0],
                    "meaning": "the digits, 0 black to 1 white, as multigen returns them"}]
        return _Decoder(model), (torch.zeros(2, model.latent_dim), *example_labels), inputs, outputs
    require_encoder(model, "Exporting an encoder")
    inputs = [{"name": "images", "dtype": "float32", "shape": ["n", 1, 28, 28], "range": [0.0, 1.0],
               "meaning": "digits, 0 black to 1 white"}, *labels]
    outputs = [{"name": name, "dtype": "float32", "shape": ["n", model.latent_dim], "meaning": meaning}
               for name, meaning in (("mu", "posterior means"), ("logvar", "posterior log-variances"))]
    return _Encoder(model), (torch.zeros(2, 1, 28, 28), *example_labels), inputs, outputs


def export_onnx(
    checkpoint: str | os.PathLike[str], out: str | os.PathLike[str], *, part: str = "decoder"
) -> Path:
    """Write ``part`` ("decoder" or "encoder") of the checkpoint's model as an ONNX file at ``out`` (atomically)."""
    import onnx

    if part not in PARTS:
        raise MultigenError(f"Unknown part {part!r}: choose one of {', '.join(PARTS)}.")
    source, out = Path(checkpoint), Path(out)
    loaded = load_checkpoint(source, device="cpu")
    model = loaded.model.eval()
    if not isinstance(model, GenerativeModel):
        raise MultigenError(f"{source} holds a {model.display_name}, which draws nothing: export a vae, cvae, gan or cgan.")
    module, example, inputs, outputs = _signature(model, part)
    names = [spec["name"] for spec in inputs]
    axes = {spec["name"]: {0: "n"} for spec in (*inputs, *outputs)}
    description = {
        "format": "multigen-onnx", "version": 1, "kind": model.kind, "part": part, "latent_dim": model.latent_dim,
        "conditional": model.conditional, "num_classes": int(model.config.num_classes) if model.conditional else 0,
        "code_categories": model.code_categories, "code_from_clusters": model.code_from_clusters,
        "inputs": inputs, "outputs": outputs, "checkpoint": source.name, "dataset": loaded.metadata.get("dataset"),
        # "checkpoint" and its checksum name the file it was first exported from: a cached export serves every
        # checkpoint of the same weights ("weights_sha256", cached_onnx).
        "checkpoint_sha256": read_header(source)[2], "weights_sha256": weights_sha256(source),
    }
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's notes on its own future
        torch.onnx.export(
            module, example, buffer, input_names=names, output_names=[spec["name"] for spec in outputs],
            dynamic_axes=axes, opset_version=OPSET, dynamo=False,
        )
    graph = onnx.load_from_string(buffer.getvalue())
    entry = graph.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(description)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, graph.SerializeToString())  # as checkpoints are: a temporary file, synced, renamed
    return out


def read_onnx_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What an exported file says it takes and gives (``export_onnx``'s description)."""
    import onnx

    try:
        graph = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # noqa: BLE001 - any unreadable file is one line
        raise MultigenError(f"{path} is not an ONNX file multigen can read ({type(error).__name__}).") from None
    entries = {entry.key: entry.value for entry in graph.metadata_props}
    if METADATA_KEY not in entries:
        raise MultigenError(f"{path} was not exported by multigen: export it with `python -m multigen export --format onnx`.")
    return json.loads(entries[METADATA_KEY])


_cache_locks: dict[str, threading.Lock] = {}
_cache_guard = threading.Lock()


def cached_onnx(checkpoint: str | os.PathLike[str], *, part: str = "decoder", cache_dir: str | os.PathLike[str] = DEFAULT_CACHE_DIR) -> Path:
    """The ONNX export of ``part`` of a checkpoint, made once per checkpoint's weights and part and kept in
    ``cache_dir`` as ``<sha256 of its weights>-<part>.onnx`` (sessions asking at once wait for one export; slider
    directions or a prior stored in the file later keep the export, which holds the weights alone)."""
    if part not in PARTS:
        raise MultigenError(f"Unknown part {part!r}: choose one of {', '.join(PARTS)}.")
    checksum = weights_sha256(checkpoint)
    path = Path(cache_dir) / f"{checksum[:32]}-{part}.onnx"
    with _cache_guard:
        lock = _cache_locks.setdefault(str(path), threading.Lock())
    with lock:
        try:
            os.utime(path)  # in use again: the newest, the last that pruning would delete
        except FileNotFoundError:  # never made, or pruned meanwhile (by this process or another sharing the folder)
            export_onnx(checkpoint, path, part=part)
            prune_oldest(path.parent, "*.onnx", MAX_CACHED, never=path)
    return path
