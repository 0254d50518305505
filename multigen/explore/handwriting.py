"""Write a number: the digits of a text drawn side by side by a CVAE or a cGAN, all in one style.

A conditional model splits a digit into content (the label it is told) and style (the latent or
noise vector it is given). Decoding one style vector with the labels of ``2026`` writes the number
in one hand. The style comes from a seed (a vector drawn from the prior, tempered), from a digit someone
clicked (a CVAE's encoder reads its style: the posterior mean of q(z | x, y), Sohn et al. 2015),
and from three sliders that move it along named directions: slant, thickness and width.

The slider directions are measured, not guessed. PCA of a CVAE's latents, or GANSpace for a cGAN,
finds the directions of most change, but those mix slant, width and thickness and differ from
model to model. Instead, ``style_directions`` draws seeded styles, renders them as every digit,
measures each picture's slant, stroke thickness and width from its image moments, and fits the
measurements as a linear function of the style (per digit, so only style is explained). The
direction for slant is the shortest step in the style space that changes the fitted slant by one
unit and the fitted thickness and width by none (the pseudo-inverse of the fitted gradients), made
unit length. Each direction's length is then measured (``multigen.explore.legibility``): the longest at
which the digits of 20 seeded styles are still read as their labels by the project's classifier (98.5%
of them) at both ends of the slider's range, -3 to 3, and at every corner of the three sliders (all three
shortened by one factor where a corner breaks, then each given back what it can of its own length while every
corner it is part of still passes). At full length the ends broke digits (the shipped CVAE's width at -3: 74%
read right, all three at -3: 32%; a cGAN's slant at -3: 92%); measured on 30 other styles, every position now
keeps at least 97% (table in ``benchmarks/README.md``). The shipped CVAE's lengths are 0.57, 0.39 and 0.27, so
moving a slider from -3 to 3 takes its mean slant from -0.23 to 0.50 (pixels of sideways shift per pixel of
height), its stroke from 2.0 to 2.8 pixels and its width (the spread of the ink across the digit) from 2.9 to
3.9 pixels (at full length: -0.4 to 0.7, 1.7 to 3.8, 1.9 to 5.1); the shipped cGAN's 0.09, 0.09 and 0.29, from
0.01 to 0.14, 1.9 to 2.1 and 3.2 to 4.1 (its slant and thickness break digits together early).

A write recipe (``make_write_recipe``) is the JSON that draws a strip again: checkpoint, model kind,
the digits, where the style came from, the slider values and the final style vector. It travels in
the PNG's text chunk exactly as the GAN page's recipes do (``multigen.noise``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from multigen.errors import MultigenError
from multigen.explore.legibility import calibrated
from multigen.explore.noise import RECIPE_FORMAT, RECIPE_VERSION, apply_sliders, noise_vector, recipe_png
from multigen.images import enlarge
from multigen.models import GenerativeModel, kinds

MAX_DIGITS = 12  # the longest number a strip holds
# Seeded styles are z ~ N(0, T^2 I), the "temperature" or truncation trick (Kingma & Dhariwal, Glow, 2018;
# Brock et al., BigGAN, 2019), with T measured per kind on the shipped models over seeds 0-99, each writing
# 0-9 and read by the project's classifier. A CVAE's latent leaks some of the digit's shape, so it needs a
# low T: 83% of its digits read as meant at T = 1, 92% at 0.7, 98% at 0.5 (99.5% at 0.4, with less variety).
# A cGAN's digits degrade when z is shrunk too far: 80% at 0.4, 95% at 0.5, 99.4% at 0.8, 98.6% at 1.
SEED_TEMPERATURE = {"cvae": 0.5, "cgan": 0.8}
WRITER_KINDS = kinds(conditional=True)  # told the digit, given the style: the CVAE and the cGAN
STYLE_NAMES = ("slant", "thickness", "width")  # the sliders, in the order of style_directions' rows
STYLE_RANGE = 3.0  # each style slider runs from -3 to 3 (the Write page, and what the directions' lengths are measured for)
CALIBRATION_STYLES = 20  # seeded styles (each written as all ten digits) that measure how far each slider may go
CALIBRATION_CORNERS = 100  # of those digits, the ones measured at every corner of the sliders
DIGIT_SIZE = 28
WRITE_RECIPE_TYPE = "number"  # tells a write recipe from the GAN page's single-digit ones


# -- helpers ------------------------------------------------------------------------------------


def _require_writer(model: GenerativeModel) -> None:
    kind = getattr(model, "kind", "model")
    if not (isinstance(model, GenerativeModel) and model.conditional):
        raise MultigenError(
            f"Writing a number needs a model that is told which digit to draw (a CVAE or a cGAN), "
            f"but this is a {kind}: pick a cvae or cgan checkpoint."
        )


def _style_vector(model: GenerativeModel, style: np.ndarray, what: str = "style") -> np.ndarray:
    vector = np.asarray(style, dtype=np.float32)
    if vector.shape != (model.latent_dim,):
        raise MultigenError(
            f"The {what} vector has shape {vector.shape} but this {model.kind} takes {model.latent_dim} numbers: "
            "make it with this checkpoint."
        )
    if not np.isfinite(vector).all():
        raise MultigenError(f"The {what} vector contains NaN or infinity: make it again from a seed or a digit.")
    return vector


def _digits(digits: Sequence[int] | str) -> list[int]:
    if isinstance(digits, str):
        return parse_number(digits)
    values = [int(d) for d in digits]
    if not 1 <= len(values) <= MAX_DIGITS or any(not 0 <= d <= 9 for d in values):
        raise MultigenError(f"Got digits {values}: pass 1 to {MAX_DIGITS} digits, each from 0 to 9.")
    return values


# -- reading a picture's style ----------------------------------------------------------------------


def measure_style(images: np.ndarray) -> np.ndarray:
    """Slant, stroke thickness and width of digits (n, 28, 28) or one (28, 28), as (n, 3) or (3,) float64.

    From the ink's moments: slant is -mu11 / mu02, the sideways shift of the ink per pixel of height
    (positive leans right, as italics do); width is the standard deviation of the ink across the
    digit once the slant is taken out, sqrt(mu20 - mu11^2 / mu02); thickness is 2 * ink / total
    variation, which for a stroke of width w and length L is 2wL / 2L = w pixels.
    """
    pixels = np.asarray(images, dtype=np.float64)
    single = pixels.ndim == 2
    pixels = (pixels[None] if single else pixels) / (255.0 if np.asarray(images).dtype == np.uint8 else 1.0)
    ys, xs = np.mgrid[0 : pixels.shape[1], 0 : pixels.shape[2]].astype(np.float64)
    ink = pixels.sum(axis=(1, 2)) + 1e-6
    cx = (pixels * xs).sum(axis=(1, 2)) / ink
    cy = (pixels * ys).sum(axis=(1, 2)) / ink
    dx, dy = xs - cx[:, None, None], ys - cy[:, None, None]
    mu11 = (pixels * dx * dy).sum(axis=(1, 2)) / ink
    mu02 = (pixels * dy**2).sum(axis=(1, 2)) / ink + 1e-6
    mu20 = (pixels * dx**2).sum(axis=(1, 2)) / ink
    variation = np.abs(np.diff(pixels, axis=1)).sum(axis=(1, 2)) + np.abs(np.diff(pixels, axis=2)).sum(axis=(1, 2))
    features = np.stack(
        [-mu11 / mu02, 2.0 * ink / (variation + 1e-6), np.sqrt(np.maximum(mu20 - mu11**2 / mu02, 0.0))], axis=1
    )
    return features[0] if single else features


# -- public API -----------------------------------------------------------------------------------------


def parse_number(text: str) -> list[int]:
    """The digits of ``text`` ("2026" -> [2, 0, 2, 6]); spaces are ignored, anything but 0-9 is refused."""
    if not isinstance(text, str):
        raise MultigenError(f"Type the number as text, for example 2026 (got {type(text).__name__}).")
    compact = "".join(text.split())
    if not compact:
        raise MultigenError(f"Type a number to write: 1 to {MAX_DIGITS} digits 0-9, for example 2026.")
    others = [c for c in compact if c not in "0123456789"]
    if others:
        shown = "".join(dict.fromkeys(others))[:10]
        raise MultigenError(
            f"{text.strip()[:24]!r} contains {shown!r}: type only the digits 0-9 (1 to {MAX_DIGITS} of them), "
            "for example 2026."
        )
    if len(compact) > MAX_DIGITS:
        raise MultigenError(f"That is {len(compact)} digits: type at most {MAX_DIGITS}.")
    return [int(c) for c in compact]


def style_from_seed(model: GenerativeModel, seed: int, *, temperature: float | None = None) -> np.ndarray:
    """A seeded style: ``temperature`` * N(0, I) of the model's latent (CVAE) or noise (cGAN) size.

    The same seed always gives the same style. The default temperature is the one per kind at which
    the shipped models wrote the most legible digits (``SEED_TEMPERATURE``).
    """
    _require_writer(model)
    temperature = SEED_TEMPERATURE[model.kind] if temperature is None else float(temperature)
    if not 0.0 < temperature <= 2.0:
        raise MultigenError(f"temperature must be in (0, 2], got {temperature}: 1 is the prior, lower is tamer.")
    return (noise_vector(seed, model.latent_dim) * np.float32(temperature)).astype(np.float32)


def style_from_digit(model: GenerativeModel, image: np.ndarray, label: int) -> np.ndarray:
    """The style of one handwritten digit: a CVAE's posterior mean mu(x, y) for the (28, 28) image and its label.

    Only a CVAE has an encoder that separates style from the label; a cGAN has no way back from a
    picture to its noise, and a plain VAE's latent holds the digit itself, so both are refused.
    The latent still carries some of the clicked digit's shape: written as all ten digits, the
    styles of the shipped CVAE's validation digits gave 81% that the classifier read as meant.
    """
    kind = getattr(model, "kind", "model")
    if not (isinstance(model, GenerativeModel) and model.has_encoder and model.conditional):
        raise MultigenError(
            f"Taking the style of a clicked digit needs a CVAE (its encoder reads the style apart from the digit), "
            f"but this is a {kind}: pick a cvae checkpoint, or take the style from a seed."
        )
    pixels = np.asarray(image)
    if pixels.shape != (DIGIT_SIZE, DIGIT_SIZE):
        raise MultigenError(f"The digit has shape {pixels.shape} but a 28x28 picture is needed.")
    if not 0 <= int(label) < model.config.num_classes:
        raise MultigenError(f"The digit's label {label} is not 0 to {model.config.num_classes - 1}.")
    scale = 255.0 if pixels.dtype == np.uint8 or pixels.max(initial=0) > 1 else 1.0
    x = torch.from_numpy(pixels.astype(np.float32) / scale)[None, None].to(model.device)
    with torch.no_grad():
        mu, _ = model.encode(x, torch.tensor([int(label)], device=x.device))
    return mu[0].float().cpu().numpy()


def style_directions(
    model: GenerativeModel, *, seed: int = 0, samples: int = 1000, calibrate: bool = True, strict: bool = False
) -> np.ndarray:
    """Directions (3, d) that change slant, thickness and width, in that order (``STYLE_NAMES``).

    Draws ``samples`` seeded styles, renders each as one digit (labels 0..9 in turn), measures them
    with ``measure_style``, removes each digit's mean, and fits measurements = z G by least squares.
    Row k is the minimum-norm z step that moves measurement k by one unit and the others by none
    (column k of the pseudo-inverse of G), scaled to length 1, so a positive slider value always
    leans further right, draws thicker or writes wider. With ``calibrate`` (and the digit classifier)
    each row is then shortened to the length at which ``CALIBRATION_STYLES`` seeded styles stay legible
    at both ends of +-``STYLE_RANGE`` and at every corner, each taking back what it can of its own length
    where only the others break the corners (``multigen.explore.legibility``, ``regrow``); without,
    the rows are unit vectors (as they are, with a warning, for a model too untrained to measure, which ``strict``
    refuses instead). Deterministic for a given seed.
    """
    _require_writer(model)
    if samples < 50:
        raise MultigenError(f"Need at least 50 samples to find the style directions, got {samples}.")
    dim = model.latent_dim
    z = np.random.default_rng(int(seed)).standard_normal((samples, dim)).astype(np.float32)
    labels = np.arange(samples) % model.config.num_classes
    features = measure_style(model.draw(z, labels))
    z_centred = z.astype(np.float64)
    for label in np.unique(labels):
        rows = labels == label
        features[rows] -= features[rows].mean(axis=0)
        z_centred[rows] -= z_centred[rows].mean(axis=0)
    gradients, *_ = np.linalg.lstsq(z_centred, features, rcond=None)  # (d, 3): features ~ z @ gradients
    steps = np.linalg.pinv(gradients.T)  # (d, 3): gradients.T @ steps = I, each column the shortest such step
    norms = np.linalg.norm(steps, axis=0)
    if not np.isfinite(steps).all() or not np.all(norms > 0):
        raise MultigenError("The model's digits do not change with their style vector: check the checkpoint is trained.")
    directions = (steps / norms).T.astype(np.float32)
    if not calibrate:
        return directions
    temperature = SEED_TEMPERATURE.get(model.kind, 1.0)
    starts = np.random.default_rng([int(seed), 1]).standard_normal((CALIBRATION_STYLES, dim)) * temperature
    classes = model.config.num_classes
    return calibrated(model, directions, np.repeat(starts, classes, axis=0), np.tile(np.arange(classes), CALIBRATION_STYLES),
                      reach=STYLE_RANGE, corner_starts=CALIBRATION_CORNERS, regrow=True,
                      strict=strict)


def apply_style(
    style: np.ndarray, sliders: Sequence[float] | None = None, directions: np.ndarray | None = None
) -> np.ndarray:
    """The style moved along the slider directions: style + sum_i sliders[i] * directions[i]."""
    vector = np.asarray(style, dtype=np.float32)
    values = [float(v) for v in (sliders or [])]
    if not any(values):
        return vector.copy()
    if directions is None:
        raise MultigenError("Slider values need their directions: pass directions=style_directions(model).")
    return apply_sliders(vector, directions, values)


def write_number(
    model: GenerativeModel,
    digits: Sequence[int] | str,
    style: np.ndarray,
    *,
    sliders: Sequence[float] | None = None,
    directions: np.ndarray | None = None,
) -> np.ndarray:
    """The digits drawn side by side in one style: a (28, 28 * len(digits)) uint8 strip, one batch.

    ``digits`` is a list of 0-9 or a text for ``parse_number``; ``style`` a vector of the model's
    latent size (``style_from_seed``, ``style_from_digit``), moved by ``sliders`` along ``directions``.
    """
    _require_writer(model)
    labels = np.asarray(_digits(digits), dtype=np.int64)
    z = _style_vector(model, apply_style(_style_vector(model, style), sliders, directions))
    images = model.draw(np.repeat(z[None], len(labels), axis=0), labels)  # (n, 28, 28)
    return np.ascontiguousarray(images.transpose(1, 0, 2).reshape(DIGIT_SIZE, DIGIT_SIZE * len(labels)))


def make_write_recipe(
    checkpoint: str,
    kind: str,
    text: str,
    style: np.ndarray,
    *,
    sliders: Sequence[float] | None = None,
    directions: np.ndarray | None = None,
    seed: int | None = None,
    source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A JSON-ready dict that draws the strip again (``strip_from_recipe``).

    ``z`` is the style actually decoded (sliders applied); ``style``, ``sliders``, ``seed`` and
    ``source`` (e.g. ``{"checkpoint", "row", "label"}`` of a clicked digit) record how it was made.
    """
    digits = parse_number(text)
    base = np.asarray(style, dtype=np.float32)
    values = [float(v) for v in (sliders or [])]
    z = apply_style(base, values, directions)
    return {
        "format": RECIPE_FORMAT,
        "version": RECIPE_VERSION,
        "type": WRITE_RECIPE_TYPE,
        "checkpoint": str(checkpoint),
        "kind": kind,
        "text": "".join(str(d) for d in digits),
        "seed": None if seed is None else int(seed),
        "source": dict(source) if source else {"type": "seed"},
        "sliders": dict(zip(STYLE_NAMES, values)),
        "style": [float(v) for v in base],  # float32 -> float -> float32 is exact
        "z": [float(v) for v in z],
    }


