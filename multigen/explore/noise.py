"""The noise space of a (conditional) GAN: seeded vectors, GANSpace sliders, variations, slerp and recipes.

A recipe is the JSON that rebuilds one generated image exactly: the checkpoint, the seed, the label,
the slider values and the full noise vector that was fed to the generator. It travels inside the
PNG as a text chunk, so a saved image can be loaded back into the app.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from multigen.errors import MultigenError
from multigen.explore.legibility import calibrated
from multigen.images import opened_upload, png_bytes
from multigen.models import GENERATIVE_KINDS, GenerativeModel
from multigen.models.gan import GAN, categorical_code, with_categorical_code

RECIPE_FORMAT = "multigen-recipe"
RECIPE_VERSION = 2  # 2: the GAN page's sliders share one reach (``held_together``); 1 applied them as set
MAX_SEED = 2**31 - 1  # the largest seed the GAN page offers and a recipe may name
MAX_RECIPE_BYTES = 2_000_000  # a recipe PNG of a strip of 12 digits enlarged 16 times is about 0.1 MB
MAX_RECIPE_PIXELS = 4096 * 4096
RECIPE_CHUNK = "multigen-recipe"  # the PNG text chunk that holds the recipe JSON
PAGE_SLIDERS = 10  # the GANSpace sliders the GAN page offers (fewer when z is smaller)
SLIDER_RANGE = 3.0  # each slider runs from -3 to 3 on the GAN page (what the directions' lengths are measured for)
CALIBRATION_SEEDS = 500  # seeded noise vectors (a cGAN's: 50 seeds times the ten digits) that measure each slider's reach
CALIBRATION_CORNERS = 200  # of those, the legible ones measured at each of the 180 pairs of sliders at their ends


# -- helpers ------------------------------------------------------------------------------------


def _vector(z: np.ndarray, what: str = "z") -> np.ndarray:
    vector = np.asarray(z, dtype=np.float32)
    if vector.ndim != 1 or vector.size == 0:
        raise MultigenError(f"{what} has shape {np.shape(z)} but one vector (d,) was expected: pass a 1-D array.")
    return vector


# -- noise vectors --------------------------------------------------------------------------------


def noise_vector(seed: int, dim: int) -> np.ndarray:
    """z ~ N(0, I) of size ``dim`` as float32; the same seed always gives the same vector."""
    if int(seed) < 0:
        raise MultigenError(f"Seeds are 0 or more, got {seed}: pick a non-negative seed.")
    if int(dim) < 1:
        raise MultigenError(f"A noise vector needs at least 1 dimension, got {dim}.")
    return np.random.default_rng(int(seed)).standard_normal(int(dim)).astype(np.float32)


def code_of(z: np.ndarray, categories: int) -> int:
    """The InfoGAN code category a noise vector carries: the argmax of its first ``categories`` entries."""
    return int(categorical_code(torch.from_numpy(_vector(z))[None], categories)[0])


def with_code(z: np.ndarray, category: int, categories: int) -> np.ndarray:
    """Noise vector(s) that carry code ``category``: the largest of the first ``categories`` entries is
    swapped into place ``category``. The values stay the same (still a draw of N(0, I)), so the rest of
    the picture changes as little as the code allows."""
    if not 0 <= int(category) < categories:
        raise MultigenError(f"The code must be a category from 0 to {categories - 1}, got {category}.")
    vectors = np.asarray(z, dtype=np.float32)
    rows = torch.from_numpy(np.ascontiguousarray(vectors.reshape(-1, vectors.shape[-1])))  # a batch, or the one vector
    return with_categorical_code(rows, int(category), categories).numpy().reshape(vectors.shape)


# -- GANSpace sliders ------------------------------------------------------------------------------


def slider_directions(
    model: GAN, k: int = 10, *, seed: int = 0, samples: int = 2000, calibrate: bool = True, strict: bool = False
) -> np.ndarray:
    """k directions (k, d) in noise space along which the generated digit changes the most.

    GANSpace: Härkönen, Hertzmann, Lehtinen & Paris, "GANSpace: Discovering Interpretable GAN
    Controls", NeurIPS 2020. Sample z, take the generator's first-layer activations
    y = G1(z) (``generator.project``: Linear + BatchNorm + ReLU), find their principal components
    V by PCA, then map them back to z as the paper does for BigGAN: regress z on
    the PCA coordinates x = V^T (y - mu), U = argmin sum ||U x_i - z_i||^2, and use U's columns.
    A cGAN's samples cycle through labels 0..9. Deterministic for a given seed; the model must be
    in eval mode (a loaded checkpoint is), or BatchNorm would update its running statistics.
    For a cGAN (and an InfoGAN's code) the components are taken within each label (code), see below, and
    the directions leave an InfoGAN's code entries (the first ``code_categories`` of z) alone: a slider
    never changes the code, which the page offers as its own choice (moving it turned the shipped DCGAN's
    digits into others: at +-3 only 55-82% were still read as at 0). The directions have unit length;
    ``calibrate`` (with the digit classifier) then shortens each to the length at which ``CALIBRATION_SEEDS``
    seeded digits stay legible at both ends of +-``SLIDER_RANGE``, then all by one factor until the first
    ``CALIBRATION_CORNERS`` of them also stay legible with any two sliders at their ends, held together as the page
    holds them (``held_together``; ``multigen.explore.legibility``); a model too
    untrained to measure keeps unit directions (with a warning), or is refused when ``strict``.
    """
    if not isinstance(model, GAN):
        raise MultigenError(f"A {getattr(model, 'kind', 'model')} has no generator to steer: load a GAN or cGAN checkpoint.")
    generator = model.generator
    dim = model.latent_dim
    if not 1 <= k <= dim:
        raise MultigenError(f"Asked for {k} sliders but the noise vector has {dim} dimensions: ask for 1 to {dim}.")
    if samples <= k:
        raise MultigenError(f"Need more samples ({samples}) than sliders ({k}): raise samples.")
    device = model.device
    torch_generator = torch.Generator().manual_seed(int(seed))
    z = torch.randn((samples, dim), generator=torch_generator)  # drawn on the CPU: the same z on every device
    labels = (torch.arange(samples) % model.config.num_classes) if model.conditional else None
    with torch.no_grad():
        inputs = generator.project_input(z.to(device), None if labels is None else labels.to(device))
        activations = generator.project(inputs).double().cpu().numpy()
    groups = np.zeros(samples, dtype=np.int64)  # samples of one label and one code
    if labels is not None:
        groups = labels.numpy()
    categories = model.code_categories
    if categories:
        groups = groups * categories + categorical_code(z, categories).numpy()
    if labels is not None or categories:
        # Remove each group's mean so the components describe style within a digit (what a slider on z
        # can change while the label stays fixed) rather than the differences between digits.
        for group in np.unique(groups):
            rows = groups == group
            activations[rows] -= activations[rows].mean(axis=0)
    # The randomized solver is ~10x faster than a full SVD of (samples x 6272); seeded, it is deterministic.
    from sklearn.decomposition import PCA  # here: its import takes ~1 s, and the app reads directions from its cache

    pca = PCA(n_components=k, svd_solver="randomized", random_state=int(seed))
    coordinates = pca.fit_transform(activations)  # (samples, k), x_i = V^T (y_i - mu)
    # Least squares z ~ x U^T: row j of the solution is U's column j, the z direction of component j.
    solution, *_ = np.linalg.lstsq(coordinates, z.double().numpy(), rcond=None)
    solution[:, :categories] = 0.0  # the code is picked apart (``with_code``), never slid
    norms = np.linalg.norm(solution, axis=1, keepdims=True)
    if not np.all(norms > 0) or not np.isfinite(solution).all():
        raise MultigenError("The generator's activations do not vary with z: check the checkpoint is a trained GAN.")
    directions = (solution / norms).astype(np.float32)
    if not calibrate:
        return directions
    starts = np.random.default_rng([int(seed), 1]).standard_normal((CALIBRATION_SEEDS, dim)).astype(np.float32)
    labels = (np.arange(CALIBRATION_SEEDS) % model.config.num_classes) if model.conditional else None
    # Each slider alone, then every pair at its ends held together as the page holds them (half of each): pairs at
    # their ends as set shortened the shipped DCGAN's directions to 0.15-0.33, where a slider's end barely changes
    # the digit (benchmarks/README.md), so the page holds its sliders together (``held_together``); held, a pair
    # of a cGAN trained longer still broke 3.4% of its digits, so they are measured too.
    return calibrated(model, directions, starts, labels, reach=SLIDER_RANGE, together=2, hold=_held_corner,
                      corner_starts=CALIBRATION_CORNERS, strict=strict)


def _held_corner(position: np.ndarray) -> np.ndarray:
    """A corner of the sliders (in units of their reach) as the page applies it (``held_together``)."""
    return held_together(np.asarray(position) * SLIDER_RANGE) / SLIDER_RANGE


def sliders_total(values: Sequence[float]) -> float:
    """How far the sliders are set together: the sum of their values' sizes, added left to right in float64 as the
    page's ``heldTogether`` adds them (``held_together`` holds it to the reach)."""
    return sum(abs(float(value)) for value in values)


def held_together(values: Sequence[float], reach: float = SLIDER_RANGE) -> np.ndarray:
    """The slider values the GAN page applies (k,): as set while together they stay within one slider's reach,
    sum |v_i| <= ``reach``; farther out, all scaled by one factor back onto that bound, so the digit changes the same
    way but no farther than the sliders share. One slider alone keeps its whole range; two at their ends are applied
    at half each.

    Why this bound: each direction's length is measured alone (``slider_directions``: its ends keep the digits
    legible; then every pair held at half each, so the mixtures of two ends are measured too), and the points within
    it are exactly the mixtures of those measured ends (the convex hull of +-``reach`` on each slider). Farther out
    nothing was measured: two of the shipped GANs' sliders at their ends
    together broke 5-7% of the digits, and holding them to a ball of radius ``reach`` instead of this bound still
    broke over 3% of the DCGAN's on some seeds (``benchmarks/slider_legibility.py``)."""
    weights = np.asarray(list(values), dtype=np.float64).reshape(-1)
    if not reach > 0:
        raise MultigenError(f"The sliders' reach must be positive, got {reach}.")
    if not np.isfinite(weights).all():
        raise MultigenError(f"Slider values must be finite numbers, got {list(values)}.")
    total = sliders_total(weights)
    return (weights if total <= reach else weights * (reach / total)).astype(np.float32)


def apply_sliders(z: np.ndarray, directions: np.ndarray, values: Sequence[float]) -> np.ndarray:
    """z + sum_i values[i] * directions[i]; z (d,) or (k, d), and fewer values than directions leaves the rest at 0."""
    base = np.asarray(z, dtype=np.float32)
    basis = np.asarray(directions, dtype=np.float32)
    weights = np.asarray(list(values), dtype=np.float32).reshape(-1)
    if basis.ndim != 2 or base.shape[-1] != basis.shape[1]:
        raise MultigenError(f"z has shape {base.shape} and directions {basis.shape}: they need the same last size.")
    if len(weights) > len(basis):
        raise MultigenError(f"Got {len(weights)} slider values for {len(basis)} directions: pass one per direction.")
    return (base + weights @ basis[: len(weights)]).astype(np.float32)


def variations(z: np.ndarray, n: int = 8, *, strength: float = 0.5, seed: int = 0) -> np.ndarray:
    """n vectors (n, d) near z: sqrt(1 - s^2) z + s eps with eps ~ N(0, I) and s = ``strength`` in [0, 1].

    The mix keeps each variation distributed like the prior when z is, so variations look as
    typical as z does (plain z + s eps would drift to larger norms); 0 copies z, 1 draws anew.
    """
    base = _vector(z)
    if not 0.0 <= strength <= 1.0:
        raise MultigenError(f"strength must be between 0 and 1, got {strength}: 0 copies z, 1 is a fresh sample.")
    if n < 1 or int(seed) < 0:
        raise MultigenError(f"Need n >= 1 and a seed >= 0, got n={n}, seed={seed}.")
    eps = np.random.default_rng(int(seed)).standard_normal((n, base.size))
    mixed = np.sqrt(1.0 - strength**2) * base.astype(np.float64) + strength * eps
    return mixed.astype(np.float32)


def slerp(z0: np.ndarray, z1: np.ndarray, steps: int = 10) -> np.ndarray:
    """Spherical interpolation (steps, d) from z0 to z1, endpoints included.

    White, "Sampling Generative Networks", 2016: slerp(q0, q1; t) = sin((1-t) theta) / sin(theta) q0
    + sin(t theta) / sin(theta) q1 with theta the angle between them. Unlike a straight line it does
    not pass near the origin, where a Gaussian prior puts almost no samples; between vectors of
    equal norm every step keeps that norm.
    """
    start, end = _vector(z0, "z0").astype(np.float64), _vector(z1, "z1").astype(np.float64)
    if start.shape != end.shape:
        raise MultigenError(f"Endpoints have shapes {start.shape} and {end.shape}: pass two vectors of the same size.")
    if steps < 2:
        raise MultigenError(f"An interpolation needs at least 2 steps, got {steps}: ask for 2 or more.")
    t = np.linspace(0.0, 1.0, steps)[:, None]
    norms = np.linalg.norm(start) * np.linalg.norm(end)
    cosine = np.clip(start @ end / norms, -1.0, 1.0) if norms > 0 else 1.0
    theta = np.arccos(cosine)
    if np.sin(theta) < 1e-6:  # (anti)parallel: the great circle is undefined, fall back to a line as White does
        path = (1 - t) * start + t * end
    else:
        path = (np.sin((1 - t) * theta) * start + np.sin(t * theta) * end) / np.sin(theta)
    return path.astype(np.float32)


# -- recipes -----------------------------------------------------------------------------------------


def make_recipe(
    checkpoint: str,
    seed: int,
    z: np.ndarray,
    *,
    label: int | None = None,
    sliders: Sequence[float] | None = None,
    kind: str | None = None,
    code: int | None = None,
) -> dict[str, Any]:
    """A JSON-ready dict that rebuilds an image: ``z`` is the vector fed to the generator (sliders applied).

    ``seed``, ``sliders`` and an InfoGAN ``code`` record how z was made; ``image_from_recipe`` needs only z
    and the label.
    """
    vector = _vector(z)
    return {
        "format": RECIPE_FORMAT,
        "version": RECIPE_VERSION,
        "checkpoint": str(checkpoint),
        "kind": kind,
        "seed": int(seed),
        "label": None if label is None else int(label),
        "sliders": [float(value) for value in (sliders or [])],
        "code": None if code is None else int(code),
        "z": [float(value) for value in vector],  # float32 -> float -> float32 is exact
    }


def recipe_png(image: np.ndarray, recipe: dict[str, Any]) -> bytes:
    """The image as PNG bytes with the recipe JSON in the text chunk "multigen-recipe"."""
    return png_bytes(image, metadata={RECIPE_CHUNK: json.dumps(recipe)})


def recipe_from_png(data: bytes) -> dict[str, Any]:
    """The recipe stored in a PNG made by ``recipe_png`` (e.g. an uploaded file).

    Only the PNG's header and text chunks are read (``recipe_png`` writes the recipe before the pixels),
    never its pixels, and a picture of more than ``MAX_RECIPE_PIXELS`` is refused from its header: a
    400 KB file can claim 20000 x 20000 pixels.
    """
    with opened_upload(data, formats=("PNG",), max_bytes=MAX_RECIPE_BYTES, max_pixels=MAX_RECIPE_PIXELS,
                       what="multigen recipe PNG") as picture:
        text = picture.info.get(RECIPE_CHUNK)
    if not isinstance(text, str):
        raise MultigenError("This PNG carries no multigen recipe: upload an image saved from the GAN page.")
    try:
        recipe = json.loads(text)
    except (ValueError, RecursionError):
        raise MultigenError("The recipe in this PNG is not valid JSON: save the image again from multigen.") from None
    if not isinstance(recipe, dict) or recipe.get("format") != RECIPE_FORMAT:
        raise MultigenError("The text in this PNG is not a multigen recipe: upload an image saved from multigen.")
    return recipe


@dataclass(frozen=True)
class GeneratorRecipe:
    """What the GAN page needs back from a recipe, every field checked (``read_recipe``)."""

    seed: int  # 0 .. MAX_SEED
    label: int | None  # the digit (0-9) a cGAN drew, or None
    code: int | None  # the code category (0-63), or None
    sliders: tuple[float, ...]  # the slider values, each finite
    checkpoint: str  # the checkpoint it was made with, as written in the recipe ("" if none)
    found: tuple[float, ...] | None = None  # a noise vector found by inversion (``multigen invert``), else None
    distance: float | None = None  # the found digit's perceptual distance to the one searched for
    kind: str | None = None  # the model kind it was made with (gan, cgan, ...), None where it names none
    latent_dim: int | None = None  # the size of the noise vector it holds, None where it holds none
    version: int = RECIPE_VERSION  # of the page that saved it (1: before the sliders shared one reach)

    @property
    def held(self) -> bool:
        """Whether the page that saved it held its sliders together (``held_together``)."""
        return self.version >= 2


def _whole(value: Any, what: str, low: int, high: int, *, noun: str = "whole number") -> int:
    """A whole number from ``low`` to ``high`` (JSON's 3 or 3.0; not true, "3", 3.5, NaN or Infinity)."""
    number = not isinstance(value, bool) and isinstance(value, (int, float))
    if not number or (isinstance(value, float) and not value.is_integer()) or not low <= value <= high:
        raise MultigenError(f"The recipe's {what} {value!r} is not a {noun} from {low} to {high}: save it again on the GAN page.")
    return int(value)


def read_recipe(data: bytes, filename: str) -> GeneratorRecipe:
    """The recipe in an uploaded PNG (``recipe_png``) or JSON file (``make_recipe``), checked in full: any
    damage or out-of-range value is one ``MultigenError`` (nothing half-read)."""
    if len(data) > MAX_RECIPE_BYTES:
        raise MultigenError(f"This file is {len(data) / 1e6:.1f} MB; a recipe is a few KB: upload one saved from the GAN page.")
    try:
        if filename.lower().endswith(".png"):
            recipe = recipe_from_png(data)
        else:
            recipe = json.loads(data)
    except (ValueError, RecursionError):  # not JSON (or not UTF-8), or nested beyond reason
        raise MultigenError("This file is not a multigen recipe: upload a PNG or JSON saved from the GAN page.") from None
    if not isinstance(recipe, dict) or "seed" not in recipe:
        raise MultigenError("This file is not a multigen recipe: upload a PNG or JSON saved from the GAN page.")
    if recipe.get("type") == "number":  # handwriting.WRITE_RECIPE_TYPE (that module imports this one)
        raise MultigenError("This recipe writes a number (the Write page's strip), not one GAN digit: open a recipe saved from the GAN page.")
    label, code, kind = recipe.get("label"), recipe.get("code"), recipe.get("kind")
    if kind is not None and kind not in GENERATIVE_KINDS:
        raise MultigenError(f"The recipe's kind {str(kind)[:40]!r} is not one of {', '.join(GENERATIVE_KINDS)}: save it again on the GAN page.")
    sliders = recipe.get("sliders") or []
    if not isinstance(sliders, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in sliders
    ):
        raise MultigenError("The recipe's sliders are not a list of numbers: save the recipe again from the GAN page.")
    checkpoint = recipe.get("checkpoint") or ""
    version = recipe.get("version")  # a hand-written recipe may leave it out: as if saved now
    version = version if isinstance(version, int) and not isinstance(version, bool) and version >= 1 else RECIPE_VERSION
    z = recipe.get("z")
    found = distance = None
    if recipe.get("source") == "inversion":  # not a seed's vector: the page starts from z itself
        found = _recipe_noise(z, "The found recipe's z is not a list of finite numbers: run `multigen invert` again.")
        distance = recipe.get("distance")
        distance = float(distance) if isinstance(distance, (int, float)) and math.isfinite(distance) else None
    elif z == []:  # a hand-written recipe may leave the vector out this way
        z = None
    elif z is not None:  # the vector the page fed the generator: only its size is used (the seed rebuilds it)
        _recipe_noise(z, "The recipe's z is not a list of finite numbers: save the recipe again from the GAN page.")
    return GeneratorRecipe(
        seed=_whole(recipe["seed"], "seed", 0, MAX_SEED),
        label=None if label is None else _whole(label, "digit", 0, 9),
        code=None if code is None else _whole(code, "code", 0, 63, noun="code category"),
        sliders=tuple(float(v) for v in sliders),
        checkpoint=checkpoint if isinstance(checkpoint, str) else "",
        found=found,
        distance=distance,
        kind=kind,
        latent_dim=None if z is None else len(z),
        version=version,
    )


def _recipe_noise(z: Any, refusal: str) -> tuple[float, ...]:
    """A recipe's noise vector: a list of 1 to 512 finite numbers, each under 100 in size."""
    if not isinstance(z, list) or not 1 <= len(z) <= 512 or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and abs(v) < 100 for v in z
    ):
        raise MultigenError(refusal)
    return tuple(float(v) for v in z)


