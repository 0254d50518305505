"""Nearest-training-digit lookup: how long the copy check takes for one generated digit.

``multigen.evaluation.perceptual.nearest_training_digits`` computes the perceptual features of the 4,500
training digits of ``mnist-5k`` once per classifier and keeps them; after that a lookup is the
query's classifier pass plus one matrix-vector product over 4,500 x 4,832 numbers and a top-k.
This script times, in one process on the device the app uses:

- the first lookup, which builds those training features (once per process);
- ``--lookups`` lookups of one digit (k = ``--k``) on one torch thread (as the app's pages run them,
  ``multigen.device.single_threaded``) and on torch's default threads: median and p95;
- for scale, in the same process: the query's features alone (``perceptual_features`` of one digit)
  and the GAN page's own model call (``noise.generate`` of one vector with the shipped cGAN).

Goal: a lookup well under 50 ms on the CPU.

    python benchmarks/nearest_lookup.py --lookups 200
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.ui_latency import print_table, summary, time_calls
from multigen.checkpoints import load_checkpoint
from multigen.data import load_dataset
from multigen.device import describe_device, resolve_device, single_threaded
from multigen.evaluation import load_classifier
from multigen.evaluation.perceptual import nearest_training_digits, perceptual_features
from multigen.explore.noise import generate, noise_vector
from multigen.images import to_uint8

LOOKUP_GOAL_MS = 50.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=200, help="lookups timed per setting (default 200)")
    parser.add_argument("--k", type=int, default=5, help="training digits returned per lookup (default 5)")
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints" / "cgan.safetensors",
                        help="the GAN whose generate() is timed for scale (default the shipped cGAN)")
    args = parser.parse_args(argv)

    device = resolve_device("auto")
    classifier = load_classifier(device=device)
    queries = to_uint8(load_dataset("mnist-5k", "val").images)  # real unseen digits stand in for samples
    print(f"device: {describe_device(device)}; torch default threads {torch.get_num_threads()}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.lookups} lookups of 1 digit, k={args.k}")

    started = time.perf_counter()
    with single_threaded():
        nearest_training_digits(queries[:1], k=args.k, classifier=classifier)
    print(f"first lookup, building the training split's features (1 thread): {time.perf_counter() - started:.2f} s")

    turn = itertools.count()

    def lookup() -> None:  # a different validation digit each time
        index = next(turn) % len(queries)
        nearest_training_digits(queries[index : index + 1], k=args.k, classifier=classifier)

    def features() -> None:
        perceptual_features(queries[:1], classifier=classifier)

    model = load_checkpoint(args.checkpoint, device=device).model
    z = noise_vector(0, model.latent_dim)
    label = 3 if model.conditional else None
    goal = f"< {LOOKUP_GOAL_MS:.0f} ms"
    rows = []
    with single_threaded():
        rows.append(("nearest_training_digits, 1 digit (1 thread, as the pages)",
                     *summary(time_calls(lookup, args.lookups)), goal))
        rows.append(("  of which: perceptual_features of 1 digit (1 thread)",
                     *summary(time_calls(features, args.lookups)), "-"))
        rows.append((f"  for scale: noise.generate of 1 vector, {args.checkpoint.stem} (1 thread)",
                     *summary(time_calls(lambda: generate(model, z, label), args.lookups)), "-"))
    rows.append((f"nearest_training_digits, 1 digit ({torch.get_num_threads()} threads)",
                 *summary(time_calls(lookup, args.lookups)), goal))
    print_table(rows)


if __name__ == "__main__":
    main()
