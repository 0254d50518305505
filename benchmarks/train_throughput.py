"""Training images/s of multigen's loop against the classic PyTorch-example loop, in one process.

The reference is written the way pytorch/examples (vae, dcgan) do it: a torchvision-style dataset
that makes a PIL image per sample, ``transforms.ToTensor()``, a ``DataLoader``, the same architecture built
from torch.nn's own layers (``nn.Dropout`` where multigen has its ``FastDropout``), plain Adam, the same batch
size, and examples/dcgan's step: the discriminator on real digits, then on the detached fakes, then once more
on the fakes for the generator's loss, its weights' gradients computed each time. The VAE's classic step is
multigen's own (one loss, one backward); the DCGAN's is the plain one's, so ``--models`` takes vae and gan. multigen runs its own ``Trainer`` (in-memory tensors, batches by
indexing), once per precision (fp32, and bf16: bfloat16 autocast, ``--precision bf16``). All train the
same number of epochs from the same seed; the script prints images/s, their ratio to the reference, the
final losses (to show equal learning) and the achieved GFLOP/s as a share of this machine's matrix-multiply
peak in the same precision, float32 and bfloat16, both measured in the same run.

    python benchmarks/train_throughput.py --epochs 3
    python benchmarks/train_throughput.py --epochs 1 --rounds 5 --models gan   # in turn, the median ratio
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.flop_counter import FlopCounterMode
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from multigen.data import load_dataset
from multigen.device import resolve_device
from multigen.models import build_model
from multigen.models.gan import GAN, discriminator_loss, generator_loss
from multigen.models.layers import FastDropout
from multigen.training import Finished, Progress, Trainer, TrainingConfig


class PILDigits(Dataset):
    """A torchvision-style dataset: uint8 arrays, one PIL image and one ToTensor per sample."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images, self.labels = images, labels
        self.transform = transforms.ToTensor()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.transform(Image.fromarray(self.images[index], mode="L")), int(self.labels[index])


def classic_model(kind: str, device: torch.device) -> GAN:
    """The model as a pytorch/examples user builds it: ``nn.Dropout`` in place of multigen's ``FastDropout``."""
    model = build_model(kind).to(device)
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, FastDropout):
                setattr(parent, name, nn.Dropout(child.p))
    return model


def classic_step(model, x: torch.Tensor, y: torch.Tensor, optimizers, noise: torch.Generator) -> dict:
    """One training step as pytorch/examples writes it. The VAE's is multigen's own (one loss, one backward);
    the plain DCGAN's is examples/dcgan's, with multigen's losses (Goodfellow et al.'s, as there)."""
    if not isinstance(model, GAN):
        return model.training_step(x, y, optimizers, generator=noise)
    config = model.config
    if model.conditional or config.categorical_code or config.augment or config.ema_decay or config.mode_seeking:
        raise SystemExit("The classic DCGAN step is the plain DCGAN's: no labels, codes, DiffAugment, EMA or mode seeking.")
    net_g, net_d = model.generator, model.discriminator
    real = x * 2 - 1
    fake = net_g(torch.randn(x.shape[0], model.latent_dim, generator=noise, device=x.device))
    optimizers["discriminator"].zero_grad()
    d_loss = discriminator_loss(net_d(real), net_d(fake.detach()), 1.0 - config.label_smoothing)
    d_loss.backward()
    optimizers["discriminator"].step()
    optimizers["generator"].zero_grad()
    g_loss = generator_loss(net_d(fake))
    g_loss.backward()
    optimizers["generator"].step()
    return {"loss": (d_loss + g_loss).detach()}


def reference_loop(kind: str, epochs: int, batch_size: int, device: torch.device, seed: int) -> tuple[float, float]:
    """Images/s and last-epoch mean loss of the pytorch/examples-style loop."""
    train = load_dataset("mnist-5k", "train")
    images = (train.images[:, 0] * 255).round().byte().numpy()
    loader = DataLoader(PILDigits(images, train.labels.numpy()), batch_size=batch_size, shuffle=True, drop_last=True,
                        num_workers=0, generator=torch.Generator().manual_seed(seed))
    torch.manual_seed(seed)
    model = classic_model(kind, device)
    optimizers = model.make_optimizers()
    noise = torch.Generator(device=device).manual_seed(seed)
    start, count, losses = time.perf_counter(), 0, []
    for _ in range(epochs):
        losses = []
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            losses.append(float(classic_step(model, x, y, optimizers, noise)["loss"]))
            count += x.shape[0]
    if device.type == "cuda":
        torch.cuda.synchronize()
    return count / (time.perf_counter() - start), float(np.mean(losses))


