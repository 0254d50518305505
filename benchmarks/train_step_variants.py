"""One training step of the VAE and the DCGAN in each variant of the kernels that could speed it up, interleaved.

What ``benchmarks/train_throughput.py`` cannot separate: plain against fused Adam (``multigen.training.kernels``),
channels-last convolution weights, ``torch.compile`` of the networks (``--compile``), and the batch size, in fp32
and bf16 autocast. Every variant is built once, then they take turns, a few steps each, round after round, so that
a drift of the machine's speed falls on all of them alike; the median step time of each is printed (and images/s).

    python benchmarks/train_step_variants.py --rounds 8
    python benchmarks/train_step_variants.py --models gan --batches 64 128 256 --rounds 5
    python benchmarks/train_step_variants.py --models gan --compile --rounds 5
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from multigen.models import build_model
from multigen.training.kernels import fused_optimizers
from multigen.training.precision import autocast

STEPS_PER_TURN = 6  # the first of each turn is not timed (caches, a compiled graph's guards)


def variant(kind: str, *, fused: bool, channels_last: bool, compiled: bool, batch: int):
    """A model, its optimizers, the networks a step calls, a noise generator and a batch of images and labels."""
    torch.manual_seed(0)
    model = build_model(kind)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizers = model.make_optimizers()
    if fused:
        optimizers = fused_optimizers(optimizers, "cpu")
    networks = model.trainable_networks()
    if compiled:
        networks = {name: torch.compile(network) for name, network in networks.items()}
    images, labels = torch.rand(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    return model, optimizers, networks, torch.Generator().manual_seed(1), images, labels


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["vae", "gan"])
    parser.add_argument("--batches", nargs="+", type=int, default=[64])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--compile", action="store_true", help="compare torch.compile instead of the layouts")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args(argv)
    for kind in args.models:
        variants = {}
        layouts = [(True, False, False), (True, False, True)] if args.compile else \
            [(fused, channels_last, False) for fused, channels_last in itertools.product((False, True), repeat=2)]
        for (fused, channels_last, compiled), batch, precision in itertools.product(layouts, args.batches, args.precisions):
            name = (f"{kind} batch {batch} {precision}: {'fused' if fused else 'plain'} Adam"
                    + (", channels_last" if channels_last else "") + (", compiled" if compiled else ""))
            variants[name] = (precision, variant(kind, fused=fused, channels_last=channels_last, compiled=compiled,
                                                 batch=batch))
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, (precision, (model, optimizers, networks, noise, images, labels)) in variants.items():
                for step in range(STEPS_PER_TURN):
                    started = time.perf_counter()
                    with autocast(precision, "cpu"):
                        losses = model.training_step(images, labels, optimizers, generator=noise, networks=networks)
                    float(losses["loss"])
                    if step:
                        times[name].append(time.perf_counter() - started)
        for name, (_, (*_, images, _labels)) in variants.items():
            median = statistics.median(times[name])
            print(f"{name:<60} {median * 1000:7.1f} ms a step  {len(images) / median:6.0f} img/s")


if __name__ == "__main__":
    main()
