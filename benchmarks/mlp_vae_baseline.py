"""The classic MLP VAE of pytorch/examples against multigen's VAE-16, on the same split.

pytorch/examples' ``vae/main.py``: 784-400-20 MLP encoder and decoder with ReLU, Bernoulli
likelihood (BCE) + KL (Kingma & Welling, 2014), Adam 1e-3, batch 128. Trained here on the
``mnist-5k`` training split for as many epochs as the shipped VAE-16, then both are scored by
``multigen.evaluation.vae_negative_elbo`` on the validation split (nats per digit, lower is better).

    python benchmarks/mlp_vae_baseline.py --epochs 50
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from multigen.checkpoints import load_checkpoint
from multigen.data import load_dataset
from multigen.evaluation import vae_negative_elbo
from multigen.models.base import GenerativeModel
from multigen.models.vae import VAE, vae_loss


class ClassicMLPVAE(GenerativeModel):
    """The VAE of pytorch/examples, with the method names multigen's metrics call (a ``GenerativeModel`` with an
    encoder, which ``vae_negative_elbo`` asks for)."""

    kind: ClassVar[str] = "vae"
    conditional: ClassVar[bool] = False
    has_encoder: ClassVar[bool] = True

    def __init__(self, hidden: int = 400, latent_dim: int = 20) -> None:
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, hidden), nn.Linear(hidden, latent_dim), nn.Linear(hidden, latent_dim)
        self.fc3, self.fc4 = nn.Linear(latent_dim, hidden), nn.Linear(hidden, 784)

    @property
    def device(self) -> torch.device:
        return self.fc1.weight.device

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.relu(self.fc1(x.view(-1, 784)))
        return self.fc21(h), self.fc22(h)

    reparameterize = staticmethod(VAE.reparameterize)

    def decode_logits(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.fc4(F.relu(self.fc3(z))).view(-1, 1, 28, 28)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ours", default="checkpoints/vae-16.safetensors")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    train = load_dataset("mnist-5k", "train")
    model = ClassicMLPVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    shuffle, noise = torch.Generator().manual_seed(args.seed), torch.Generator().manual_seed(args.seed + 1)
    for _ in range(args.epochs):
        order = torch.randperm(len(train), generator=shuffle)
        for start in range(0, len(train), 128):
            x = train.images[order[start : start + 128]]
            mu, logvar = model.encode(x)
            loss, _, _ = vae_loss(model.decode_logits(model.reparameterize(mu, logvar, noise)), x, mu, logvar)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        baseline = vae_negative_elbo(model, seed=args.seed)
        ours = vae_negative_elbo(load_checkpoint(args.ours).model, seed=args.seed)
    for name, figures in (("classic MLP VAE (784-400-20)", baseline), (f"multigen {Path(args.ours).stem}", ours)):
        print(f"{name:30s} -ELBO {figures['negative_elbo']:7.2f} nats "
              f"(reconstruction {figures['reconstruction']:.2f} + KL {figures['kl']:.2f})")


if __name__ == "__main__":
    main()
