"""GAN inversion: how close ``multigen.inversion.invert`` comes to a digit, and how long one search takes.

For each GAN (``--checkpoint``, default the shipped DCGAN and cGAN), two sets of ``--digits`` digits:

- **real**: held-out digits of ``mnist-5k``'s validation split, a seeded choice spread evenly over the
  ten classes (a cGAN searches with the digit's true label, as a person who names it with ``--label``);
- **generated**: digits the GAN drew itself from seeded z (a cGAN's labels 0-9 in turn), so a z that
  draws each of them exactly exists.

For each set: the median perceptual distance between the found digit and its target, beside the median
of ``Inversion.real_distance`` (the median distance between two real validation digits of the kind) and
the share of digits found closer than that; the median of the mean absolute pixel difference between
found digit and target (grey levels, 0-255), for scale; the wall time per inversion, median and p95, with
``--starts`` random starts of ``--steps`` Adam steps (default the library's, as ``multigen invert``
runs) on the device the CLI uses. For generated digits, also the median cosine between the found z and
the true one (1: the same vector; near 0: another vector that draws the same picture). The real-pair
medians are computed, and one search is run, before anything is timed.

    python benchmarks/inversion.py --digits 100
    python benchmarks/inversion.py --quick        # 10 digits of 30 steps: a try in under a minute
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from multigen.checkpoints import load_checkpoint
from multigen.data import load_dataset
from multigen.device import describe_device, resolve_device
from multigen.evaluation import load_classifier
from multigen.images import to_uint8
from multigen.inversion import STARTS, STEPS, invert, real_pair_distance

CHECKPOINTS = (ROOT / "checkpoints" / "dcgan.safetensors", ROOT / "checkpoints" / "cgan.safetensors")
QUICK = {"digits": 10, "steps": 30}


@dataclass(frozen=True)
class Row:
    """One set of digits searched with one GAN."""

    checkpoint: str
    digits: str  # "real" or "generated"
    distances: list[float]  # found digit to target, one per digit
    pixel_errors: list[float]  # mean absolute pixel difference, found digit to target, in grey levels (0-255)
    real_distances: list[float]  # Inversion.real_distance of each digit's kind
    seconds: list[float]  # wall time of each invert call
    cosines: list[float]  # found z against the true z (generated digits only)


def spread_choice(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` row indices, a seeded choice taking the ten classes in turn (0, 1, ..., 9, 0, ...)."""
    rng = np.random.default_rng(seed)
    rows = [rng.permutation(np.flatnonzero(labels == digit)) for digit in range(10)]
    if n > 10 * min(len(r) for r in rows):
        raise SystemExit(f"--digits {n} is more than the validation split holds of its rarest class, ten times over.")
    return np.array([rows[i % 10][i // 10] for i in range(n)])


def search(model, checkpoint: str, kind: str, targets: np.ndarray, labels: list[int | None], args, classifier,
           true_z: np.ndarray | None = None) -> Row:
    """Invert every target, timing each call."""
    distances, pixels, real, seconds, cosines = [], [], [], [], []
    for index, (target, label) in enumerate(zip(targets, labels)):
        started = time.perf_counter()
        found = invert(model, target, label=label, starts=args.starts, steps=args.steps, seed=args.seed,
                       classifier=classifier)
        seconds.append(time.perf_counter() - started)
        distances.append(found.distance)
        pixels.append(float(np.abs(found.image.astype(np.int16) - target.astype(np.int16)).mean()))
        real.append(found.real_distance)
        if true_z is not None:
            z = true_z[index]
            cosines.append(float(found.z @ z / (np.linalg.norm(found.z) * np.linalg.norm(z))))
        print(f"\r{checkpoint}, {kind}: {index + 1}/{len(targets)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return Row(checkpoint, kind, distances, pixels, real, seconds, cosines)


def print_rows(rows: list[Row]) -> None:
    """One line per set: distances, the share closer than two real digits, pixel error, seconds per inversion."""
    print(f"{'checkpoint':<10}  {'digits':<9}  {'n':>3}  {'median distance':>15}  {'real-pair median':>16}  "
          f"{'closer than real pair':>21}  {'pixel error':>11}  {'s / inversion (median, p95)':>27}  {'z cosine':>8}")
    for row in rows:
        closer = np.mean(np.array(row.distances) < np.array(row.real_distances))
        seconds = f"{statistics.median(row.seconds):.2f}, {np.percentile(row.seconds, 95):.2f}"
        cosine = f"{statistics.median(row.cosines):.2f}" if row.cosines else "-"
        print(f"{row.checkpoint:<10}  {row.digits:<9}  {len(row.distances):>3}  {statistics.median(row.distances):>15.4f}  "
              f"{statistics.median(row.real_distances):>16.4f}  {closer:>21.0%}  {statistics.median(row.pixel_errors):>11.1f}  "
              f"{seconds:>27}  {cosine:>8}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, help="digits per set (default 100; 10 with --quick)")
    parser.add_argument("--checkpoint", type=Path, nargs="+", default=list(CHECKPOINTS),
                        help="gan or cgan checkpoints (default the shipped dcgan and cgan)")
    parser.add_argument("--starts", type=int, default=STARTS, help=f"random starts per search (default {STARTS})")
    parser.add_argument("--steps", type=int, help=f"Adam steps per start (default {STEPS}; 30 with --quick)")
    parser.add_argument("--seed", type=int, default=0, help="the choice of digits, the true z and the searches' starts")
    parser.add_argument("--threads", type=int, help="torch threads (default torch's own, as the CLI runs)")
    parser.add_argument("--only", choices=("real", "generated"), help="one set of digits (default both)")
    parser.add_argument("--quick", action="store_true", help="a try: 10 digits of 30 steps unless told otherwise")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else {"digits": 100, "steps": STEPS}
    args.digits = args.digits or defaults["digits"]
    args.steps = args.steps or defaults["steps"]
    if args.threads:
        torch.set_num_threads(args.threads)

    device = resolve_device("auto")
    classifier = load_classifier(device=device)
    validation = load_dataset("mnist-5k", "val")
    rows_real = spread_choice(validation.labels.numpy(), args.digits, args.seed)
    real_digits = to_uint8(validation.images[rows_real])
    real_labels = [int(label) for label in validation.labels[rows_real]]
    for digit in range(10):  # computed once per kind, kept: not part of any search's time
        real_pair_distance(digit, classifier=classifier)
    print(f"device: {describe_device(device)}; {torch.get_num_threads()} torch threads; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.digits} digits per set, {args.starts} starts "
          f"x {args.steps} steps, seed {args.seed}")

    rows = []
    for path in args.checkpoint:
        model = load_checkpoint(path, device=device).model
        name = path.stem
        labels = real_labels if model.conditional else [None] * args.digits
        invert(model, real_digits[0], label=labels[0], starts=args.starts, steps=args.steps, classifier=classifier)  # warm-up
        if args.only != "generated":
            rows.append(search(model, name, "real", real_digits, labels, args, classifier))
        if args.only != "real":
            true_z = np.random.default_rng(args.seed + 1).standard_normal((args.digits, model.latent_dim)).astype(np.float32)
            drawn_labels = [i % 10 for i in range(args.digits)] if model.conditional else [None] * args.digits
            targets = np.stack([model.draw(z, label) for z, label in zip(true_z, drawn_labels)])
            rows.append(search(model, name, "generated", targets, drawn_labels, args, classifier, true_z))
    print_rows(rows)


if __name__ == "__main__":
    main()
