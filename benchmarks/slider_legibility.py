"""Is every digit a slider can reach still a legible digit? The share read right over each slider's range.

For the Write page (the CVAE and the cGAN: slant, thickness and width, ``style_directions``) and the GAN
page (the cGAN and the DCGAN: ten GANSpace directions, ``slider_directions``), as the pages use them (those
the checkpoint stores, ``multigen calibrate-sliders``, when they are of this checkout's measurement; else as the
library at this checkout makes them) (run it from an older checkout for the "before" figures): seeded starting vectors
other than the ones the calibration measured (styles ``style_from_seed(model, 1000 + i)`` written as all
ten digits; GAN noise ``noise_vector(1000 + i)``, a cGAN's as all ten digits), each slider moved alone
over -3 .. 3 in steps of 0.5, then every corner: the Write page's three sliders at their ends in every
combination of two or three (20), the GAN page's sliders at their ends two at a time (180 pairs, on the first
``--pair-starts`` digits), and ``--settings`` random settings of all of the GAN page's sliders at once (uniform
over -3 .. 3 each). The GAN page's corners and settings are held together as the page holds them
(``noise.held_together``: the sliders share one reach) where this checkout has it; ``--not-held`` applies them
as set. Each digit is read by the project's classifier (``multigen.evaluation``,
the one behind ``eval``'s conditional accuracy):

- a conditional model's digit is legible when read as its label;
- the DCGAN's (no label) when read as the class read at 0, among the digits read at 0 with probability
  at least 0.9 (``legibility.CONFIDENT``: a digit the classifier cannot read at 0 says nothing of a slider).

"kept" is the share of the digits legible at 0 that are still legible at the position (a slider must not
break a good digit; the goal is >= 97% at every position, ``legibility.LEGIBLE_SHARE``); "all" is the
share of all digits read as their label (the cGAN's noise at 0 is read right 97-98% of the time, its
conditional accuracy). For the Write page's sliders, the mean measured slant, stroke thickness and width
(``measure_style``) at -3 and 3 say how much a slider still does.

    python benchmarks/slider_legibility.py                 # all four, about 10 minutes on 2 CPU cores
    python benchmarks/slider_legibility.py --models cvae   # one
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from multigen import cache
from multigen.checkpoints import load_checkpoint
from multigen.evaluation import load_classifier
from multigen.explore import handwriting, noise

CHECKPOINTS = {name: ROOT / "checkpoints" / f"{name}.safetensors" for name in ("cvae", "cgan", "dcgan")}
GRID = [value for value in np.arange(-3.0, 3.01, 0.5) if value != 0.0]
CONFIDENT = 0.9
HELD_OUT = 1000  # first seed of the starting vectors (the calibration uses its own rng)


def read(model, z: np.ndarray, labels: np.ndarray | None, classifier) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Classes, probabilities and the pictures of the digits drawn from z (n, d)."""
    images = model.draw(z, labels)
    x = torch.from_numpy(images).float().div_(255.0)[:, None]
    with torch.no_grad():
        p = torch.softmax(classifier(x).double(), dim=1)
    return p.argmax(dim=1).numpy(), p.max(dim=1).values.numpy(), images


class Probe:
    """Digits moved from fixed starts by slider values, read against what they were at 0."""

    def __init__(self, model, directions: np.ndarray, starts: np.ndarray, labels: np.ndarray | None, classifier):
        self.model, self.directions, self.starts, self.labels, self.classifier = model, directions, starts, labels, classifier
        found, confidence, _ = read(model, starts, labels, classifier)
        self.good = found == labels if labels is not None else confidence >= CONFIDENT
        self.reference = labels if labels is not None else found
        self.base = float(self.good.mean())

    def at(self, values: np.ndarray, rows: int | None = None) -> tuple[float, float, np.ndarray]:
        """(kept, all, pictures) with the sliders at ``values`` (k,), on the first ``rows`` starts."""
        z = noise.apply_sliders(self.starts[:rows], self.directions, values)
        labels = None if self.labels is None else self.labels[:rows]
        found, _, images = read(self.model, z, labels, self.classifier)
        right, good = found == self.reference[:rows], self.good[:rows]
        everything = float(right.mean()) if self.labels is not None else float("nan")
        return float(right[good].mean()), everything, images


def corner_positions(k: int, together: int) -> list[np.ndarray]:
    """Every choice of 2 to ``together`` of k sliders, each at -1 or 1 (here, not from the library: the
    script also runs on checkouts from before ``multigen.explore.legibility``)."""
    found = []
    for count in range(2, together + 1):
        for chosen in itertools.combinations(range(k), count):
            for signs in itertools.product((-1.0, 1.0), repeat=count):
                position = np.zeros(k)
                position[list(chosen)] = signs
                found.append(position)
    return found


