"""Where a VAE draws its latents from: the standard normal N(0, I) it was trained against, or a Gaussian
mixture fitted after training to where its encoder puts the training digits.

Ghosh, Sajjadi, Vergari, Black & Schölkopf, "From Variational to Deterministic Autoencoders", ICLR 2020
(section 4, ex-post density estimation): the aggregate posterior q(z) = mean_x q(z|x) of a trained VAE does
not fill N(0, I); samples from the prior land in its holes and decode to blurred blends. A density fitted to
the posterior means mu(x) of the training digits puts the samples where the decoder has learnt to draw.
The mixture is fitted with scikit-learn's ``GaussianMixture`` (EM, a fixed ``random_state``) and kept as
float32 tensors (weights, means and the Cholesky factors of the covariances), saved in the checkpoint under
``prior/`` (``multigen.checkpoints``), never pickled. Fitting it changes no weight, so the ELBO is the same.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from multigen.data import ImageDataset, subset
from multigen.errors import MultigenError

PRIORS = ("standard", "fitted")  # what a person can ask to sample from: N(0, I), or the fitted mixture
COVARIANCE_TYPES = ("full", "diag")  # the mixture's covariances: full matrices, or diagonal ones
DEFAULT_COMPONENTS = 50  # measured on the shipped VAE-16 (checkpoints/README.md): FID 38 -> 19, IS 5.5 -> 8.8
DEFAULT_COVARIANCE = "full"  # full beat diagonal at every component count measured (the same README)
MAX_COMPONENTS = 1000  # a ceiling a person can type; the shipped prior has 50
FIT_POINTS = 20_000  # latents a mixture is fitted to at most (a seeded subset of a larger split)
REG_COVAR = 1e-6  # added to every covariance's diagonal by EM, so none collapses onto a few points
MAX_ITER = 200  # EM iterations (scikit-learn's default, 100, leaves some 50-component fits unconverged)
WEIGHT_TOLERANCE = 1e-3  # how far a stored mixture's weights may sum from 1 (float32 rounding)
PRIOR_TYPE = "gaussian-mixture"  # the "type" of a stored prior's description


@dataclass(frozen=True, eq=False)
class MixturePrior:
    """A Gaussian mixture over a model's latent space: p(z) = sum_k weights[k] N(z; means[k], L_k L_k^T).

    Checked on construction (``ValueError``, one line): consistent shapes, finite float32 values, weights that
    are a distribution, lower-triangular factors with a positive diagonal. Read-only: the tensors are shared.
    """

    weights: torch.Tensor  # (K,) float32, each component's probability, summing to 1
    means: torch.Tensor  # (K, d) float32, the component centres in latent space
    scale_tril: torch.Tensor  # (K, d, d) float32, lower Cholesky factors L_k of the covariances (diagonal for "diag")
    covariance_type: str = DEFAULT_COVARIANCE  # how it was fitted: "full" or "diag"
    dataset: str | None = None  # the data set whose digits it was fitted to
    split: str = "train"  # ... and which split of it
    points: int = 0  # how many latent means it was fitted to
    seed: int = 0  # the fit's random_state

    def __post_init__(self) -> None:
        for name in ("weights", "means", "scale_tril"):
            tensor = getattr(self, name)
            if not isinstance(tensor, torch.Tensor) or tensor.dtype != torch.float32:
                raise ValueError(f"its {name} must be a float32 tensor, got {getattr(tensor, 'dtype', type(tensor).__name__)}")
        k = self.weights.shape[0] if self.weights.ndim == 1 else -1
        if not 1 <= k <= MAX_COMPONENTS:
            raise ValueError(f"its weights have shape {list(self.weights.shape)}, not (K,) with K from 1 to {MAX_COMPONENTS}")
        if self.means.ndim != 2 or self.means.shape[0] != k or self.means.shape[1] < 1:
            raise ValueError(f"its means have shape {list(self.means.shape)}, not ({k}, latent size)")
        d = self.means.shape[1]
        if tuple(self.scale_tril.shape) != (k, d, d):
            raise ValueError(f"its scale_tril has shape {list(self.scale_tril.shape)}, not {[k, d, d]}")
        if self.covariance_type not in COVARIANCE_TYPES:
            raise ValueError(f"its covariance type {self.covariance_type!r} is not one of {', '.join(COVARIANCE_TYPES)}")
        if not all(bool(torch.isfinite(getattr(self, name)).all()) for name in ("weights", "means", "scale_tril")):
            raise ValueError("it holds NaN or infinity")
        if bool((self.weights < 0).any()) or abs(float(self.weights.double().sum()) - 1.0) > WEIGHT_TOLERANCE:
            raise ValueError(f"its weights sum to {float(self.weights.double().sum()):.6g}, not 1")
        if not bool((torch.diagonal(self.scale_tril, dim1=-2, dim2=-1) > 0).all()):
            raise ValueError("its covariance factors have a diagonal entry that is not positive")
        if bool(torch.triu(self.scale_tril, diagonal=1).any()):
            raise ValueError("its covariance factors are not lower-triangular")

    # -- what it is ---------------------------------------------------------------------------------
    @property
    def components(self) -> int:
        """K, the number of Gaussians."""
        return int(self.weights.shape[0])

    @property
    def latent_dim(self) -> int:
        """d, the size of the vectors it draws."""
        return int(self.means.shape[1])

    @property
    def covariances(self) -> torch.Tensor:
        """(K, d, d) float32, each component's covariance L_k L_k^T (for drawing its ellipse on a map)."""
        return self.scale_tril @ self.scale_tril.transpose(-1, -2)

    def describe(self) -> dict[str, Any]:
        """What a checkpoint's metadata says of it, beside its tensors (JSON)."""
        return {"type": PRIOR_TYPE, "components": self.components, "latent_dim": self.latent_dim,
                "covariance_type": self.covariance_type, "dataset": self.dataset, "split": self.split,
                "points": self.points, "seed": self.seed}

    def tensors(self) -> dict[str, torch.Tensor]:
        """Its tensors by name (a checkpoint stores them as ``prior/{name}``)."""
        return {"weights": self.weights, "means": self.means, "scale_tril": self.scale_tril}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], description: Any) -> MixturePrior:
        """The prior that ``tensors`` and ``describe()``'s ``description`` were made from; ``ValueError``
        (one line) for anything else."""
        if not isinstance(description, dict) or description.get("type") != PRIOR_TYPE:
            raise ValueError(f"its description is not a {PRIOR_TYPE}")
        if set(tensors) != {"weights", "means", "scale_tril"}:
            raise ValueError(f"it has the tensors {sorted(tensors)}, not weights, means and scale_tril")
        components, points, seed = (description.get(key) for key in ("components", "points", "seed"))
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in (components, points, seed)):
            raise ValueError("its components, points and seed are not whole numbers")
        dataset, split = description.get("dataset"), description.get("split", "train")
        if not (dataset is None or isinstance(dataset, str)) or not isinstance(split, str):
            raise ValueError("its data set or split is not a name")
        prior = cls(tensors["weights"], tensors["means"], tensors["scale_tril"], covariance_type=description.get("covariance_type"),
                    dataset=dataset, split=split, points=points, seed=seed)
        if prior.components != components:
            raise ValueError(f"it says {components} components but holds {prior.components}")
        return prior

    # -- drawing and scoring ------------------------------------------------------------------------
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, device: str | torch.device | None = None
    ) -> torch.Tensor:
        """n latent vectors (n, d) float32: a component by its weight, then its Gaussian (mean + L_k eps).

        Drawn on ``device`` (default: the generator's, else the CPU) from ``generator``: the same seed gives
        the same vectors every time.
        """
        device = torch.device(device) if device is not None else (generator.device if generator is not None else torch.device("cpu"))
        if n <= 0:
            return torch.zeros((0, self.latent_dim), device=device)
        index = torch.multinomial(self.weights.to(device), n, replacement=True, generator=generator)
        eps = torch.randn((n, self.latent_dim), generator=generator, device=device)
        means, factors = self.means.to(device), self.scale_tril.to(device)
        z = torch.empty_like(eps)
        for k in index.unique().tolist():  # component by component: no (n, d, d) gather for large d
            rows = index == k
            z[rows] = means[k] + eps[rows] @ factors[k].T
        return z

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) (n,) of latent vectors (n, d) under the mixture, in nats."""
        mixture = torch.distributions.MixtureSameFamily(
            torch.distributions.Categorical(probs=self.weights.to(z.device)),
            torch.distributions.MultivariateNormal(self.means.to(z.device), scale_tril=self.scale_tril.to(z.device)),
        )
        return mixture.log_prob(z.float())


# -- fitting --------------------------------------------------------------------------------------
def fit_mixture(
    latents: np.ndarray | torch.Tensor,
    *,
    components: int = DEFAULT_COMPONENTS,
    covariance_type: str = DEFAULT_COVARIANCE,
    seed: int = 0,
    dataset: str | None = None,
    split: str = "train",
) -> MixturePrior:
    """A Gaussian mixture fitted by EM (scikit-learn, ``random_state=seed``) to latent vectors (n, d)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture  # scikit-learn takes seconds to import

    points = np.asarray(latents.detach().cpu() if isinstance(latents, torch.Tensor) else latents, dtype=np.float64)
    if covariance_type not in COVARIANCE_TYPES:
        raise MultigenError(f"Unknown covariance type {covariance_type!r}: choose one of {', '.join(COVARIANCE_TYPES)}.")
    if isinstance(components, bool) or not isinstance(components, (int, np.integer)) or not 1 <= components <= MAX_COMPONENTS:
        raise MultigenError(f"A prior needs 1 to {MAX_COMPONENTS} components, got {components!r}.")
    if points.ndim != 2 or len(points) < 2 * components:
        raise MultigenError(f"Fitting {components} components needs at least {2 * components} latent vectors (n, d), "
                            f"got shape {points.shape}: fit fewer components or to more digits.")
    if not np.isfinite(points).all():
        raise MultigenError("The latent vectors hold NaN or infinity: the model's encoder is broken; retrain it.")
    mixture = GaussianMixture(int(components), covariance_type=covariance_type, random_state=int(seed),
                              reg_covar=REG_COVAR, max_iter=MAX_ITER)
    with warnings.catch_warnings():  # an unconverged fit after MAX_ITER steps is still a fit
        warnings.simplefilter("ignore", ConvergenceWarning)
        mixture.fit(points)
    covariances = mixture.covariances_ if covariance_type == "full" else np.stack([np.diag(c) for c in mixture.covariances_])
    weights = mixture.weights_ / mixture.weights_.sum()
    return MixturePrior(
        torch.from_numpy(weights.astype(np.float32)),
        torch.from_numpy(mixture.means_.astype(np.float32)),
        torch.from_numpy(np.tril(np.linalg.cholesky(covariances)).astype(np.float32)),
        covariance_type=covariance_type, dataset=dataset, split=split, points=len(points), seed=int(seed),
    )


def fit_prior(
    model: Any,
    dataset: ImageDataset,
    *,
    components: int = DEFAULT_COMPONENTS,
    covariance_type: str = DEFAULT_COVARIANCE,
    seed: int = 0,
    max_points: int = FIT_POINTS,
) -> MixturePrior:
    """The mixture prior of a VAE (or CVAE): fitted to the posterior means mu(x) of ``dataset``'s digits (its
    training split; at most ``max_points`` of them, a seeded subset). Does not attach it: set
    ``model.fitted_prior`` (``multigen.checkpoints.store_prior`` saves it)."""
    if not getattr(model, "has_encoder", False):  # the check of base.require_encoder, which imports this module
        raise MultigenError(f"Fitting a prior needs an encoder, which a {getattr(model, 'kind', 'model')} lacks: "
                            "load a VAE or CVAE checkpoint.")
    digits = subset(dataset, int(max_points), seed=int(seed), stratified=False)  # the data's own label mix
    return fit_mixture(model.latent_means(digits), components=components, covariance_type=covariance_type,
                       seed=seed, dataset=dataset.name, split=dataset.split)
