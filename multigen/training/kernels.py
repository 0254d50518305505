"""Fused optimizer updates: the same training step, fewer passes over the weights.

PyTorch's Adam, AdamW and SGD can update every parameter of a group in one fused kernel instead of a handful of
element-wise passes per tensor (``torch.optim.Adam(fused=True)``; on CPUs since PyTorch 2.4, on CUDA before). For
the small models here the update is a large share of a step: the VAE's step takes 16.5 ms instead of 22 in bf16 on
this project's 2-core CPU (``benchmarks/train_step_variants.py``). The trainer fuses every run's optimizers;
the models' own ``make_optimizers`` stay plain, so a model built outside the trainer (the benchmark's classic
reference loop, the tests) trains as the papers' code does.

Tried and left out, measured the same way: channels-last convolution weights (no gain on this CPU, with or
without bf16), ``torch.compile`` of the DCGAN's networks (15-35 s to compile, then slower steps) and larger
batches (10-15% more images/s at most, and another training).
"""

from __future__ import annotations

import torch

_FUSED = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)  # optimizers with a fused implementation


def fused_optimizers(optimizers: dict[str, torch.optim.Optimizer], device: torch.device | str) -> dict[str, torch.optim.Optimizer]:
    """The same optimizers (class, parameter groups, settings) with ``fused=True`` where PyTorch has a fused kernel
    for them on ``device`` (a CPU or a CUDA GPU, float parameters); the others as they are. Call it before any
    state is loaded or any step taken: a new optimizer starts empty."""
    if torch.device(device).type not in ("cpu", "cuda"):
        return dict(optimizers)
    fused = {}
    for name, optimizer in optimizers.items():
        parameters = [p for group in optimizer.param_groups for p in group["params"]]
        if type(optimizer) not in _FUSED or not all(p.is_floating_point() for p in parameters):
            fused[name] = optimizer
            continue
        # Each group carries every setting (a group's own overrides the defaults), so both say fused, and not foreach.
        groups = [{**group, "fused": True, "foreach": None} for group in optimizer.param_groups]
        fused[name] = type(optimizer)(groups, **{**optimizer.defaults, "fused": True, "foreach": None})
    return fused


def with_kernels_of(optimizer: torch.optim.Optimizer, state: dict) -> dict:
    """A saved optimizer ``state`` (``state_dict()``) set to run on ``optimizer``'s kernels (fused or not): loading a
    state restores each group's settings as saved, and a run resumed from a checkpoint of a plain optimizer (an older
    multigen, another device) should run fused all the same, with the same moments and step counts."""
    kernels = {key: optimizer.defaults[key] for key in ("fused", "foreach") if key in optimizer.defaults}
    return {**state, "param_groups": [{**group, **kernels} for group in state["param_groups"]]}