def strip_png(strip: np.ndarray, recipe: dict[str, Any], *, scale: int = 1) -> bytes:
    """The strip (enlarged ``scale`` times, each pixel a crisp block) as PNG bytes with the recipe inside."""
    if int(scale) < 1:
        raise MultigenError(f"scale must be 1 or more, got {scale}.")
    picture = np.asarray(strip, dtype=np.uint8)
    return recipe_png(enlarge(picture, int(scale)) if scale > 1 else picture, recipe)


def strip_from_recipe(model: GenerativeModel, recipe: dict[str, Any]) -> np.ndarray:
    """The (28, 28 * n) strip a write recipe describes, drawn from its stored digits and style vector."""
    if not isinstance(recipe, dict) or recipe.get("format") != RECIPE_FORMAT or "text" not in recipe:
        raise MultigenError("This is not a write recipe: use the JSON or PNG saved from the Write a number page.")
    if recipe.get("kind") and recipe["kind"] != model.kind:
        raise MultigenError(
            f"This recipe is for a {recipe['kind']} but the loaded model is a {model.kind}: "
            f"load its checkpoint ({recipe.get('checkpoint')})."
        )
    if "z" not in recipe:
        raise MultigenError("The recipe has no style vector 'z': make it with make_write_recipe().")
    return write_number(model, parse_number(str(recipe["text"])), _style_vector(model, recipe["z"], "recipe's style"))
