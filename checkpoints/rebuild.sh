#!/usr/bin/env bash
# Rebuild the shipped checkpoints with the project's own CLI, on mnist-5k, seed 0.
# Full training checkpoints (with optimizer state, for --resume) go to runs/shipped/;
# the shipped files are exports of them without optimizer state.
# Each run uses one CPU thread (OMP_NUM_THREADS=1 by default here), so two can share a 2-core machine:
# the VAEs take 3-9 s an epoch, a GAN about 33 s an epoch (measured 2026-12-01). Sample grids go to checkpoints/samples/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs/shipped
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p checkpoints/samples
# The unconditional VAEs then sample from a 50-component Gaussian mixture fitted to their training digits' latent
# means (multigen fit-prior; ex-post density estimation, Ghosh et al. 2020; a few seconds), stored in the file.
# The GANs and the CVAE keep the GAN and Write pages' slider directions, each as long as keeps the digits legible
# (multigen calibrate-sliders, measured with the digit classifier; 10 s to 2.5 minutes), so no page measures them on a first visit.
ship() { python -m multigen export "runs/shipped/$1.safetensors" --out "checkpoints/$1.safetensors"
         if [[ $1 == vae-* ]]; then python -m multigen fit-prior "checkpoints/$1.safetensors" --components 50 --covariance full --seed 0; fi
         if [[ $1 != vae-* ]]; then python -m multigen calibrate-sliders "checkpoints/$1.safetensors"; fi
         python -m multigen sample "checkpoints/$1.safetensors" --n 100 --seed 1 --out "checkpoints/samples/$1.png"; }
train() { name=$1; shift; python -m multigen train "$@" --seed 0 --quiet --out "runs/shipped/$name.safetensors"; ship "$name"; }
# Continue a run with --resume: the same weights as one uninterrupted run of that many epochs.
more() { python -m multigen train --resume "runs/shipped/$1.safetensors" --epochs "$2" --quiet; ship "$1"; }
only=${1:-all}
# The digit classifier behind `multigen eval` (FID, Inception Score, conditional accuracy); one CPU thread
# keeps it bit-for-bit reproducible and takes about 1 minute. It comes first:
# the slider lengths are measured with it (a new classifier needs `multigen calibrate-sliders` again).
[[ $only == all || $only == classifier ]] && OMP_NUM_THREADS=1 python -m multigen train-classifier --seed 0 --quiet --out checkpoints/classifier.safetensors
[[ $only == all || $only == vae-2 ]]  && train vae-2  --model vae  --latent-dim 2  --epochs 50 --batch-size 64
[[ $only == all || $only == vae-16 ]] && train vae-16 --model vae  --latent-dim 16 --epochs 100 --lr-decay-from 50 --batch-size 64
[[ $only == all || $only == cvae ]]   && train cvae   --model cvae --latent-dim 16 --beta 3 --epochs 50 --batch-size 64 --eval-samples 0 && more cvae 100
# The DCGAN is self-conditioned: 20 clusters of the training digits, found without labels (see README).
[[ $only == all || $only == dcgan ]]  && train dcgan  --model gan  --categorical-code 20 --cluster-code --epochs 90 --lr-decay-from 45 --batch-size 64
# The cGAN spreads each digit's noise over more of its shapes with MSGAN's mode-seeking term (Mao et al., 2019).
[[ $only == all || $only == cgan ]]   && train cgan   --model cgan --mode-seeking 0.15 --epochs 100 --lr-decay-from 50 --batch-size 64 --eval-samples 0