def check_recipe(model: GenerativeModel, recipe: GeneratorRecipe) -> None:
    """Refuse, in one line, a recipe that ``model`` cannot draw: one made for another kind of model, noise size or
    code count (checked before anything is measured for it)."""
    where = f" ({recipe.checkpoint})" if recipe.checkpoint else ""
    if not isinstance(model, GAN):
        raise MultigenError(f"A recipe draws with a gan or cgan checkpoint, not a {model.kind}: load the one it was made with{where}.")
    if recipe.kind is not None and recipe.kind != model.kind:
        raise MultigenError(f"This recipe is for a {recipe.kind} but the checkpoint holds a {model.kind}: load the one it was made with{where}.")
    if recipe.latent_dim is not None and recipe.latent_dim != model.latent_dim:
        raise MultigenError(f"The recipe's noise vector has {recipe.latent_dim} values but this {model.kind} takes "
                            f"{model.latent_dim}: load the checkpoint it was made with{where}.")
    categories = model.code_categories
    if recipe.code is not None and recipe.code >= categories:
        has = f"codes 0-{categories - 1}" if categories else "no code"
        raise MultigenError(f"The recipe picks code {recipe.code} but this {model.kind} has {has}: load the checkpoint it was made with{where}.")


def recipe_noise(model: GenerativeModel, recipe: GeneratorRecipe, directions: np.ndarray | None = None) -> np.ndarray:
    """The noise vector (d,) the GAN page feeds the generator once ``recipe`` is loaded: the found z of an
    inversion recipe, else the seed's (``noise_vector``); then the recipe's first ``PAGE_SLIDERS`` slider
    values, each held to +-``SLIDER_RANGE`` and together as the page holds them (``held_together``; not for a
    recipe of version 1, saved before, which is drawn as saved), along
    ``directions`` (``slider_directions(model, min(PAGE_SLIDERS, d))``, measured here when not given:
    ``multigen.cache.gan_directions`` keeps them); then its code. A recipe of another kind of model, noise size or
    code count is refused in one line (``check_recipe``)."""
    check_recipe(model, recipe)
    categories = model.code_categories
    start = noise_vector(recipe.seed, model.latent_dim) if recipe.found is None else np.asarray(recipe.found, np.float32)
    count = min(PAGE_SLIDERS, model.latent_dim)
    values = [max(-SLIDER_RANGE, min(SLIDER_RANGE, value)) for value in recipe.sliders[:count]]
    if recipe.held:  # a recipe saved before the sliders shared one reach is drawn as it was saved
        values = held_together(values)
    if any(values) and directions is None:
        directions = slider_directions(model, count)
    z = apply_sliders(start, directions[:count], values) if any(values) else start
    return z if recipe.code is None else with_code(z, recipe.code, categories)


def image_from_recipe(model: GenerativeModel, recipe: dict[str, Any]) -> np.ndarray:
    """The (28, 28) uint8 image a recipe describes, generated from its stored noise vector and label."""
    if recipe.get("kind") and recipe["kind"] != model.kind:
        raise MultigenError(
            f"This recipe is for a {recipe['kind']} but the loaded model is a {model.kind}: load its checkpoint."
        )
    if "z" not in recipe:
        raise MultigenError("The recipe has no noise vector 'z': make it with make_recipe().")
    z = np.asarray(recipe["z"], dtype=np.float32)
    if z.shape != (model.latent_dim,):
        raise MultigenError(
            f"The recipe's noise vector has {z.size} values but this model takes {model.latent_dim}: "
            f"load its checkpoint ({recipe.get('checkpoint')})."
        )
    return model.draw(z, recipe.get("label"))