def multigen_loop(kind: str, epochs: int, batch_size: int, device: torch.device, seed: int, out: Path,
                  precision: str) -> tuple[float, float]:
    """Images/s and last-epoch mean loss of multigen's Trainer, as the CLI runs it."""
    config = TrainingConfig(model=kind, epochs=epochs, batch_size=batch_size, seed=seed, device=str(device),
                            out=str(out), sample_every=10**9, eval_samples=0, precision=precision)
    start, count, losses = time.perf_counter(), 0, []
    per_epoch = None
    for event in Trainer(config):
        if isinstance(event, Progress):
            count += batch_size
            if per_epoch is None or event.epoch != per_epoch:
                per_epoch, losses = event.epoch, []
            losses.append(event.losses["loss"])
        elif isinstance(event, Finished):
            break
    return count / (time.perf_counter() - start), float(np.mean(losses))


def step_flops(kind: str, batch_size: int, device: torch.device, *, classic: bool = False) -> int:
    """Floating-point operations of one training step (multigen's, or with ``classic`` the reference's), counted
    by PyTorch's FlopCounterMode."""
    model = classic_model(kind, device) if classic else build_model(kind).to(device)
    optimizers = model.make_optimizers()
    x = torch.rand(batch_size, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (batch_size,), device=device)
    with FlopCounterMode(display=False) as counter:
        if classic:
            classic_step(model, x, y, optimizers, torch.Generator(device=device).manual_seed(0))
        else:
            model.training_step(x, y, optimizers)
    return counter.get_total_flops()


def matmul_peak(device: torch.device, dtype: torch.dtype = torch.float32, size: int = 1024, repeats: int = 10) -> float:
    """Measured matrix-multiply GFLOP/s in ``dtype``: the practical ceiling of this machine in that precision."""
    a, b = torch.randn(size, size, device=device, dtype=dtype), torch.randn(size, size, device=device, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--models", nargs="+", default=["vae", "gan"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the reference and multigen's loops in turn this many times; the median ratio is what "
                        "counts on a machine whose speed drifts")
    args = parser.parse_args()
    device = resolve_device(args.device)
    peaks = {"fp32": matmul_peak(device), "bf16": matmul_peak(device, torch.bfloat16)}
    print(f"device {device}, {torch.get_num_threads()} threads, matmul peak fp32 {peaks['fp32']:.1f} GFLOP/s, "
          f"bf16 {peaks['bf16']:.1f} GFLOP/s")
    out = Path("runs/benchmark")
    out.mkdir(parents=True, exist_ok=True)
    for kind in args.models:
        flops = step_flops(kind, args.batch_size, device) / args.batch_size
        classic_flops = step_flops(kind, args.batch_size, device, classic=True) / args.batch_size
        print(f"{kind}: {classic_flops / 1e6:.0f} MFLOP per image in the reference's step, {flops / 1e6:.0f} in multigen's")
        ratios: dict[str, list[float]] = {precision: [] for precision in args.precisions}
        for round_ in range(1, args.rounds + 1):
            ref_rate, ref_loss = reference_loop(kind, args.epochs, args.batch_size, device, args.seed)
            print(f"{kind} round {round_}: reference fp32 {ref_rate:7.0f} img/s (loss {ref_loss:.3f}, "
                  f"{ref_rate * classic_flops / 1e9 / peaks['fp32']:5.1%} of fp32 peak)")
            for precision in args.precisions:
                rate, loss = multigen_loop(kind, args.epochs, args.batch_size, device, args.seed,
                                           out / f"{kind}-{precision}.safetensors", precision)
                ratios[precision].append(rate / ref_rate)
                print(f"{kind} round {round_}: multigen {precision}  {rate:7.0f} img/s (loss {loss:.3f}, "
                      f"{rate * flops / 1e9 / peaks[precision]:5.1%} of {precision} peak) | {rate / ref_rate:.2f}x the reference")
        if args.rounds > 1:
            print(f"{kind}: median of {args.rounds} rounds: " + ", ".join(
                f"{precision} {statistics.median(values):.2f}x ({min(values):.2f}-{max(values):.2f})"
                for precision, values in ratios.items()))

if __name__ == "__main__":
    main()
