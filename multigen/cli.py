"""The ``multigen`` command line: train, sample, encode, export, info, eval, train-classifier and write.

Bad arguments or files end with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

from multigen.errors import MultigenError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line instead of usage plus message."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(EXIT_USAGE)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be 0 or more")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{value} must be a positive number")
    return value


def _digit(text: str) -> int:
    if text not in [str(d) for d in range(10)]:
        raise argparse.ArgumentTypeError(f"{text!r} is not a digit from 0 to 9")
    return int(text)


def _augment_policy(text: str) -> str:
    from multigen.models.augment import parse_policy

    try:
        return ",".join(parse_policy(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error).rstrip(".")) from None


# Options that go into the model's config, the config field each sets, and the models that have it (read
# from the registry: VAEs have an encoder, GANs do not; the cluster code is the unconditional GAN's).
_VAES, _GANS, _PLAIN_GANS = {"encoder": True}, {"encoder": False}, {"encoder": False, "conditional": False}
MODEL_FLAGS = (
    ("--beta", "beta", _VAES),
    ("--ema-decay", "ema_decay", _GANS),
    ("--augment", "augment", _GANS),
    ("--spectral-norm", "spectral_norm", _GANS),
    ("--d-lr", "discriminator_learning_rate", _GANS),
    ("--categorical-code", "categorical_code", _GANS),
    ("--cluster-code", "cluster_code", _PLAIN_GANS),
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from multigen.data import DATASETS
    from multigen.device import DEVICE_CHOICES
    from multigen.models import GENERATIVE_KINDS

    parser = _Parser(prog="multigen", description="Train, sample and explore GANs and VAEs on handwritten digits.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train a model (or continue one with --resume)")
    train.add_argument("--model", choices=GENERATIVE_KINDS, help="model kind (default vae; from the checkpoint with --resume)")
    train.add_argument("--dataset", choices=DATASETS, help="data set (default mnist-5k, offline)")
    train.add_argument("--data-dir", help="folder of the torchvision data sets (default data/ or $MULTIGEN_DATA)")
    train.add_argument("--epochs", type=_positive_int, help="total epochs (default 10)")
    train.add_argument("--latent-dim", type=_positive_int, help="VAE latent size or GAN noise size")
    train.add_argument("--batch-size", type=_positive_int, help="images per step (default 64)")
    train.add_argument("--lr", type=_positive_float, help="learning rate (default: the model's)")
    train.add_argument("--beta", type=float, help="VAE: weight of the KL term (beta-VAE)")
    train.add_argument("--ema-decay", type=float,
                       help="GAN: draw with a moving average of the generator's weights, e.g. 0.999 (default off)")
    train.add_argument("--augment", type=_augment_policy, metavar="POLICY",
                       help="GAN: DiffAugment of the discriminator's inputs, e.g. translation,cutout (default off)")
    train.add_argument("--spectral-norm", action="store_true", default=None,
                       help="GAN: spectral normalisation of the discriminator's layers (Miyato et al., 2018)")
    train.add_argument("--d-lr", type=_positive_float, dest="discriminator_learning_rate", metavar="LR",
                       help="GAN: the discriminator's own learning rate (two time-scale rule; default: --lr)")
    train.add_argument("--categorical-code", type=_positive_int, metavar="K",
                       help="GAN: an InfoGAN code of K categories read from the noise, e.g. 10 (default off)")
    train.add_argument("--cluster-code", action="store_true", default=None,
                       help="GAN: the code's K categories are clusters of the training digits, found without "
                            "labels, and the discriminator is told them (self-conditioned GAN; default off)")
    train.add_argument("--lr-decay-from", type=_non_negative_int, metavar="EPOCH",
                       help="after this epoch the learning rates fall linearly to 0 at the last epoch (default: constant)")
    train.add_argument("--seed", type=_non_negative_int, help="random seed (default 0)")
    train.add_argument("--sample-every", type=_positive_int, help="steps between sample grids")
    train.add_argument("--eval-samples", type=_non_negative_int,
                       help="samples for the per-epoch FID / IS logged in the checkpoint (default 1000; 0: off)")
    train.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    train.add_argument("--out", help="checkpoint path (default runs/<model>-<dataset>-<time>.safetensors)")
    train.add_argument("--resume", help="checkpoint of a run to continue, with its optimizer state and step")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    sample = commands.add_parser("sample", help="draw images from a checkpoint")
    sample.add_argument("checkpoint")
    sample.add_argument("--n", type=_positive_int, default=64, help="number of images (default 64)")
    sample.add_argument("--label", type=_digit, help="digit to draw (conditional models; default: 0-9 in turn)")
    sample.add_argument("--seed", type=_non_negative_int, default=0)
    sample.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    sample.add_argument("--out", required=True, help=".png for a grid, .npz for arrays (images, labels)")
    sample.add_argument("--nearest", type=_positive_int, metavar="K",
                        help="copy check: each sample followed by its K nearest training digits (mnist-5k), distances printed")

    encode = commands.add_parser("encode", help="latent means of a data split (VAE, CVAE)")
    encode.add_argument("checkpoint")
    encode.add_argument("--dataset", choices=DATASETS, help="default: the checkpoint's data set")
    encode.add_argument("--data-dir")
    encode.add_argument("--split", choices=("train", "val"), default="val")
    encode.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    encode.add_argument("--out", required=True, help="an .npz file with z and labels")

    export = commands.add_parser("export", help="copy a checkpoint without optimizer state, for sharing")
    export.add_argument("checkpoint")
    export.add_argument("--out", required=True)

    info = commands.add_parser("info", help="print a checkpoint's metadata as JSON")
    info.add_argument("checkpoint")

    evaluate = commands.add_parser("eval", help="FID, Inception Score, conditional accuracy, negative ELBO")
    evaluate.add_argument("checkpoint")
    evaluate.add_argument("--samples", type=_positive_int, default=5000, help="samples to draw (default 5000)")
    evaluate.add_argument("--seed", type=_non_negative_int, default=0)
    evaluate.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    evaluate.add_argument("--classifier", help="digit classifier (default checkpoints/classifier.safetensors)")
    evaluate.add_argument("--format", choices=("json", "table"), default="json", help="output (default json)")

    classifier = commands.add_parser("train-classifier", help="train the digit classifier the metrics measure with")
    classifier.add_argument("--dataset", choices=("mnist-5k", "mnist"), default="mnist-5k")
    classifier.add_argument("--data-dir", help="folder of the torchvision data sets (default data/ or $MULTIGEN_DATA)")
    classifier.add_argument("--epochs", type=_positive_int, default=20, help="epochs (default 20)")
    classifier.add_argument("--batch-size", type=_positive_int, default=64, help="images per step (default 64)")
    classifier.add_argument("--lr", type=_positive_float, help="initial learning rate (default 2e-3, cosine decay)")
    classifier.add_argument("--seed", type=_non_negative_int, default=0)
    classifier.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    classifier.add_argument("--out", help="checkpoint path (default runs/classifier-<dataset>-<time>.safetensors)")
    classifier.add_argument("--quiet", action="store_true", help="no line per epoch")

    write = commands.add_parser("write", help="write a number as one strip of digits in one style (CVAE, cGAN)")
    write.add_argument("text", help="the digits to write, 1 to 12 of them, e.g. 2026")
    write.add_argument("--ckpt", required=True, help="a cvae or cgan checkpoint")
    write.add_argument("--style-seed", type=_non_negative_int, default=0, help="seed of the style (default 0)")
    for name, what in (("slant", "leans left/right"), ("thickness", "thinner/thicker"), ("width", "narrower/wider")):
        write.add_argument(f"--{name}", type=_style_slider, default=0.0, help=f"-3..3, {what} (default 0)")
    write.add_argument("--scale", type=_positive_int, default=1, help="enlarge each pixel N times (default 1: 28 px)")
    write.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    write.add_argument("--out", default="strip.png", help="the PNG (default strip.png); its recipe goes beside it")
    return parser


def _train(args: argparse.Namespace) -> int:
    from multigen.distributed import lost_peer, process_group
    from multigen.models import kinds
    from multigen.training import Trainer, TrainingConfig, resume_config

    model_config = {name: getattr(args, name) for _, name, _ in MODEL_FLAGS if getattr(args, name) is not None}
    for flag, name, capabilities in MODEL_FLAGS:
        allowed = kinds(**capabilities)
        if name in model_config and args.model is not None and args.model not in allowed:
            raise MultigenError(f"{flag} is for {' and '.join(allowed)} models, not {args.model}: leave it out.")
    fields = {
        "model": args.model, "dataset": args.dataset, "data_dir": args.data_dir, "epochs": args.epochs,
        "latent_dim": args.latent_dim, "batch_size": args.batch_size, "learning_rate": args.lr, "seed": args.seed,
        "sample_every": args.sample_every, "device": args.device, "out": args.out,
        "eval_samples": args.eval_samples, "lr_decay_from": args.lr_decay_from,
    }
    if args.resume:
        keep = ("epochs", "device", "out", "eval_samples", "lr_decay_from")  # the trainer checks the schedule
        config = resume_config(args.resume, **{k: v for k, v in fields.items() if k in keep})
        config.out = args.out or args.resume  # continue in the file resumed unless told otherwise
        for name in ("model", "dataset", "latent_dim", "batch_size", "learning_rate", "seed"):
            given = fields[name]
            if given is not None and given != getattr(config, name):
                raise MultigenError(f"--{name.replace('_', '-')} {given} differs from the resumed run's {getattr(config, name)}: leave it out.")
        flags = {name: flag for flag, name, _ in MODEL_FLAGS}
        for name, given in model_config.items():  # model options: the model is rebuilt from the run's config
            if given != config.model_config.get(name):
                raise MultigenError(f"{flags[name]} {given} differs from the resumed run's "
                                    f"{config.model_config.get(name, 'default')}: leave it out.")
    else:
        config = TrainingConfig(**{k: v for k, v in fields.items() if v is not None}, model_config=model_config)
    with process_group(config.device) as shard:
        trainer = Trainer(config, resume=args.resume, shard=shard)
        try:
            with _stop_on_signal(trainer):
                _report(trainer, quiet=args.quiet or not shard.is_main, loud=shard.is_main)
        except RuntimeError as error:
            if shard.world_size == 1 or not lost_peer(error):
                raise
            raise MultigenError(
                f"process {shard.rank} lost the others of its group ({str(error).splitlines()[0][:160]}): "
                "the real error is in another process's output above; the last epoch's checkpoint is kept."
            ) from None
    return 0


def _report(trainer, *, quiet: bool, loud: bool) -> None:
    """Run ``trainer``, drawing its events with tqdm (nothing but errors from ranks other than 0)."""
    from tqdm import tqdm

    from multigen.training import EpochEnd, Finished, Progress, Started

    bar = None
    say = print if loud else (lambda *args, **kwargs: None)
    for event in trainer:
        if isinstance(event, Started):
            config = trainer.config
            where = (f"{event.device}" if event.world_size == 1 else
                     f"{event.world_size} processes ({trainer.shard.backend}) on {event.device} each")
            say(f"Training {config.model} on {config.dataset} ({where}), {event.epochs} epochs of "
                f"{event.steps_per_epoch} steps -> {event.checkpoint}", file=sys.stderr)
            if event.world_size > 1:
                say(f"Global batch {config.batch_size} = {event.world_size} processes x {event.batch_per_process}; "
                    f"learning rate {event.learning_rate:g} (the global batch's, not rescaled)", file=sys.stderr)
            bar = tqdm(total=event.total_steps, initial=event.start_step, unit="step", disable=quiet, dynamic_ncols=True)
        elif isinstance(event, Progress) and bar is not None:
            bar.update(event.step - bar.n)
            bar.set_postfix({"epoch": event.epoch, "loss": f"{event.losses['loss']:.3f}",
                             "img/s": f"{event.images_per_second:.0f}"}, refresh=False)
        elif isinstance(event, EpochEnd):
            summary = ", ".join(f"{k} {v:.4g}" for k, v in {**event.losses, **event.metrics}.items())
            (bar.write if bar is not None and not quiet else say)(f"epoch {event.epoch}: {summary} ({event.seconds:.1f} s)")
        elif isinstance(event, Finished):
            if bar is not None:
                bar.close()
            say(f"{event.reason}: {event.checkpoint}")


@contextmanager
def _stop_on_signal(trainer):
    """While training, a first Ctrl-C (or SIGTERM, which torchrun sends its processes) stops the run after
    the current step and saves it; a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return

    def stop(signum, frame):
        if trainer.stop_requested:
            raise KeyboardInterrupt
        print("\nmultigen: stopping after this step and saving (press Ctrl-C again to quit at once)", file=sys.stderr)
        trainer.stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _sample(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from multigen.checkpoints import load_checkpoint
    from multigen.images import image_grid, png_bytes, to_uint8
    from multigen.models import GenerativeModel

    checkpoint = load_checkpoint(args.checkpoint, device=args.device)
    model = checkpoint.model
    if not isinstance(model, GenerativeModel):
        raise MultigenError(f"{args.checkpoint} holds a {model.display_name}, which draws nothing: sample a vae, cvae, gan or cgan.")
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".npz"):
        raise MultigenError(f"--out {out} must end in .png (a grid) or .npz (arrays).")
    labels = None
    if model.conditional:
        labels = np.full(args.n, args.label) if args.label is not None else np.arange(args.n) % 10
    elif args.label is not None:
        raise MultigenError(f"--label needs a conditional model (cvae or cgan); {args.checkpoint} holds a {model.kind}.")
    generator = torch.Generator(device=model.device).manual_seed(args.seed)
    with torch.no_grad():
        images = to_uint8(model.sample(args.n, labels=None if labels is None else torch.as_tensor(labels), generator=generator))
    nearest = None if args.nearest is None else _copy_check(images, args.nearest, checkpoint.metadata.get("dataset"))
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".png":
        if nearest is not None:  # one row per sample: the sample, then its nearest training digits
            rows = np.concatenate([images[:, None], nearest.images], axis=1).reshape(-1, 28, 28)
            grid = image_grid(rows, nrow=args.nearest + 1)
        else:
            grid = image_grid(images, nrow=10 if model.conditional else math.ceil(math.sqrt(args.n)))
        out.write_bytes(png_bytes(grid))
    else:
        arrays = {"images": images} if labels is None else {"images": images, "labels": labels.astype(np.int64)}
        if nearest is not None:
            arrays.update(nearest_indices=nearest.indices, nearest_distances=nearest.distances, nearest_labels=nearest.labels)
        np.savez_compressed(out, **arrays)
    print(f"wrote {args.n} images to {out}")
    return 0


