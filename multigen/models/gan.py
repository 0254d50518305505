"""DCGAN and its label-conditioned variant (cGAN) for 28x28 digits.

Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014 (the non-saturating loss).
Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional GANs",
ICLR 2016 (DCGAN). Mirza & Osindero, "Conditional Generative Adversarial Nets", 2014 (the
label-conditioned generator). Miyato & Koyama, "cGANs with Projection Discriminator", ICLR 2018.
Options: Miyato, Kataoka, Koyama & Yoshida, "Spectral Normalization for Generative Adversarial
Networks", ICLR 2018; the two time-scale rule of Heusel et al. (2017); DiffAugment (``augment``);
Chen et al., "InfoGAN: Interpretable Representation Learning by Information Maximizing Generative
Adversarial Nets", NeurIPS 2016 (``categorical_code``); Liu et al., "Diverse Image Generation via
Self-Conditioned GANs", CVPR 2020 (``cluster_code``).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from multigen.data import ImageDataset
from multigen.distributed import SINGLE_PROCESS, Shard, broadcast
from multigen.errors import MultigenError
from multigen.models.augment import diff_augment, parse_policy, random_numbers_needed
from multigen.models.base import GenerativeModel
from multigen.models.fields import flag, number, text, whole
from multigen.models.layers import FastDropout

NUM_CLASSES = 10


@dataclass
class GANConfig:
    """Hyper-parameters of a (conditional) DCGAN; saved in every checkpoint to rebuild the model."""

    noise_dim: int = 100  # size of the noise vector z fed to the generator
    learning_rate: float = 2e-4  # Adam step size for both networks (Radford et al.)
    beta1: float = 0.5  # Adam beta1; 0.5 instead of 0.9 keeps the adversarial game stable
    beta2: float = 0.999  # Adam beta2
    dropout: float = 0.3  # dropout after each discriminator conv layer
    label_smoothing: float = 0.0  # target for real images is 1 - this (Salimans et al., 2016)
    num_classes: int = NUM_CLASSES  # labels a cGAN is conditioned on (ignored by the plain GAN)
    ema_decay: float = 0.0  # >0 keeps an exponential moving average of the generator to draw with (0: off)
    augment: str = ""  # DiffAugment transforms of what the discriminator sees, e.g. "translation,cutout" ("": off)
    spectral_norm: bool = False  # spectral normalisation of the discriminator's layers (Miyato et al., 2018)
    discriminator_learning_rate: float = 0.0  # the discriminator's Adam step size; 0: learning_rate (TTUR: differ)
    categorical_code: int = 0  # categories of a code read from the noise vector (InfoGAN, or clusters; 0: off)
    info_weight: float = 1.0  # InfoGAN's lambda: weight of the code's mutual-information term (not with clusters)
    cluster_code: bool = False  # the code's categories are clusters of the training digits (self-conditioned GAN)
    mode_seeking: float = 0.0  # MSGAN's lambda (Mao et al., 2019): pushes two noises' fakes of one condition apart (0: off)

    def __post_init__(self) -> None:
        whole("noise_dim", self.noise_dim, 1, 512)
        number("learning_rate", self.learning_rate, 0, 1, above_low=True)
        number("beta1", self.beta1, 0, 1, below_high=True)
        number("beta2", self.beta2, 0, 1, below_high=True)
        number("dropout", self.dropout, 0, 1, below_high=True)
        number("label_smoothing", self.label_smoothing, 0, 0.5)
        whole("num_classes", self.num_classes, 2, 100)
        number("ema_decay", self.ema_decay, 0, 1, below_high=True)
        text("augment", self.augment)
        flag("spectral_norm", self.spectral_norm)
        number("discriminator_learning_rate", self.discriminator_learning_rate, 0, 1)
        whole("categorical_code", self.categorical_code, 0, 64)
        number("info_weight", self.info_weight, 0, 100)
        flag("cluster_code", self.cluster_code)
        number("mode_seeking", self.mode_seeking, 0, 100)
        if self.categorical_code > self.noise_dim or self.categorical_code == 1:
            raise ValueError(
                f"categorical_code must be 0 (off) or 2 to min(noise_dim, 64), got {self.categorical_code}."
            )
        if self.cluster_code and not self.categorical_code:
            raise ValueError("cluster_code needs a categorical_code (--categorical-code K): the number of clusters, e.g. 20.")
        self.augment = ",".join(parse_policy(self.augment))


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))), Goodfellow et al. (2014), eq. 1, on logits (in float32, as every loss)."""
    real_logits, fake_logits = real_logits.float(), fake_logits.float()
    real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_target))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss -log D(G(z)), Goodfellow et al. (2014), section 3."""
    fake_logits = fake_logits.float()
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def information_loss(code_logits: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """-E log Q(c | G(z, c)): the variational lower bound of the mutual information I(c; G(z, c)) up to
    the constant H(c), Chen et al. (2016), eq. 5 (a categorical Q, so a cross-entropy)."""
    return F.cross_entropy(code_logits.float(), code)


def mode_seeking_loss(fake: torch.Tensor, other_fake: torch.Tensor, z: torch.Tensor, other_z: torch.Tensor) -> torch.Tensor:
    """1 / (d(G(z1, c), G(z2, c)) / d(z1, z2) + eps), with d the mean absolute difference: the mode-seeking term of
    Mao et al. (2019), "Mode Seeking Generative Adversarial Networks for Diverse Image Synthesis", eq. 3 (as their
    code minimises it). It grows when two noise vectors of one condition give near-identical images, so the
    generator spreads a condition's noise over more of its digits instead of collapsing onto a few."""
    ratio = (fake.float() - other_fake.float()).abs().mean() / (z.float() - other_z.float()).abs().mean()
    return 1.0 / (ratio + 1e-5)


