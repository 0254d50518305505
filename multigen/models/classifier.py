"""A small CNN digit classifier: the instrument behind the project's FID, Inception Score and
conditional accuracy (see ``multigen.metrics``), not a generative model.

LeCun et al., "Gradient-Based Learning Applied to Document Recognition", Proc. IEEE 1998 (a CNN
for MNIST). Ioffe & Szegedy, "Batch Normalization", ICML 2015. Srivastava et al., "Dropout",
JMLR 2014. Simard, Steinkraus & Platt, "Best Practices for Convolutional Neural Networks Applied
to Visual Document Analysis", ICDAR 2003 (small shifts as data augmentation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from multigen.data import ImageDataset
from multigen.models.base import TrainableModel
from multigen.models.fields import number, whole

NUM_CLASSES = 10


@dataclass
class ClassifierConfig:
    """Hyper-parameters of the digit classifier; saved in its checkpoint to rebuild it."""

    channels: int = 16  # channels of the first conv layer; the second has twice as many
    feature_dim: int = 128  # width of the penultimate layer, whose pre-activations FID is computed on
    dropout: float = 0.3  # dropout between the features and the logits (training only)
    learning_rate: float = 2e-3  # Adam step size at the start (a cosine decays it to 0 over the run)
    max_shift: int = 2  # random shifts of up to this many pixels each way while training (0: none)
    num_classes: int = NUM_CLASSES  # digits 0-9

    def __post_init__(self) -> None:
        whole("channels", self.channels, 1, 128)
        whole("feature_dim", self.feature_dim, 2, 2048)
        number("dropout", self.dropout, 0, 1, below_high=True)
        number("learning_rate", self.learning_rate, 0, 1, above_low=True)
        whole("max_shift", self.max_shift, 0, 8)
        whole("num_classes", self.num_classes, 2, 100)


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Move each image by its own random whole-pixel offset in [-max_shift, max_shift]^2, filling with 0."""
    if max_shift <= 0:
        return images
    n, _, height, width = images.shape
    padded = F.pad(images, (max_shift,) * 4)
    source = generator.device if generator is not None else images.device
    offsets = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator, device=source).to(images.device)
    rows = (offsets[0, :, None] + torch.arange(height, device=images.device))[:, :, None]  # n x H x 1
    cols = (offsets[1, :, None] + torch.arange(width, device=images.device))[:, None, :]  # n x 1 x W
    batch = torch.arange(n, device=images.device)[:, None, None]
    return padded[:, 0][batch, rows, cols].unsqueeze(1)


class DigitClassifier(TrainableModel):
    """28x28 digit -> 10 logits, through a ``feature_dim``-wide penultimate layer."""

    kind: ClassVar[str] = "classifier"
    display_name: ClassVar[str] = "digit classifier"
    conditional: ClassVar[bool] = False
    VALIDATION_BATCH: ClassVar[int] = 500

    def __init__(self, config: ClassifierConfig | None = None) -> None:
        super().__init__()
        self.config = config or ClassifierConfig()
        c, f = self.config.channels, self.config.feature_dim
        self.body = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1, bias=False),  # c x 28 x 28
            nn.BatchNorm2d(c),
            nn.ReLU(True),
            nn.MaxPool2d(2),  # c x 14 x 14
            nn.Conv2d(c, 2 * c, 3, padding=1, bias=False),  # 2c x 14 x 14
            nn.BatchNorm2d(2 * c),
            nn.ReLU(True),
            nn.MaxPool2d(2),  # 2c x 7 x 7
            nn.Flatten(),
            nn.Linear(2 * c * 7 * 7, f, bias=False),
            nn.BatchNorm1d(f),  # f features, taken before the ReLU: none is always 0, all on one scale
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(self.config.dropout), nn.Linear(f, self.config.num_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer (batch-normalised, before its ReLU), shape (n, feature_dim): what FID compares."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits over the 10 digits, shape (n, 10), for images (n, 1, 28, 28) in [0, 1]."""
        return self.head(self.features(x))

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Adam over all parameters (Kingma & Ba, 2015)."""
        return {"classifier": torch.optim.Adam(self.parameters(), lr=self.config.learning_rate)}

    def training_step(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        optimizers: dict[str, torch.optim.Optimizer],
        generator: torch.Generator | None = None,
        **_: object,  # networks and shard: the classifier trains on one process, unwrapped
    ) -> dict[str, torch.Tensor]:
        """One cross-entropy step on randomly shifted images in [0, 1]; returns loss and accuracy (0-d tensors)."""
        optimizer = optimizers["classifier"]
        logits = self(random_shift(images, self.config.max_shift, generator))
        loss = F.cross_entropy(logits.float(), labels)  # in float32 whatever the forward pass ran in
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        accuracy = (logits.argmax(1) == labels).float().mean()
        return {"loss": loss.detach(), "accuracy": accuracy.detach()}

    def learning_rate_factor(self, step: int, total_steps: int, decay_start: int | None) -> float:
        """A cosine decay from 1 to 0 over the whole run (Loshchilov & Hutter, "SGDR", ICLR 2017)."""
        return 0.5 * (1 + math.cos(math.pi * step / max(total_steps, 1)))

    @torch.no_grad()
    def validation_metrics(self, validation: ImageDataset) -> dict[str, float]:
        """Cross-entropy and accuracy on the validation split, in eval mode (no dropout)."""
        was_training = self.training
        self.eval()
        loss = correct = 0.0
        for start in range(0, len(validation), self.VALIDATION_BATCH):
            logits = self(validation.images[start : start + self.VALIDATION_BATCH].to(self.device))
            labels = validation.labels[start : start + self.VALIDATION_BATCH].to(self.device)
            loss += float(F.cross_entropy(logits, labels, reduction="sum"))
            correct += float((logits.argmax(1) == labels).sum())
        self.train(was_training)
        return {"val_loss": loss / len(validation), "val_accuracy": correct / len(validation)}
