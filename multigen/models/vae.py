"""Variational autoencoders: the VAE of Kingma & Welling and its label-conditioned variant (CVAE).

Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
Sohn, Lee & Yan, "Learning Structured Output Representation using Deep Conditional Generative
Models", NeurIPS 2015 (the CVAE). Higgins et al., "beta-VAE", ICLR 2017 (the optional beta).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from multigen.data import ImageDataset
from multigen.distributed import SINGLE_PROCESS, Shard
from multigen.models.base import GenerativeModel
from multigen.models.fields import number, whole

IMAGE_SHAPE = (1, 28, 28)
NUM_CLASSES = 10
LATENT_BATCH = 500  # digits encoded per forward pass by ``latent_means``


@dataclass
class VAEConfig:
    """Hyper-parameters of a (conditional) VAE; saved in every checkpoint to rebuild the model."""

    latent_dim: int = 16  # size of z; 2 gives a map you can read directly, 16 gives sharper digits
    hidden_channels: int = 32  # channels of the first conv layer; the second has twice as many
    hidden_features: int = 256  # width of the fully connected layer between convs and (mu, logvar)
    beta: float = 1.0  # weight of the KL term; 1 is the plain VAE, >1 the beta-VAE of Higgins et al.
    learning_rate: float = 1e-3  # Adam step size
    num_classes: int = NUM_CLASSES  # labels a CVAE is conditioned on (ignored by the plain VAE)

    def __post_init__(self) -> None:
        whole("latent_dim", self.latent_dim, 2, 128)
        whole("hidden_channels", self.hidden_channels, 1, 128)
        whole("hidden_features", self.hidden_features, 1, 2048)
        number("beta", self.beta, 0, 1000)
        number("learning_rate", self.learning_rate, 0, 1, above_low=True)
        whole("num_classes", self.num_classes, 2, 100)


def vae_loss(
    logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, beta: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Negative ELBO in nats per image, with its reconstruction and KL parts.

    Kingma & Welling (2014), eq. 10: -ELBO = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I)), with a
    Bernoulli likelihood (binary cross-entropy on logits) and the closed-form Gaussian KL
    -1/2 * sum(1 + logvar - mu^2 - exp(logvar)). beta scales the KL term (Higgins et al., 2017).
    Computed in float32 whatever the precision of the forward pass (``multigen.training.precision``).
    """
    logits, x, mu, logvar = logits.float(), x.float(), mu.float(), logvar.float()
    batch = x.shape[0]
    reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / batch
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / batch
    return reconstruction + beta * kl, reconstruction, kl


class VAE(GenerativeModel):
    """Convolutional VAE for 28x28 digits with a Bernoulli likelihood."""

    kind: ClassVar[str] = "vae"
    display_name: ClassVar[str] = "VAE"
    conditional: ClassVar[bool] = False
    has_encoder: ClassVar[bool] = True
    latent_field: ClassVar[str] = "latent_dim"
    latent_range: ClassVar[tuple[int, int]] = (2, 128)

    def __init__(self, config: VAEConfig | None = None) -> None:
        super().__init__()
        self.config = config or VAEConfig()
        c, h = self.config.hidden_channels, self.config.hidden_features
        extra = self.config.num_classes if self.conditional else 0
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c, 4, stride=2, padding=1),  # c x 14 x 14
            nn.LeakyReLU(0.2),
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1),  # 2c x 7 x 7
            nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        self.encoder_head = nn.Sequential(nn.Linear(2 * c * 7 * 7 + extra, h), nn.LeakyReLU(0.2))
        self.to_mu = nn.Linear(h, self.config.latent_dim)
        self.to_logvar = nn.Linear(h, self.config.latent_dim)
        self.decoder_input = nn.Sequential(
            nn.Linear(self.config.latent_dim + extra, h),
            nn.LeakyReLU(0.2),
            nn.Linear(h, 2 * c * 7 * 7),
            nn.LeakyReLU(0.2),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1),  # c x 14 x 14
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1),  # 1 x 28 x 28, logits
        )

    # -- helpers -------------------------------------------------------------------------------
    def _condition(self, features: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if not self.conditional:
            return features
        if labels is None:
            raise ValueError("A conditional model needs labels.")
        labels = torch.as_tensor(labels, device=features.device).long().reshape(-1)
        if labels.numel() == 1 and features.shape[0] > 1:
            labels = labels.expand(features.shape[0])
        one_hot = F.one_hot(labels, self.config.num_classes).to(features.dtype)
        return torch.cat([features, one_hot], dim=1)

    # -- the model in the language of the paper -------------------------------------------------
    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x): the mean and log-variance of the approximate posterior."""
        features = self.encoder_head(self._condition(self.encoder(x), labels))
        return self.to_mu(features), self.to_logvar(features)

    @staticmethod
    def reparameterize(
        mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None,
        eps: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I) (drawn unless given), so gradients flow through mu and logvar."""
        if eps is None:
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def decode_logits(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """p(x|z) as Bernoulli logits, shape (n, 1, 28, 28)."""
        h = self.decoder_input(self._condition(z, labels))
        return self.decoder(h.view(-1, 2 * self.config.hidden_channels, 7, 7))

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The mean image of p(x|z), pixels in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z, labels))

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
        eps: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode, sample z (with noise ``eps`` when given), decode: returns (reconstruction logits, mu, logvar)."""
        mu, logvar = self.encode(x, labels)
        z = self.reparameterize(mu, logvar, generator, eps)
        return self.decode_logits(z, labels), mu, logvar

    # -- the interface every multigen model shares ----------------------------------------------
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1] from latent vectors (the decoder's mean)."""
        return self.decode(z, labels)

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Adam over all parameters (Kingma & Ba, 2015)."""
        return {"vae": torch.optim.Adam(self.parameters(), lr=self.config.learning_rate)}

    def trainable_networks(self) -> dict[str, nn.Module]:
        """The one network a step calls, under its optimizer's name (the same for a CVAE)."""
        return {"vae": self}

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
        """One step on the negative ELBO (``vae_loss``); returns it with its reconstruction and KL parts."""
        optimizer, vae = optimizers["vae"], (networks or self.trainable_networks())["vae"]
        eps = shard.randn(images.shape[0], self.latent_dim, generator=generator, device=images.device)
        logits, mu, logvar = vae(images, labels if self.conditional else None, eps=eps)
        loss, reconstruction, kl = vae_loss(logits, images, mu, logvar, self.config.beta)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": loss.detach(), "reconstruction": reconstruction.detach(), "kl": kl.detach()}

    @torch.no_grad()
    def latent_means(self, dataset: ImageDataset) -> np.ndarray:
        """mu(x) (n, latent_dim) of ``dataset``'s digits (the trainer's snapshots of the forming map)."""
        was_training = self.training
        self.eval()
        rows = []
        try:
            for start in range(0, len(dataset), LATENT_BATCH):
                images = dataset.images[start : start + LATENT_BATCH].to(self.device)
                labels = dataset.labels[start : start + LATENT_BATCH].to(self.device) if self.conditional else None
                rows.append(self.encode(images, labels)[0].float().cpu())
        finally:
            self.train(was_training)
        return torch.cat(rows).numpy() if rows else np.zeros((0, self.latent_dim), np.float32)


class ConditionalVAE(VAE):
    """CVAE (Sohn et al., 2015): encoder and decoder both see the one-hot digit label.

    The latent then carries the style (slant, thickness, width) and the label the content.
    """

    kind: ClassVar[str] = "cvae"
    display_name: ClassVar[str] = "CVAE"
    conditional: ClassVar[bool] = True