def categorical_code(z: torch.Tensor, categories: int) -> torch.Tensor:
    """The code category a noise vector carries: the argmax of its first ``categories`` entries.

    For z ~ N(0, I) every category is equally likely, so sampling z samples the code too, and any
    noise vector (a seed, a slider position) names one category: the generator stays a function of z alone.
    """
    return z[:, :categories].argmax(dim=1)


def with_categorical_code(z: torch.Tensor, code: torch.Tensor | int, categories: int) -> torch.Tensor:
    """Noise vectors (n, d) that carry ``code`` (one per row, or one for all): the largest of each row's
    first ``categories`` entries is swapped into place ``code``. The values stay those of a N(0, I) draw,
    so the rest of the picture changes as little as the code allows."""
    z = z.clone()
    rows = torch.arange(z.shape[0], device=z.device)
    code = torch.as_tensor(code, device=z.device).long().expand(z.shape[0])
    top = categorical_code(z, categories)
    largest, displaced = z[rows, top], z[rows, code]  # copies (advanced indexing)
    z[rows, code] = largest
    z[rows, top] = displaced
    return z


class Generator(nn.Module):
    """z (+ one-hot label, + one-hot InfoGAN code read from z) -> 28x28 image in [-1, 1]."""

    def __init__(self, noise_dim: int, num_labels: int = 0, code_categories: int = 0) -> None:
        super().__init__()
        self.num_labels = num_labels
        self.code_categories = code_categories
        self.project = nn.Sequential(
            nn.Linear(noise_dim + num_labels + code_categories, 7 * 7 * 128, bias=False),
            nn.BatchNorm1d(7 * 7 * 128),
            nn.ReLU(True),
        )
        self.net = nn.Sequential(
            nn.ConvTranspose2d(128, 128, 5, stride=1, padding=2, bias=False),  # 128 x 7 x 7
            nn.BatchNorm2d(128),
            nn.ReLU(True),
            nn.ConvTranspose2d(128, 64, 5, stride=2, padding=2, output_padding=1, bias=False),  # 64 x 14 x 14
            nn.BatchNorm2d(64),
            nn.ReLU(True),
            nn.ConvTranspose2d(64, 1, 5, stride=2, padding=2, output_padding=1),  # 1 x 28 x 28
            nn.Tanh(),
        )

    def project_input(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """What the first layer sees: z, then the label's one-hot (cGAN), then the code's one-hot (InfoGAN)."""
        inputs = [z]
        if self.num_labels:
            inputs.append(F.one_hot(labels, self.num_labels).to(z.dtype))
        if self.code_categories:
            inputs.append(F.one_hot(categorical_code(z, self.code_categories), self.code_categories).to(z.dtype))
        return torch.cat(inputs, dim=1) if len(inputs) > 1 else z

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(self.project(self.project_input(z, labels)).view(-1, 128, 7, 7))


class Discriminator(nn.Module):
    """28x28 image (+ label, by projection) -> one real/fake logit."""

    def __init__(self, dropout: float, num_labels: int = 0, spectral_norm: bool = False, code_categories: int = 0) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 64, 5, stride=2, padding=2),  # 64 x 14 x 14
            nn.LeakyReLU(0.2, True),
            FastDropout(dropout),
            nn.Conv2d(64, 128, 5, stride=2, padding=2),  # 128 x 7 x 7
            nn.LeakyReLU(0.2, True),
            FastDropout(dropout),
            nn.Flatten(),
        )
        self.head = nn.Linear(128 * 7 * 7, 1)
        if spectral_norm:  # each layer's largest singular value held at 1: a 1-Lipschitz critic
            for index in (0, 3):  # the two convolutions of `features`
                self.features[index] = nn.utils.parametrizations.spectral_norm(self.features[index])
            self.head = nn.utils.parametrizations.spectral_norm(self.head)
        # Projection discriminator (Miyato & Koyama, 2018): logit += <embed(y), features>.
        self.embed = nn.Embedding(num_labels, 128 * 7 * 7) if num_labels else None
        if self.embed is not None:
            # nn.Embedding starts at N(0, 1), which makes <embed(y), h> over 6,272 features dwarf the
            # head's logit and lets the discriminator win at once; start it at the head's scale.
            nn.init.normal_(self.embed.weight, std=(128 * 7 * 7) ** -0.5)
        # InfoGAN's Q: the code's category, guessed from the discriminator's own features.
        self.code_head = nn.Linear(128 * 7 * 7, code_categories) if code_categories else None

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor | None = None, *, with_code: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The real/fake logit; with ``with_code`` also Q's logits over the code's categories."""
        # Under bfloat16 autocast (``--precision bf16``) the convolutions stay float32: in bfloat16 they cost the
        # DCGAN its quality (FID after 20 epochs 61 and 65 over two seeds against 27 in float32), and in float32
        # alone they bring it back (26.5); the generator and the heads keep bfloat16 (benchmarks/README.md).
        with torch.autocast(x.device.type, enabled=False):
            h = self.features(x.float())
        out = self.head(h).squeeze(1)
        if self.embed is not None:
            out = out + (self.embed(labels) * h).sum(dim=1)
        if with_code:
            return out, self.code_head(h)
        return out


class GAN(GenerativeModel):
    """The DCGAN: a generator and a discriminator trained against each other."""

    kind: ClassVar[str] = "gan"
    display_name: ClassVar[str] = "DCGAN"
    conditional: ClassVar[bool] = False
    latent_field: ClassVar[str] = "noise_dim"
    latent_range: ClassVar[tuple[int, int]] = (1, 512)
    CLUSTERS_KEY: ClassVar[str] = "data/clusters"  # where a self-conditioned run keeps its cluster ids

    def __init__(self, config: GANConfig | None = None) -> None:
        super().__init__()
        self.config = config or GANConfig()
        labels = self.config.num_classes if self.conditional else 0
        codes = int(self.config.categorical_code)
        if self.config.cluster_code and self.conditional:
            raise ValueError("cluster_code is for the unconditional GAN: a cGAN is conditioned on the labels already.")
        self.generator = Generator(self.config.noise_dim, labels, codes)
        # Self-conditioned, the discriminator projects the cluster (a fake's is its code) as a cGAN's projects
        # the label, so each code must draw its cluster's kind of digit; InfoGAN's has a Q head instead.
        told, read = (codes, 0) if self.config.cluster_code else (labels, codes)
        self.discriminator = Discriminator(self.config.dropout, told, bool(self.config.spectral_norm), read)
        # The generator's weights averaged over training steps (Yazici et al., "The Unusual Effectiveness
        # of Averaging in GAN Training", ICLR 2019; Karras et al., 2018): the averaged generator draws
        # cleaner digits than the last step's, which oscillates with the adversarial game.
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False) if self.config.ema_decay else None
        self.clusters: torch.Tensor | None = None  # a self-conditioned GAN's cluster id of each training digit

    @property
    def code_categories(self) -> int:
        """Categories of the code read from the noise vector (``--categorical-code``); 0 for none."""
        return int(self.config.categorical_code)

    @property
    def code_from_clusters(self) -> bool:
        """True when the code's categories are clusters of the training digits (``--cluster-code``)."""
        return bool(self.config.cluster_code)

    def _labels(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        if not self.conditional:
            return None
        if labels is None:
            raise ValueError("A conditional model needs labels.")
        labels = torch.as_tensor(labels, device=self.device).long().reshape(-1)
        return labels.expand(n) if labels.numel() == 1 and n > 1 else labels

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1] from noise vectors (by the averaged generator, if any, outside training)."""
        generator = self.generator_ema if self.generator_ema is not None and not self.training else self.generator
        return (generator(z, self._labels(labels, z.shape[0])) + 1) / 2

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One Adam per network with the DCGAN settings (lr 2e-4, betas 0.5/0.999).

        A ``discriminator_learning_rate`` gives the discriminator its own step size: the two time-scale
        update rule of Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local
        Nash Equilibrium", NeurIPS 2017.
        """
        betas = (self.config.beta1, self.config.beta2)
        discriminator_rate = self.config.discriminator_learning_rate or self.config.learning_rate
        return {
            "generator": torch.optim.Adam(self.generator.parameters(), lr=self.config.learning_rate, betas=betas),
            "discriminator": torch.optim.Adam(
                self.discriminator.parameters(), lr=discriminator_rate, betas=betas
            ),
        }

    @torch.no_grad()
    def _update_average(self) -> None:
        """ema <- decay * ema + (1 - decay) * generator; BatchNorm statistics are copied as they are (until
        ``on_epoch_end`` measures the averaged generator's own)."""
        if self.generator_ema is None:
            return
        live = dict(self.generator.named_parameters())
        for name, average in self.generator_ema.named_parameters():
            average.lerp_(live[name], 1.0 - self.config.ema_decay)
        for average, buffer in zip(self.generator_ema.buffers(), self.generator.buffers()):
            average.copy_(buffer)

    @torch.no_grad()
    def on_epoch_end(self, batches: int = 50, batch_size: int = 64) -> None:
        """Give the averaged generator BatchNorm statistics of its own ("standing statistics", Brock et al.,
        "Large Scale GAN Training", ICLR 2019): the live generator's, copied at every step, belong to other
        weights. Averages over ``batches`` batches of fixed-seed noise, so every run that saves here saves
        the same; the training loop calls this before it measures and saves an epoch."""
        if self.generator_ema is None:
            return
        norms = [m for m in self.generator_ema.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        momenta = [norm.momentum for norm in norms]
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # a cumulative average over the batches below
        noise = torch.Generator(device=self.device).manual_seed(0)
        was_training = self.generator_ema.training
        self.generator_ema.train()
        for _ in range(batches):
            z = torch.randn((batch_size, self.latent_dim), generator=noise, device=self.device)
            self.generator_ema(z, self._labels(torch.arange(batch_size, device=self.device) % self.config.num_classes, batch_size))
        self.generator_ema.train(was_training)
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum

    def _augment(self, images: torch.Tensor, shard: Shard, generator: torch.Generator | None) -> torch.Tensor:
        """DiffAugment (Zhao et al., 2020): each image the discriminator sees, transformed afresh.

        Without a policy, nothing is drawn from ``generator``, so such runs are as they always were.
        """
        if not self.config.augment:
            return images
        count = random_numbers_needed(self.config.augment)
        uniforms = shard.rand(images.shape[0], count, generator=generator, device=images.device)
        return diff_augment(images, self.config.augment, uniforms)

    def trainable_networks(self) -> dict[str, nn.Module]:
        """The networks a training step calls (the trainer may wrap each in DistributedDataParallel)."""
        return {"generator": self.generator, "discriminator": self.discriminator}

    def prepare(
        self, train: ImageDataset, *, saved: Mapping[str, torch.Tensor], seed: int, shard: Shard = SINGLE_PROCESS
    ) -> ImageDataset:
        """A self-conditioned GAN trains on its training digits' cluster ids instead of their labels: from
        ``saved`` when resuming, else found by rank 0 (``multigen.clusters``, ~35 s for mnist-5k) and sent to
        every other process. (t-SNE's result can differ with the thread count or BLAS, so a resumed run and
        every process must not cluster again.) Other GANs train on ``train`` as it is."""
        if not self.config.cluster_code:
            return train
        k, ids = self.code_categories, saved.get(self.CLUSTERS_KEY)
        if ids is not None:
            if ids.shape != (len(train),) or int(ids.min()) < 0 or int(ids.max()) >= k:
                raise MultigenError(
                    f"The checkpoint holds no cluster ids 0-{k - 1} for the {len(train)} training digits of this "
                    "data set: resume it on the data set it was trained on, or train it anew."
                )
            ids = ids.long().cpu()
        else:
            if shard.is_main:
                from multigen.clusters import cluster_images  # scikit-learn: imported only when needed

                ids = cluster_images(train.images, k, seed=seed)
            else:
                ids = torch.zeros(len(train), dtype=torch.int64)
            ids = broadcast(ids.to(train.images.device), shard).cpu()
        self.clusters = ids
        return dataclasses.replace(train, labels=ids.to(train.images.device))

    def training_state(self) -> dict[str, torch.Tensor]:
        """The cluster ids of a self-conditioned run, which its resumes train on again."""
        return {} if self.clusters is None else {self.CLUSTERS_KEY: self.clusters}

    def _training_noise(
        self, images: torch.Tensor, labels: torch.Tensor, shard: Shard, generator: torch.Generator | None
    ) -> torch.Tensor:
        """This process's slice of the batch's noise vectors. Self-conditioned, each fake carries the code of the
        batch's real digit in its row, as a cGAN's fakes carry the batch's labels: clusters differ in size, and
        the discriminator must not tell fakes by how often each cluster comes up. (Sampling from z alone gives
        every cluster the same share.)"""
        z = shard.randn(images.shape[0], self.latent_dim, generator=generator, device=images.device)
        return with_categorical_code(z, labels, self.code_categories) if self.config.cluster_code else z

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
        """One discriminator step then one generator step on a batch of images in [0, 1].

        ``labels`` are the digits' labels (a cGAN's condition), or with ``cluster_code`` their cluster
        ids (``multigen.clusters``), which the trainer passes instead. ``networks`` are
        ``trainable_networks()``, possibly wrapped for several processes; ``shard`` says which slice of
        the global batch's noise this process draws.
        """
        networks = networks or self.trainable_networks()
        generator_net, discriminator_net = networks["generator"], networks["discriminator"]
        real = images * 2 - 1  # the generator's tanh range
        cond = labels if self.conditional else None
        categories = self.code_categories
        z = self._training_noise(images, labels, shard, generator)
        fake = generator_net(z, cond)

        d_opt, g_opt = optimizers["discriminator"], optimizers["generator"]
        code = categorical_code(z, categories) if categories else None
        # What the discriminator is told about each image: its label (cGAN), its cluster, which is also the
        # fake's code (self-conditioned), or nothing.
        told = labels if self.config.cluster_code else cond
        read_code = code is not None and not self.config.cluster_code  # InfoGAN's Q reads the code back

        def judged(images: torch.Tensor, critic: nn.Module = discriminator_net) -> tuple[torch.Tensor, torch.Tensor]:
            """D's logits on (augmented) fakes, plus InfoGAN's information loss (0 without Q): Q, a head on
            D's features, reads the code back, and the generator draws so that it can."""
            images = self._augment(images, shard, generator)
            if not read_code:
                return critic(images, told), torch.zeros((), device=images.device)
            logits, code_logits = critic(images, told, with_code=True)
            return logits, information_loss(code_logits, code)

        real_logits = discriminator_net(self._augment(real, shard, generator), told)
        fake_logits, d_info = judged(fake.detach())
        d_loss = discriminator_loss(real_logits, fake_logits, 1.0 - self.config.label_smoothing)
        _descend(d_opt, d_loss + self.config.info_weight * d_info)

        # The generator's step needs the gradient through D to the fakes, not D's own: its weights are frozen
        # for it, which skips their gradients (a third of D's backward pass; the next D step would discard
        # them). D's unwrapped module, so that several processes do not average gradients no one uses.
        with frozen(getattr(discriminator_net, "module", discriminator_net)) as critic:
            fooled_logits, info = judged(fake, critic)
            g_loss = generator_loss(fooled_logits)
            seeking = torch.zeros((), device=images.device)
            if self.config.mode_seeking:  # a second noise for each fake's condition (label, or cluster code)
                other_z = self._training_noise(images, labels, shard, generator)
                seeking = mode_seeking_loss(fake, generator_net(other_z, cond), z, other_z)
            _descend(g_opt, g_loss + self.config.info_weight * info + self.config.mode_seeking * seeking)
        self._update_average()
        losses = {
            "loss": (d_loss + g_loss).detach(),
            "discriminator": d_loss.detach(),
            "generator": g_loss.detach(),
            "real_score": torch.sigmoid(real_logits).mean().detach(),
            "fake_score": torch.sigmoid(fake_logits).mean().detach(),
        }
        if self.config.mode_seeking:
            losses["mode_seeking"] = seeking.detach()  # 1 / (image distance / noise distance): lower is more varied
        if read_code:
            losses["information"] = info.detach()  # -log Q(c | G(z)): 0 when every code is read back
        return losses


@contextlib.contextmanager
def frozen(network: nn.Module) -> Iterator[nn.Module]:
    """``network`` with its parameters out of autograd inside the block (gradients still flow through it to its
    inputs); each parameter's ``requires_grad`` is given back after."""
    parameters = list(network.parameters())
    trainable = [p.requires_grad for p in parameters]
    for p in parameters:
        p.requires_grad_(False)
    try:
        yield network
    finally:
        for p, wanted in zip(parameters, trainable):
            p.requires_grad_(wanted)


def _descend(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One gradient step of ``optimizer`` on ``loss``."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


class ConditionalGAN(GAN):
    """cGAN: the generator sees the one-hot label (Mirza & Osindero), the discriminator projects it."""

    kind: ClassVar[str] = "cgan"
    display_name: ClassVar[str] = "cGAN"
    conditional: ClassVar[bool] = True
