"""Layers the models share that ``torch.nn`` has, but slower than they need be on a CPU.

``FastDropout`` is ``nn.Dropout`` (Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from
Overfitting", JMLR 2014) with its mask drawn from 16 random bits an element. On a CPU, ``nn.Dropout`` draws its
mask with ``bernoulli_``, one random number an element: for the DCGAN discriminator's 800,000 activations a batch
that took 9 ms, against 2 ms here, and its six dropouts were a fifth of the whole training step
(``benchmarks/README.md``, "Training throughput").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_LEVELS = 1 << 16  # a drop probability is kept to 1/65,536: each element's mask reads 16 random bits


class FastDropout(nn.Module):
    """Zero each element with probability ``p`` while training and scale the rest by 1 / (1 - p); nothing in eval.

    On a CPU the mask comes from one 64-bit draw per four elements, so ``p`` is rounded to a multiple of 1/65,536
    (and the scale is that of the rounded ``p``, so the output's expectation is the input's exactly). Elsewhere
    (CUDA, MPS, where dropout is already a fused kernel) it is ``F.dropout``. Like ``nn.Dropout`` it draws from
    the global random generator, so ``torch.manual_seed`` makes it repeatable. No parameters, no buffers: a
    checkpoint of a network with ``nn.Dropout`` in its place loads as it is.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"A dropout probability must be in [0, 1), not {p}.")
        self.p = p

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        dropped = round(self.p * _LEVELS)
        if x.device.type != "cpu" or dropped == _LEVELS:  # (a p within 1/131,072 of 1 would keep nothing)
            return F.dropout(x, self.p, training=True)
        # The whole int64 range (``from`` = its least value, ``to`` = None), so that all 16 bits of each quarter
        # are random; an int16 is then uniform over [-32768, 32767], and below the threshold with chance p.
        bits = torch.empty((x.numel() + 3) // 4, dtype=torch.int64, device=x.device).random_(-(1 << 63), None)
        kept = bits.view(torch.int16)[: x.numel()].view(x.shape) >= dropped - _LEVELS // 2
        return x * kept.to(x.dtype).mul_(_LEVELS / (_LEVELS - dropped))
