#!/usr/bin/env bash
# Rebuild the shipped checkpoints with the project's own CLI, on mnist-5k, seed 0.
# Full training checkpoints (with optimizer state, for --resume) go to runs/shipped/;
# the shipped files are exports of them without optimizer state.
# Takes about 25 minutes on 2 CPU cores (the two GANs are most of it); seconds on a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs/shipped
train() { name=$1; shift; python -m multigen train "$@" --seed 0 --quiet --out "runs/shipped/$name.safetensors"
          python -m multigen export "runs/shipped/$name.safetensors" --out "checkpoints/$name.safetensors"; }
only=${1:-all}
[[ $only == all || $only == vae-2 ]]  && train vae-2  --model vae  --latent-dim 2  --epochs 50 --batch-size 64
[[ $only == all || $only == vae-16 ]] && train vae-16 --model vae  --latent-dim 16 --epochs 50 --batch-size 64
[[ $only == all || $only == cvae ]]   && train cvae   --model cvae --latent-dim 16 --epochs 50 --batch-size 64
[[ $only == all || $only == dcgan ]]  && train dcgan  --model gan  --epochs 50 --batch-size 64
[[ $only == all || $only == cgan ]]   && train cgan   --model cgan --epochs 50 --batch-size 64
# The digit classifier behind `multigen eval` (FID, Inception Score, conditional accuracy); one CPU thread
# keeps it bit-for-bit reproducible and takes about 1 minute.
[[ $only == all || $only == classifier ]] && OMP_NUM_THREADS=1 python -m multigen train-classifier --seed 0 --quiet --out checkpoints/classifier.safetensors