def sweep(probe: Probe, names: list[str], pairs_rows: int | None, measure: bool, hold=None, settings: int = 0) -> list[dict]:
    """One row per slider (its worst position over GRID), one for the corners and, with ``settings``, one for that
    many random settings of every slider; ``hold`` maps set values to those applied (the GAN page's)."""
    hold = hold or (lambda values: values)
    k = len(names)
    rows = []
    for index, name in enumerate(names):
        shares, styles = {}, {}
        for value in GRID:
            values = np.zeros(k)
            values[index] = value
            kept, everything, images = probe.at(values)
            shares[value] = (kept, everything)
            if measure and abs(value) == 3.0:
                styles[value] = handwriting.measure_style(images)[:, index].mean()
        worst = min(shares, key=lambda v: shares[v][0])
        rows.append({"slider": name, "kept_min": shares[worst][0], "at": worst, "all_min": min(s[1] for s in shares.values()),
                     "ends": (shares[-3.0][0], shares[3.0][0]), "style": (styles.get(-3.0), styles.get(3.0))})
    corners = []
    together = k if k <= 3 else 2
    for position in corner_positions(k, together):
        kept, everything, _ = probe.at(hold(position * 3.0), pairs_rows)
        corners.append((kept, everything, position))
    worst = min(corners, key=lambda c: c[0])
    text = ", ".join(f"{names[i]} {int(3 * worst[2][i]):+d}" for i in np.flatnonzero(worst[2]))
    rows.append({"slider": f"corners ({len(corners)})", "kept_min": worst[0], "at": text,
                 "all_min": min(c[1] for c in corners), "ends": None, "style": (None, None)})
    if settings:
        shares = [probe.at(hold(values), pairs_rows)[:2] for values in np.random.default_rng(0).uniform(-3, 3, (settings, k))]
        rows.append({"slider": f"all at random ({settings})", "kept_min": min(s[0] for s in shares), "at": "–",
                     "all_min": min(s[1] for s in shares), "ends": None, "style": (None, None)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["cvae", "cgan", "gan-cgan", "gan-dcgan"],
                        choices=["cvae", "cgan", "gan-cgan", "gan-dcgan"], help="cvae/cgan: Write page; gan-*: GAN page")
    parser.add_argument("--styles", type=int, default=30, help="styles (Write page) or cGAN seeds, each as ten digits")
    parser.add_argument("--seeds", type=int, default=300, help="DCGAN noise seeds")
    parser.add_argument("--pair-starts", type=int, default=300, help="digits measured at each pair of GAN sliders")
    parser.add_argument("--settings", type=int, default=50, help="random settings of all the GAN page's sliders")
    parser.add_argument("--not-held", action="store_true", help="apply the GAN page's sliders as set, not held together")
    args = parser.parse_args()
    torch.manual_seed(0)
    classifier = load_classifier()
    print(f"# slider legibility, {time.strftime('%Y-%m-%d')}, grid {GRID[0]:g}..{GRID[-1]:g} step 0.5")
    print("| page | model | slider | kept, worst position | all (read as label), worst | kept at -3 / +3 | measure at -3 / +3 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for what in args.models:
        started = time.perf_counter()
        name = what.removeprefix("gan-")
        checkpoint = load_checkpoint(CHECKPOINTS[name])
        model = checkpoint.model
        if what in ("cvae", "cgan"):
            directions = cache.style_directions(checkpoint, cache_dir=None)  # the stored ones, as the page uses
            styles = np.stack([handwriting.style_from_seed(model, HELD_OUT + i) for i in range(args.styles)])
            starts, labels = np.repeat(styles, 10, axis=0), np.tile(np.arange(10), args.styles)
            names, page, pair_rows = list(handwriting.STYLE_NAMES), "Write", None
        else:
            count = min(noise.PAGE_SLIDERS, model.latent_dim)
            directions = cache.gan_directions(checkpoint, count, cache_dir=None)
            n = args.styles if model.conditional else args.seeds
            seeds = np.stack([noise.noise_vector(HELD_OUT + i, model.latent_dim) for i in range(n)])
            if model.conditional:
                starts, labels = np.repeat(seeds, 10, axis=0), np.tile(np.arange(10), n)
            else:
                starts, labels = seeds, None
            names, page, pair_rows = [f"direction {i + 1}" for i in range(count)], "GAN", args.pair_starts
        lengths = np.linalg.norm(directions, axis=1)
        probe = Probe(model, directions, starts, labels, classifier)
        hold = None if page == "Write" or args.not_held else getattr(noise, "held_together", None)
        for row in sweep(probe, names, pair_rows, page == "Write", hold, args.settings if page == "GAN" else 0):
            at = f"{row['at']:+g}" if isinstance(row["at"], float) else row["at"]
            ends = "–" if row["ends"] is None else f"{row['ends'][0]:.1%} / {row['ends'][1]:.1%}"
            style = "–" if row["style"][0] is None else f"{row['style'][0]:.2f} / {row['style'][1]:.2f}"
            everything = "–" if np.isnan(row["all_min"]) else f"{row['all_min']:.1%}"
            print(f"| {page} | {name} | {row['slider']} | {row['kept_min']:.1%} at {at} | {everything} | {ends} | {style} |",
                  flush=True)
        print(f"<!-- {what}: {len(starts)} starts, legible at 0: {probe.base:.1%}, direction lengths "
              f"{', '.join(f'{v:.2f}' for v in lengths)}, {time.perf_counter() - started:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
