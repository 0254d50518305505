"""The ``multigen`` command line's arguments: one parser per subcommand, and argument types whose errors
are one line."""

from __future__ import annotations

import argparse
import math
import sys

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line instead of usage plus message."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(EXIT_USAGE)


def _whole_number(text: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{value} must be from {low} to {high:,}")
    return value


def _count(high: int, low: int = 1):
    """An argument type: a whole number from ``low`` to ``high``, a ceiling this machine can hold."""
    def parse(text: str) -> int:
        return _whole_number(text, low, high)

    return parse


_positive_int = _count(10**9)
_seed = _count(2**32 - 1, low=0)  # multigen.data.MAX_SEED (not imported here: the parser loads no torch)


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


def _style_slider(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and -3.0 <= value <= 3.0):
        raise argparse.ArgumentTypeError(f"{value} must be between -3 and 3")
    return value


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
    ("--mode-seeking", "mode_seeking", _GANS),
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from multigen.data import DATASETS
    from multigen.device import DEVICE_CHOICES
    from multigen.models import GENERATIVE_KINDS
    from multigen.training.precision import PRECISIONS

    choices = {"datasets": DATASETS, "devices": DEVICE_CHOICES, "kinds": GENERATIVE_KINDS, "precisions": PRECISIONS}
    parser = _Parser(prog="multigen", description="Train, sample and explore GANs and VAEs on handwritten digits.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an unexpected error")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train(commands, choices)
    _add_sample(commands, choices)
    _add_encode(commands, choices)
    _add_export(commands, choices)
    _add_info(commands, choices)
    _add_evaluate(commands, choices)
    _add_classifier(commands, choices)
    _add_write(commands, choices)
    _add_invert(commands, choices)
    _add_fit_prior(commands, choices)
    _add_calibrate_sliders(commands, choices)
    return parser


def _add_train(commands: argparse._SubParsersAction, choices: dict) -> None:
    train = commands.add_parser("train", help="train a model (or continue one with --resume)")
    train.add_argument("--model", choices=choices["kinds"], help="model kind (default vae; from the checkpoint with --resume)")
    train.add_argument("--dataset", choices=choices["datasets"], help="data set (default mnist-5k, offline)")
    train.add_argument("--data-dir", help="folder of the torchvision data sets (default data/ or $MULTIGEN_DATA)")
    train.add_argument("--epochs", type=_count(100_000), help="total epochs (default 10)")
    train.add_argument("--latent-dim", type=_positive_int, help="VAE latent size or GAN noise size")
    train.add_argument("--batch-size", type=_count(65_536), help="images per step (default 64)")
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
    train.add_argument("--categorical-code", type=_count(64), metavar="K",
                       help="GAN: an InfoGAN code of K categories read from the noise, e.g. 10 (default off)")
    train.add_argument("--cluster-code", action="store_true", default=None,
                       help="GAN: the code's K categories are clusters of the training digits, found without "
                            "labels, and the discriminator is told them (self-conditioned GAN; default off)")
    train.add_argument("--mode-seeking", type=float, metavar="LAMBDA",
                       help="GAN: weight of MSGAN's mode-seeking term, which spreads one condition's noise over more "
                            "of its digits, e.g. 1 (Mao et al., 2019; default off)")
    train.add_argument("--lr-decay-from", type=_count(100_000, low=0), metavar="EPOCH",
                       help="after this epoch the learning rates fall linearly to 0 at the last epoch (default: constant)")
    train.add_argument("--seed", type=_seed, help="random seed (default 0)")
    train.add_argument("--sample-every", type=_positive_int, help="steps between sample grids")
    train.add_argument("--eval-samples", type=_count(100_000, low=0),
                       help="samples for the per-epoch FID / IS logged in the checkpoint (default 1000; 0: off)")
    train.add_argument("--device", choices=choices["devices"], default="auto")
    train.add_argument("--precision", choices=choices["precisions"],
                       help="auto (default: bf16 where the chip has bfloat16 units, a CPU with AMX or AVX-512 BF16 or a "
                            "CUDA GPU with tensor cores; else fp32), fp32, or bf16 (autocast; weights stay float32)")
    train.add_argument("--out", help="checkpoint path (default runs/<model>-<dataset>-<time>.safetensors)")
    train.add_argument("--resume", help="checkpoint of a run to continue, with its optimizer state and step")
    train.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_sample(commands: argparse._SubParsersAction, choices: dict) -> None:
    sample = commands.add_parser("sample", help="draw images from a checkpoint")
    sample.add_argument("checkpoint")
    sample.add_argument("--n", type=_count(10_000), help="number of images (default 64, at most 10,000; 1 with --recipe)")
    sample.add_argument("--label", type=_digit, help="digit to draw (conditional models; default: 0-9 in turn, or the recipe's)")
    sample.add_argument("--seed", type=_seed, help="random seed (default 0; with --recipe, the recipe's)")
    sample.add_argument("--recipe", metavar="FILE",
                        help="draw the one digit of a recipe (.json or .png from the GAN page, `multigen invert`)")
    _add_prior_choice(sample)
    sample.add_argument("--device", choices=choices["devices"], default="auto")
    sample.add_argument("--out", required=True, help=".png for a grid, .npz for arrays (images, labels)")
    sample.add_argument("--nearest", type=_count(50), metavar="K",
                        help="copy check: each sample followed by its K nearest training digits (mnist-5k), distances printed")


def _add_encode(commands: argparse._SubParsersAction, choices: dict) -> None:
    encode = commands.add_parser("encode", help="latent means of a data split (VAE, CVAE)")
    encode.add_argument("checkpoint")
    encode.add_argument("--dataset", choices=choices["datasets"], help="default: the checkpoint's data set")
    encode.add_argument("--data-dir")
    encode.add_argument("--split", choices=("train", "val"), default="val")
    encode.add_argument("--device", choices=choices["devices"], default="auto")
    encode.add_argument("--out", required=True, help="an .npz file with z and labels")


def _add_export(commands: argparse._SubParsersAction, choices: dict) -> None:
    export = commands.add_parser(
        "export", help="copy a checkpoint without optimizer state, or write its decoder / encoder as ONNX"
    )
    export.add_argument("checkpoint")
    export.add_argument("--out", required=True, help=".safetensors (a copy for sharing) or .onnx")
    export.add_argument("--format", choices=("safetensors", "onnx"),
                        help="what to write (default: from the --out suffix)")
    export.add_argument("--part", choices=("decoder", "encoder"), default="decoder",
                        help="ONNX: the decoder (VAE) or generator (GAN), or a VAE's encoder (default decoder)")


def _add_info(commands: argparse._SubParsersAction, choices: dict) -> None:
    info = commands.add_parser("info", help="print a checkpoint's metadata as JSON")
    info.add_argument("checkpoint")


def _add_evaluate(commands: argparse._SubParsersAction, choices: dict) -> None:
    evaluate = commands.add_parser("eval", help="FID, Inception Score, conditional accuracy, negative ELBO")
    evaluate.add_argument("checkpoint")
    evaluate.add_argument("--samples", type=_count(100_000, low=10), default=5000,
                          help="samples to draw (default 5000, at most 100,000)")
    evaluate.add_argument("--seed", type=_seed, default=0)
    _add_prior_choice(evaluate)
    evaluate.add_argument("--device", choices=choices["devices"], default="auto")
    evaluate.add_argument("--classifier", help="digit classifier (default checkpoints/classifier.safetensors)")
    evaluate.add_argument("--format", choices=("json", "table"), default="json", help="output (default json)")


def _add_prior_choice(command: argparse.ArgumentParser) -> None:
    command.add_argument("--prior", choices=("standard", "fitted"),  # multigen.models.prior.PRIORS (no torch here)
                         help="where a VAE's latents come from: fitted (the mixture `multigen fit-prior` stored; the "
                              "default when the checkpoint has one) or standard (N(0, I), the default otherwise)")


def _add_fit_prior(commands: argparse._SubParsersAction, choices: dict) -> None:
    fit = commands.add_parser("fit-prior", help="fit a Gaussian mixture to a VAE's latents of its training digits "
                                                "and store it in the checkpoint (sampling then draws from it)")
    fit.add_argument("checkpoint", help="a vae or cvae checkpoint; written again in place unless --out is given")
    fit.add_argument("--components", type=_count(1000), default=50, help="mixture components (default 50)")
    fit.add_argument("--covariance", choices=("full", "diag"), default="full", help="covariance type (default full)")
    fit.add_argument("--seed", type=_seed, default=0, help="random state of the fit (default 0)")
    fit.add_argument("--dataset", choices=choices["datasets"], help="default: the checkpoint's data set (its training split)")
    fit.add_argument("--data-dir", help="folder of the torchvision data sets (default data/ or $MULTIGEN_DATA)")
    fit.add_argument("--device", choices=choices["devices"], default="auto")
    fit.add_argument("--out", help="write the checkpoint with its prior here instead (default: in place)")
    fit.add_argument("--remove", action="store_true", help="remove a stored prior instead of fitting one")


def _add_calibrate_sliders(commands: argparse._SubParsersAction, choices: dict) -> None:
    calibrate = commands.add_parser(
        "calibrate-sliders", help="measure the GAN and Write pages' slider directions of a checkpoint, each as long as "
                                  "keeps its digits legible, and store them in it (the pages then need not measure them)")
    calibrate.add_argument("checkpoint", help="a gan, cgan or cvae checkpoint; written again in place unless --out is given")
    calibrate.add_argument("--device", choices=choices["devices"], default="cpu",
                           help="where to measure (default cpu, as the app does)")
    calibrate.add_argument("--out", help="write the checkpoint with its directions here instead (default: in place)")


def _add_classifier(commands: argparse._SubParsersAction, choices: dict) -> None:
    classifier = commands.add_parser("train-classifier", help="train the digit classifier the metrics measure with")
    classifier.add_argument("--dataset", choices=("mnist-5k", "mnist"), default="mnist-5k")
    classifier.add_argument("--data-dir", help="folder of the torchvision data sets (default data/ or $MULTIGEN_DATA)")
    classifier.add_argument("--epochs", type=_count(1000), default=20, help="epochs (default 20)")
    classifier.add_argument("--batch-size", type=_count(65_536), default=64, help="images per step (default 64)")
    classifier.add_argument("--lr", type=_positive_float, help="initial learning rate (default 2e-3, cosine decay)")
    classifier.add_argument("--seed", type=_seed, default=0)
    classifier.add_argument("--device", choices=choices["devices"], default="auto")
    classifier.add_argument("--out", help="checkpoint path (default runs/classifier-<dataset>-<time>.safetensors)")
    classifier.add_argument("--quiet", action="store_true", help="no line per epoch")


def _add_write(commands: argparse._SubParsersAction, choices: dict) -> None:
    write = commands.add_parser("write", help="write a number as one strip of digits in one style (CVAE, cGAN)")
    write.add_argument("text", help="the digits to write, 1 to 12 of them, e.g. 2026")
    write.add_argument("--ckpt", required=True, help="a cvae or cgan checkpoint")
    write.add_argument("--style-seed", type=_seed, default=0, help="seed of the style (default 0)")
    for name, what in (("slant", "leans left/right"), ("thickness", "thinner/thicker"), ("width", "narrower/wider")):
        write.add_argument(f"--{name}", type=_style_slider, default=0.0, help=f"-3..3, {what} (default 0)")
    write.add_argument("--scale", type=_count(32), default=1, help="enlarge each pixel N times (default 1: 28 px; at most 32)")
    write.add_argument("--device", choices=choices["devices"], default="auto")
    write.add_argument("--out", default="strip.png", help="the PNG (default strip.png); its recipe goes beside it")


def _add_invert(commands: argparse._SubParsersAction, choices: dict) -> None:
    invert = commands.add_parser("invert", help="find the noise from which a GAN draws a given digit (GAN inversion)")
    invert.add_argument("checkpoint", help="a gan or cgan checkpoint")
    invert.add_argument("image", help="a PNG or JPEG of one digit, any size, dark on light or light on dark")
    invert.add_argument("--label", type=_digit, help="cGAN: the digit to draw it as (default: the classifier's reading)")
    invert.add_argument("--starts", type=_count(64), default=8, help="random starts searched (default 8)")
    invert.add_argument("--steps", type=_count(5000), default=150, help="Adam steps per start (default 150)")
    invert.add_argument("--seed", type=_seed, default=0)
    invert.add_argument("--device", choices=choices["devices"], default="auto")
    invert.add_argument("--out", default="found.png", help="the found digit (PNG); its recipe (JSON) goes beside it")
