"""Training throughput of one process against two under torchrun (gloo, on the CPU), in one script.

Runs the same ``multigen train`` command three ways, each for the same epochs, seed and global batch:

- ``1 process, 1 thread``: the reference, one core;
- ``2 processes, 1 thread each`` (torchrun --nproc-per-node=2, DistributedDataParallel): two cores;
- ``1 process, 2 threads``: what the same two cores give without torchrun (torch's intra-op threads).

and prints images/s from the epochs' own timing in each checkpoint's history (the first epoch is left out
as warm-up when there are several), with the ratios to the reference.

    python benchmarks/distributed_scaling.py --model vae --epochs 3
    python benchmarks/distributed_scaling.py --model gan --epochs 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from multigen.checkpoints import read_metadata


def run(label: str, processes: int, threads: int, args: argparse.Namespace, folder: Path) -> float:
    """Train once; return images per second over the timed epochs."""
    out = folder / f"{processes}x{threads}.safetensors"
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"] if processes > 1 else []
    command = [sys.executable, *launcher, "-m", "multigen", "train", "--model", args.model, "--epochs", str(args.epochs),
               "--batch-size", str(args.batch_size), "--eval-samples", "0", "--sample-every", "100000",
               "--device", "cpu", "--quiet", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    history = read_metadata(out)["history"]
    timed = history[1:] if len(history) > 1 else history
    images = sum((row["step"] - previous["step"]) for previous, row in zip([{"step": 0}, *history], history)
                 if row in timed) * args.batch_size
    rate = images / sum(row["seconds"] for row in timed)
    print(f"{label:<28} {rate:8.0f} images/s   final loss {history[-1]['loss']:.4g}", flush=True)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="vae", choices=("vae", "cvae", "gan", "cgan"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128, help="the global batch (default 128)")
    args = parser.parse_args()
    print(f"{args.model}, {args.epochs} epochs of mnist-5k, global batch {args.batch_size}, CPU ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory() as folder:
        reference = run("1 process, 1 thread", 1, 1, args, Path(folder))
        two = run("2 processes, 1 thread each", 2, 1, args, Path(folder))
        threads = run("1 process, 2 threads", 1, 2, args, Path(folder))
    print(f"2 processes / 1 process: {two / reference:.2f}x;  1 process with 2 threads / 1 thread: {threads / reference:.2f}x")


if __name__ == "__main__":
    main()
