"""Device selection, resolved in one place: ``"auto"`` means CUDA, then MPS, then the CPU."""

from __future__ import annotations

import torch

from multigen.errors import MultigenError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """Turn ``auto|cpu|cuda|mps`` (or ``cuda:1``) into a ``torch.device`` that exists here."""
    if isinstance(name, torch.device):
        return name
    name = str(name).strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    base = name.split(":", 1)[0]
    if base not in DEVICE_CHOICES:
        raise MultigenError(f"Unknown device {name!r}: choose one of {', '.join(DEVICE_CHOICES)}.")
    if base == "cuda" and not torch.cuda.is_available():
        raise MultigenError("CUDA was asked for but no CUDA GPU is available here: use --device cpu or auto.")
    if base == "mps" and not _mps_available():
        raise MultigenError("MPS was asked for but is not available here: use --device cpu or auto.")
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    """A short human description of a device, e.g. ``"CPU (2 threads)"`` or the GPU's name."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"
