"""Device selection, resolved in one place: ``"auto"`` means CUDA, then MPS, then the CPU."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from multigen.errors import MultigenError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
# torch's CPU thread count before anyone changed it (import time), used to give training its cores back.
DEFAULT_THREADS = torch.get_num_threads()


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


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run CPU torch work of the calling thread on one core, then restore the thread's setting.

    For interactive inference on a few vectors: a second OpenMP thread saves nothing there and, while
    a training run keeps the cores busy, waiting for it turns a 1 ms decode into 70 ms. With torch's
    OpenMP backend the setting belongs to the calling thread (and threads it starts), so a training
    thread elsewhere in the process keeps its own.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def use_default_threads() -> None:
    """Give the calling thread torch's default CPU thread count (a training thread started from a
    single-threaded one would otherwise inherit one thread)."""
    torch.set_num_threads(DEFAULT_THREADS)
