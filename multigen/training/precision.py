"""Mixed precision: the forward passes in bfloat16 where the chip has units for it, everything that keeps score
in float32.

``bf16`` runs each training step under ``torch.autocast(dtype=torch.bfloat16)`` (Micikevicius et al., "Mixed
Precision Training", ICLR 2018; bfloat16 keeps float32's exponent range, so no loss scaling is needed): the
matrix products and convolutions, forward and backward, run in bfloat16 on a CPU's AMX / AVX-512 BF16 units or a
GPU's tensor cores. The weights, the optimizer's state and the BatchNorm running statistics stay float32 (autocast
never changes a parameter), and every loss, the KL term included, is computed from float32 copies of its inputs
(the models' loss functions cast them). Checkpoints hold float32 weights whatever the precision of the run.

``auto`` is bf16 where it is fast (a CUDA device that supports it natively; a CPU with AMX or AVX-512 BF16) and
fp32 elsewhere; PyTorch Lightning's ``precision="bf16-mixed"`` is the same switch.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from multigen.errors import MultigenError

PRECISIONS = ("auto", "fp32", "bf16")
_CPU_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo's names for the bfloat16 units


def _cpu_has_bf16_units() -> bool:
    probes = [getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    try:
        if any(probe is not None and probe() for probe in probes):
            return True
    except RuntimeError:  # a build without the probes' CPU information
        pass
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").split()
    except OSError:  # not Linux: the probes above were the way to know
        return False
    return any(flag in flags for flag in _CPU_FLAGS)


def bf16_is_fast(device: torch.device | str) -> bool:
    """Whether ``device`` has bfloat16 units: a CUDA GPU of compute capability 8.0 or later (tensor cores), a
    CPU with AMX or AVX-512 BF16."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    return device.type == "cpu" and _cpu_has_bf16_units()


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``fp32`` or ``bf16``: what ``precision`` (auto, fp32 or bf16) means on ``device``."""
    if precision not in PRECISIONS:
        raise MultigenError(f"Unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}.")
    device = torch.device(device)
    if precision == "auto":
        return "bf16" if bf16_is_fast(device) else "fp32"
    if precision == "bf16" and device.type not in ("cpu", "cuda"):
        raise MultigenError(f"bfloat16 training runs on a CPU or a CUDA GPU, not on {device.type}: use --precision fp32.")
    return precision


def autocast(precision: str, device: torch.device | str) -> contextlib.AbstractContextManager:
    """The context a training step runs in: bfloat16 autocast for ``bf16`` (a resolved precision), else nothing."""
    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


def describe_precisions(device: str = "auto") -> dict[str, str]:
    """Each choice of precision as a person reads it, ``auto`` with what it picks on ``device`` here."""
    from multigen.device import resolve_device

    picked = resolve_precision("auto", resolve_device(device))
    return {"auto": f"auto ({picked} on this machine)", "fp32": "fp32", "bf16": "bf16 (bfloat16 autocast)"}