def _copy_check(images, k: int, trained_on: str | None):
    """The k nearest mnist-5k training digits (a ``NearestDigits``) of each uint8 sample, one line per sample printed."""
    from multigen.evaluation.perceptual import COPY_PERCENTILE, nearest_training_digits

    nearest = nearest_training_digits(images, k=k, trained_on=trained_on)
    for index, (distances, rows, labels) in enumerate(zip(nearest.distances, nearest.indices, nearest.labels)):
        found = ", ".join(f"{d:.4f} (row {r}, digit {label})" for d, r, label in zip(distances, rows, labels))
        flag = f"  <- possible copy (under {nearest.thresholds[index]:.4f})" if nearest.copied[index] else ""
        print(f"sample {index}: {found}{flag}")
    print(f"{int(nearest.copied.sum())} of {len(images)} samples are possible copies: closer to a training digit than "
          f"all but {COPY_PERCENTILE:g}% of real validation digits are to one of their kind (multigen.evaluation.perceptual)")
    return nearest


def _encode(args: argparse.Namespace) -> int:
    import numpy as np

    from multigen.checkpoints import load_checkpoint
    from multigen.data import load_dataset
    from multigen.explore.latent import encode_dataset
    from multigen.models import require_encoder

    checkpoint = load_checkpoint(args.checkpoint, device=args.device)
    require_encoder(checkpoint.model, f"Encoding ({args.checkpoint})")
    dataset = load_dataset(args.dataset or checkpoint.metadata.get("dataset", "mnist-5k"), args.split, data_dir=args.data_dir)
    codes = encode_dataset(checkpoint.model, dataset)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, z=codes.mu, labels=codes.labels)
    print(f"wrote {len(codes.labels)} latent means of {dataset.name} ({args.split}) to {out}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from multigen.checkpoints import export_checkpoint

    path = export_checkpoint(args.checkpoint, args.out)
    print(f"exported {args.checkpoint} -> {path} ({os.path.getsize(path) / 1e6:.1f} MB)")
    return 0


def _info(args: argparse.Namespace) -> int:
    from multigen.checkpoints import read_metadata

    print(json.dumps(read_metadata(args.checkpoint), indent=2))
    return 0


def _eval(args: argparse.Namespace) -> int:
    from multigen.evaluation import evaluate

    result = evaluate(args.checkpoint, samples=args.samples, seed=args.seed, device=args.device,
                      classifier=args.classifier)
    if args.format == "json":
        print(json.dumps(result, indent=2))
    else:
        width = max(len(name) for name in result)
        for name, value in result.items():
            print(f"{name:<{width}}  {value:.4g}" if isinstance(value, float) else f"{name:<{width}}  {value}")
    return 0


def _train_classifier(args: argparse.Namespace) -> int:
    from multigen.checkpoints import read_metadata
    from multigen.models.classifier import ClassifierConfig
    from multigen.training import Trainer, classifier_training_config

    config = classifier_training_config(
        dataset=args.dataset, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, device=args.device,
        out=args.out, data_dir=args.data_dir, config=ClassifierConfig(learning_rate=args.lr) if args.lr is not None else None,
    )
    trainer = Trainer(config)
    with _stop_on_signal(trainer):
        _report(trainer, quiet=args.quiet, loud=True)
    accuracy = read_metadata(trainer.config.out)["metrics"].get("val_accuracy", float("nan"))
    print(f"validation accuracy {accuracy:.2%}")
    return 0


def _style_slider(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and -3.0 <= value <= 3.0):
        raise argparse.ArgumentTypeError(f"{value} must be between -3 and 3")
    return value


def _write(args: argparse.Namespace) -> int:
    from multigen.checkpoints import load_checkpoint
    from multigen.explore import handwriting

    number = "".join(str(digit) for digit in handwriting.parse_number(args.text))  # fails before loading a model
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise MultigenError(f"--out {out} must end in .png (the strip, with its recipe inside).")
    model = load_checkpoint(args.ckpt, device=args.device).model
    style = handwriting.style_from_seed(model, args.style_seed)
    sliders = [getattr(args, name) for name in handwriting.STYLE_NAMES]
    directions = handwriting.style_directions(model) if any(sliders) else None
    strip = handwriting.write_number(model, number, style, sliders=sliders, directions=directions)
    recipe = handwriting.make_write_recipe(args.ckpt, model.kind, number, style, sliders=sliders,
                                           directions=directions, seed=args.style_seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(handwriting.strip_png(strip, recipe, scale=args.scale))
    recipe_path = out.with_suffix(".json")
    recipe_path.write_text(json.dumps(recipe, indent=2) + "\n")
    print(f"wrote {number} ({model.kind}, style seed {args.style_seed}) to {out}, its recipe to {recipe_path}")
    return 0


COMMANDS = {
    "train": _train, "sample": _sample, "encode": _encode, "export": _export, "info": _info,
    "eval": _eval, "train-classifier": _train_classifier, "write": _write,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except MultigenError as error:
        sys.stderr.write(f"multigen: error: {error}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("multigen: interrupted\n")
        return 130
