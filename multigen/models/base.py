"""The shape every multigen model has.

``TrainableModel`` is what ``multigen.training.Trainer`` trains: a model brings its optimizers, its
training step and a few hooks (``prepare``, ``on_epoch_end``, ``validation_metrics``, ...), so the
trainer never asks which kind of model it holds. ``GenerativeModel`` adds what every model that draws
digits has: a latent (or noise) vector, ``generate`` for tensors and ``draw`` for numpy, the one path
from vectors (+ labels) to digit images that the explorer, the GAN page, the writer, Compare and the
CLI all take.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from multigen.data import ImageDataset
from multigen.distributed import SINGLE_PROCESS, Shard
from multigen.errors import MultigenError
from multigen.images import to_uint8
from multigen.models.prior import PRIORS, MixturePrior

DRAW_BATCH = 500  # vectors decoded per forward pass by ``draw``


class TrainableModel(nn.Module):
    """A model the one training loop can train. Subclasses set the class attributes and implement
    ``make_optimizers`` and ``training_step``; the hooks have defaults that do nothing."""

    kind: ClassVar[str]  # the registry's name, saved in checkpoints: "vae", "gan", "classifier", ...
    display_name: ClassVar[str]  # what a person reads: "VAE", "DCGAN", "digit classifier", ...
    conditional: ClassVar[bool] = False  # told which digit to draw (a label per image)
    config: Any  # the model's dataclass config, saved in every checkpoint

    @property
    def device(self) -> torch.device:
        """Where the model's weights are."""
        return next(self.parameters()).device

    # -- training ---------------------------------------------------------------------------------
    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers of a training run, by name (saved under these names in checkpoints)."""
        raise NotImplementedError

    def trainable_networks(self) -> dict[str, nn.Module]:
        """The networks a training step calls (the trainer may wrap each in DistributedDataParallel)."""
        return {self.kind: self}

    def training_step(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        optimizers: dict[str, torch.optim.Optimizer],
        generator: torch.Generator | None = None,
        *,
        networks: dict[str, nn.Module] | None = None,
        shard: Shard = SINGLE_PROCESS,
    ) -> dict[str, torch.Tensor]:
        """One gradient step on a batch of images in [0, 1]; returns the losses as 0-d tensors ("loss" first).

        ``networks`` are ``trainable_networks()``, possibly wrapped for several processes; ``shard`` says
        which slice of the global batch's noise this process draws from ``generator``.
        """
        raise NotImplementedError

    # -- hooks the trainer calls --------------------------------------------------------------------
    def prepare(
        self, train: ImageDataset, *, saved: Mapping[str, torch.Tensor], seed: int, shard: Shard = SINGLE_PROCESS
    ) -> ImageDataset:
        """The training set this model trains on, once, before the first step (``saved``: the tensors of
        ``training_state`` from the checkpoint a run resumes, else empty). Default: ``train`` as it is."""
        return train

    def training_state(self) -> dict[str, torch.Tensor]:
        """Tensors a resumed run needs back in ``prepare`` (saved in every checkpoint of the run)."""
        return {}

    def learning_rate_factor(self, step: int, total_steps: int, decay_start: int | None) -> float:
        """The share of its base learning rate step ``step`` (0-based) takes. Default: 1, or with a
        ``decay_start`` a straight line down to 1/(total - start) at the last step (the decay of, e.g.,
        Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks",
        ICCV 2017)."""
        if decay_start is None or step < decay_start:
            return 1.0
        return (total_steps - step) / max(total_steps - decay_start, 1)

    def on_epoch_end(self) -> None:
        """Called after each epoch, before it is measured and saved."""

    def validation_metrics(self, validation: ImageDataset) -> dict[str, float]:
        """Figures measured on the validation split after each epoch (saved in the run's history)."""
        return {}

    def preview(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray | None] | None:
        """``n`` uint8 images (n, 28, 28) from fixed inputs (the same for a ``seed`` every time, so the
        pictures show learning) and their labels; None for a model that draws nothing."""
        return None

    def latent_means(self, dataset: ImageDataset) -> np.ndarray | None:
        """The latent means (n, d) of ``dataset``'s digits, for a model with an encoder; else None."""
        return None


class GenerativeModel(TrainableModel):
    """A model that turns latent (or noise) vectors, and labels when conditional, into digits."""

    has_encoder: ClassVar[bool] = False  # maps digits back into its latent space (a VAE's encoder)
    latent_field: ClassVar[str]  # the config field holding the latent size ("latent_dim", "noise_dim")
    latent_range: ClassVar[tuple[int, int]]  # the latent sizes the model accepts

    @property
    def latent_dim(self) -> int:
        """Size of the vectors that ``generate`` turns into images."""
        return int(getattr(self.config, self.latent_field))

    @property
    def code_categories(self) -> int:
        """Categories of a code read from the noise vector (InfoGAN or clusters); 0 for none."""
        return 0

    @property
    def code_from_clusters(self) -> bool:
        """True when the code's categories are clusters of the training digits (a self-conditioned GAN)."""
        return False

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images (n, 1, 28, 28) in [0, 1] from vectors z (n, latent_dim) (and labels (n,) when conditional)."""
        raise NotImplementedError

    # -- where latents come from (multigen.models.prior) -------------------------------------------
    @property
    def fitted_prior(self) -> MixturePrior | None:
        """The mixture fitted to the training digits' latents (``multigen.models.prior``), or None."""
        return self.__dict__.get("_fitted_prior")

    @fitted_prior.setter
    def fitted_prior(self, prior: MixturePrior | None) -> None:
        if prior is not None:
            if not self.has_encoder:
                raise MultigenError(f"A {self.kind} has no encoder whose latents a prior could be fitted to: "
                                    "fitted priors are for VAEs and CVAEs.")
            if not isinstance(prior, MixturePrior) or prior.latent_dim != self.latent_dim:
                raise MultigenError(f"This {self.kind} draws vectors of size {self.latent_dim}, but the prior is "
                                    f"{getattr(prior, 'latent_dim', type(prior).__name__)}-dimensional: fit it to this model.")
        self.__dict__["_fitted_prior"] = prior

    def latent_prior(self, prior: str | None = None) -> MixturePrior | None:
        """The mixture latents are drawn from, or None for N(0, I). ``prior``: "standard" (N(0, I)), "fitted"
        (the fitted mixture; an error without one), or None: the fitted one when the model has it."""
        if prior is None:
            return self.fitted_prior
        if prior not in PRIORS:
            raise MultigenError(f"Unknown prior {prior!r}: choose one of {', '.join(PRIORS)}.")
        if prior == "standard":
            return None
        if self.fitted_prior is None:
            raise MultigenError(f"This {self.kind} has no fitted prior: fit one with `multigen fit-prior CHECKPOINT`, "
                                "or sample from the standard one.")
        return self.fitted_prior

    def sample_latent(
        self, n: int, *, prior: str | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """n latent vectors (n, latent_dim) on the model's device from ``prior`` (see ``latent_prior``), drawn
        from ``generator`` (on the model's device): the one place every sample's z comes from."""
        mixture = self.latent_prior(prior)
        if mixture is None:
            return torch.randn((n, self.latent_dim), generator=generator, device=self.device)
        return mixture.sample(n, generator=generator, device=self.device)

    @torch.no_grad()
    def sample(
        self, n: int, *, labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
        prior: str | None = None,
    ) -> torch.Tensor:
        """n images, pixels in [0, 1], from z drawn by ``sample_latent``: the fitted prior when the model has one
        (``prior=None``), else N(0, I); ``prior="standard"`` or ``"fitted"`` chooses."""
        return self.generate(self.sample_latent(n, prior=prior, generator=generator), labels)

    def label_tensor(self, labels: Any, n: int) -> torch.Tensor | None:
        """Labels (one, or one per vector) as a checked (n,) long tensor on the model's device; None for an
        unconditional model, which has no use for labels (so callers may pass them either way)."""
        if not self.conditional:
            return None
        if labels is None:
            raise MultigenError(f"This {self.kind} is conditional, so it needs a digit label: pass labels=0..9.")
        if isinstance(labels, torch.Tensor):
            tensor = labels.detach().long().reshape(-1).cpu()
        else:
            tensor = torch.as_tensor(np.asarray(labels), dtype=torch.long).reshape(-1)
        if tensor.numel() == 1:
            tensor = tensor.expand(n)
        if tensor.numel() != n:
            raise MultigenError(f"Got {tensor.numel()} labels for {n} vectors: pass one label or one per vector.")
        num_classes = self.config.num_classes
        if bool(((tensor < 0) | (tensor >= num_classes)).any()):
            raise MultigenError(f"Labels must be between 0 and {num_classes - 1}: pass a digit label.")
        return tensor.to(self.device)

    def draw(self, z: Any, labels: Any = None) -> np.ndarray:
        """Digits as uint8 from latent vectors: z (k, d) -> (k, 28, 28), one z (d,) -> (28, 28).

        The one path from numbers to pictures (batched, without gradients, in eval mode as the model is);
        a conditional model needs ``labels``: one for all, or one per vector.
        """
        rows = np.asarray(z, dtype=np.float32)
        single = rows.ndim == 1
        rows = rows[None] if single else rows
        if rows.ndim != 2 or rows.shape[1] != self.latent_dim:
            raise MultigenError(
                f"z has shape {np.shape(z)} but this {self.kind} takes vectors of size {self.latent_dim}: "
                "pass (d,) or (k, d) with that d."
            )
        label_rows = self.label_tensor(labels, len(rows))
        out = []
        with torch.no_grad():
            for start in range(0, len(rows), DRAW_BATCH):
                batch = torch.from_numpy(np.ascontiguousarray(rows[start : start + DRAW_BATCH])).to(self.device)
                part = None if label_rows is None else label_rows[start : start + DRAW_BATCH]
                out.append(to_uint8(self.generate(batch, part)))
        images = np.concatenate(out) if out else np.zeros((0, 28, 28), np.uint8)
        return images[0] if single else images

    def preview(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
        """``n`` digits from fixed noise (seeded on the CPU, so every device draws the same vectors); a
        conditional model draws digit ``i % 10`` in row i (a 10-wide grid's columns are the digits)."""
        z = torch.randn((n, self.latent_dim), generator=torch.Generator().manual_seed(seed))
        labels = np.arange(n) % 10 if self.conditional else None
        was_training = self.training
        self.eval()
        try:
            return self.draw(z.numpy(), labels), labels
        finally:
            self.train(was_training)


def require_encoder(model: object, what: str = "This") -> GenerativeModel:
    """``model``, or a one-line error unless it has an encoder (a VAE or CVAE)."""
    if not (isinstance(model, GenerativeModel) and model.has_encoder):
        kind = getattr(model, "kind", type(model).__name__)
        raise MultigenError(f"{what} needs an encoder, which a {kind} lacks: load a VAE or CVAE checkpoint.")
    return model
