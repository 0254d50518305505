"""What each ``multigen`` subcommand does; ``multigen.cli.main`` dispatches to them."""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from multigen.cli.parser import MODEL_FLAGS
from multigen.errors import MultigenError

MAX_PATH = 4096  # characters of a path; each of its names at most 255 (Linux's limits)


def _output(text: str | None, suffixes: tuple[str, ...] = (), what: str = "--out") -> Path | None:
    """An output file checked before any work: not a folder, a name the file system takes, the suffix asked
    for, and a parent folder that exists or can be made. One ``MultigenError`` line otherwise."""
    if text is None:
        return None
    path = Path(text)
    if len(text) > MAX_PATH or any(len(part) > 255 for part in path.parts):
        raise MultigenError(f"{what} is longer than the file system allows ({len(text)} characters): choose a shorter path.")
    if path.is_dir():
        raise MultigenError(f"{what} {path} is a folder: name a file in it, e.g. {path / ('out' + (suffixes or ('',))[0])}.")
    if suffixes and path.suffix.lower() not in suffixes:
        raise MultigenError(f"{what} {path} must end in {' or '.join(suffixes)}.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MultigenError(f"{what} {path}: its folder cannot be made ({error.strerror or error}): choose another place.") from None
    if not os.access(path.parent, os.W_OK):
        raise MultigenError(f"{what} {path}: its folder {path.parent} is not writable: choose another place.")
    return path


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
        "sample_every": args.sample_every, "device": args.device, "precision": args.precision,
        "out": None if args.out is None else str(_output(args.out, (".safetensors",))),
        "eval_samples": args.eval_samples, "lr_decay_from": args.lr_decay_from,
    }
    if args.resume:
        # The trainer checks the schedule; the precision may change (the weights and optimizer state are float32).
        keep = ("epochs", "device", "precision", "out", "eval_samples", "lr_decay_from")
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
            where += f", {event.precision}" + (" picked by --precision auto" if config.precision == "auto" else "")
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

    out = _output(args.out, (".png", ".npz"))
    recipe = None if args.recipe is None else _read_recipe(args)  # a bad recipe fails before the model loads
    checkpoint = load_checkpoint(args.checkpoint, device=args.device)
    model = checkpoint.model
    if not isinstance(model, GenerativeModel):
        raise MultigenError(f"{args.checkpoint} holds a {model.display_name}, which draws nothing: sample a vae, cvae, gan or cgan.")
    if recipe is not None:
        if args.prior is not None:
            raise MultigenError("--prior conflicts with --recipe, which names its own noise: leave --prior out.")
        images, labels, what = _recipe_digit(checkpoint, recipe, args)
    else:
        n, seed = args.n or 64, args.seed or 0
        labels = None
        if model.conditional:
            labels = np.full(n, args.label) if args.label is not None else np.arange(n) % 10
        elif args.label is not None:
            raise MultigenError(f"--label needs a conditional model (cvae or cgan); {args.checkpoint} holds a {model.kind}.")
        generator = torch.Generator(device=model.device).manual_seed(seed)
        prior = _prior_choice(model, args.prior, args.checkpoint)
        with torch.no_grad():
            images = to_uint8(model.sample(n, labels=None if labels is None else torch.as_tensor(labels), generator=generator,
                                           prior=prior))
        what = f"{n} images" + (f" from the {'fitted' if model.latent_prior(prior) else 'standard'} prior" if model.has_encoder else "")
    nearest = None if args.nearest is None else _copy_check(images, args.nearest, checkpoint.metadata.get("dataset"))
    if out.suffix.lower() == ".png":
        if nearest is not None:  # one row per sample: the sample, then its nearest training digits
            rows = np.concatenate([images[:, None], nearest.images], axis=1).reshape(-1, 28, 28)
            grid = image_grid(rows, nrow=args.nearest + 1)
        else:  # one digit (a recipe's) is the 28x28 picture `multigen invert` writes
            grid = image_grid(images, nrow=10 if model.conditional else math.ceil(math.sqrt(len(images))))
        out.write_bytes(png_bytes(grid))
    else:
        arrays = {"images": images} if labels is None else {"images": images, "labels": labels.astype(np.int64)}
        if nearest is not None:
            arrays.update(nearest_indices=nearest.indices, nearest_distances=nearest.distances, nearest_labels=nearest.labels)
        np.savez_compressed(out, **arrays)
    print(f"wrote {what} to {out}")
    return 0


def _prior_choice(model, prior: str | None, checkpoint: str) -> str | None:
    """``--prior`` checked against the model: "fitted" needs a fitted prior, and a GAN has no prior to choose."""
    if prior is None:
        return None
    if not getattr(model, "has_encoder", False):
        raise MultigenError(f"--prior is for VAEs and CVAEs; {checkpoint} holds a {model.kind}, which has no latent "
                            "prior to choose: leave --prior out.")
    if prior == "fitted" and model.fitted_prior is None:
        raise MultigenError(f"{checkpoint} has no fitted prior: run `multigen fit-prior {checkpoint}` first, "
                            "or pass --prior standard.")
    return prior


def _read_recipe(args: argparse.Namespace):
    """The ``--recipe`` file, checked in full (``read_recipe``), and refused where --n, --seed or --label
    ask for something else than the recipe's one digit."""
    from multigen.explore.noise import MAX_RECIPE_BYTES, read_recipe

    try:
        with open(args.recipe, "rb") as handle:
            data = handle.read(MAX_RECIPE_BYTES + 1)  # past the limit is refused without reading the rest
    except OSError as error:
        raise MultigenError(f"Cannot read the recipe {args.recipe} ({error.strerror or error}): name a .json or .png "
                            "saved from the GAN page or by `multigen invert`.") from None
    recipe = read_recipe(data, Path(args.recipe).name)
    if args.n is not None and args.n != 1:
        raise MultigenError(f"--n {args.n} conflicts with --recipe, which draws its one digit: leave --n out.")
    if args.seed is not None and args.seed != recipe.seed:
        raise MultigenError(f"--seed {args.seed} differs from the recipe's seed {recipe.seed}: leave --seed out.")
    if args.label is not None and recipe.label is not None and args.label != recipe.label:
        raise MultigenError(f"--label {args.label} differs from the recipe's digit {recipe.label}: leave --label out.")
    return recipe


def _recipe_digit(checkpoint, recipe, args: argparse.Namespace):
    """The recipe's digit as the GAN page draws it once the recipe is loaded: images (1, 28, 28) uint8, labels
    (1,) or None, and what was drawn, in words."""
    import numpy as np

    from multigen import cache
    from multigen.explore.noise import PAGE_SLIDERS, check_recipe, recipe_noise

    model = checkpoint.model
    # Everything that refuses the recipe comes before its directions are measured (up to a minute without stored ones).
    check_recipe(model, recipe)
    label = recipe.label if recipe.label is not None else args.label
    if model.conditional and label is None:
        raise MultigenError(f"The recipe names no digit and {args.checkpoint} holds a {model.kind}: pass --label.")
    if not model.conditional and label is not None:
        given = "--label" if recipe.label is None else f"The recipe's digit {label}"
        raise MultigenError(f"{given} needs a conditional model (cgan); {args.checkpoint} holds a {model.kind}.")

    def directions(recipe):  # the page's slider directions, measured once and kept in .cache/ (as the app does)
        if not any(recipe.sliders) or not hasattr(model, "code_categories"):
            return None
        return cache.gan_directions(checkpoint, min(PAGE_SLIDERS, model.latent_dim), cache_dir=_cache_dir())

    z = recipe_noise(model, recipe, directions(recipe))
    images = model.draw(z, label)[None]
    source = "found by inversion" if recipe.found is not None else f"seed {recipe.seed}"
    digit = "" if label is None else f", label {label}"
    return images, None if label is None else np.array([label]), f"the recipe's digit ({source}{digit})"


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

    out = _output(args.out, (".npz",))
    checkpoint = load_checkpoint(args.checkpoint, device=args.device)
    require_encoder(checkpoint.model, f"Encoding ({args.checkpoint})")
    dataset = load_dataset(args.dataset or checkpoint.metadata.get("dataset", "mnist-5k"), args.split, data_dir=args.data_dir)
    codes = encode_dataset(checkpoint.model, dataset)
    np.savez_compressed(out, z=codes.mu, labels=codes.labels)
    print(f"wrote {len(codes.labels)} latent means of {dataset.name} ({args.split}) to {out}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from multigen.checkpoints import export_checkpoint

    form = args.format or ("onnx" if str(args.out).lower().endswith(".onnx") else "safetensors")
    out = _output(args.out, (f".{form}",))
    if form == "onnx":
        from multigen.export import export_onnx

        path = export_onnx(args.checkpoint, out, part=args.part)
    elif args.part != "decoder":
        raise MultigenError("--part is for --format onnx: a .safetensors export copies the whole model.")
    else:
        path = export_checkpoint(args.checkpoint, out)
    print(f"exported {args.checkpoint} -> {path} ({os.path.getsize(path) / 1e6:.1f} MB)")
    return 0


def _info(args: argparse.Namespace) -> int:
    from multigen.checkpoints import read_metadata

    print(json.dumps(read_metadata(args.checkpoint), indent=2))
    return 0


def _eval(args: argparse.Namespace) -> int:
    from multigen.checkpoints import load_checkpoint
    from multigen.evaluation import evaluate

    checkpoint = load_checkpoint(args.checkpoint, device=args.device)
    model = checkpoint.model
    prior = _prior_choice(model, args.prior, args.checkpoint)
    result = evaluate(checkpoint, samples=args.samples, seed=args.seed, classifier=args.classifier, prior=prior)
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
        out=_output(args.out, (".safetensors",)), data_dir=args.data_dir, config=ClassifierConfig(learning_rate=args.lr) if args.lr is not None else None,
    )
    trainer = Trainer(config)
    with _stop_on_signal(trainer):
        _report(trainer, quiet=args.quiet, loud=True)
    accuracy = read_metadata(trainer.config.out)["metrics"].get("val_accuracy", float("nan"))
    print(f"validation accuracy {accuracy:.2%}")
    return 0


def _cache_dir() -> str:
    """Where the commands keep what they measure once per checkpoint: the app's cache folder when it is set
    (``$MULTIGEN_CACHE_DIR``), else ``.cache`` in the working folder."""
    from multigen.cache import DEFAULT_CACHE_DIR

    return os.environ.get("MULTIGEN_CACHE_DIR") or DEFAULT_CACHE_DIR


def _write(args: argparse.Namespace) -> int:
    from multigen import cache
    from multigen.checkpoints import load_checkpoint
    from multigen.explore import handwriting

    number = "".join(str(digit) for digit in handwriting.parse_number(args.text))  # fails before loading a model
    out = _output(args.out, (".png",))
    checkpoint = load_checkpoint(args.ckpt, device=args.device)
    model = checkpoint.model
    style = handwriting.style_from_seed(model, args.style_seed)
    sliders = [getattr(args, name) for name in handwriting.STYLE_NAMES]
    # Measured once per checkpoint (seconds: each slider's legible length) and kept in .cache/, as the app does.
    directions = cache.style_directions(checkpoint, cache_dir=_cache_dir()) if any(sliders) else None
    strip = handwriting.write_number(model, number, style, sliders=sliders, directions=directions)
    recipe = handwriting.make_write_recipe(args.ckpt, model.kind, number, style, sliders=sliders,
                                           directions=directions, seed=args.style_seed)
    out.write_bytes(handwriting.strip_png(strip, recipe, scale=args.scale))
    recipe_path = out.with_suffix(".json")
    recipe_path.write_text(json.dumps(recipe, indent=2) + "\n")
    print(f"wrote {number} ({model.kind}, style seed {args.style_seed}) to {out}, its recipe to {recipe_path}")
    return 0




def _invert(args: argparse.Namespace) -> int:
    from multigen.checkpoints import load_checkpoint
    from multigen.explore.noise import make_recipe
    from multigen.images import image_grid, png_bytes
    from multigen.inversion import invert
    from multigen.preprocess import read_digit_image

    out = _output(args.out, (".png",))
    try:
        data = Path(args.image).read_bytes()
    except OSError as error:
        raise MultigenError(f"Cannot read {args.image} ({error.strerror or error}): name a PNG or JPEG of a digit.") from None
    target = read_digit_image(data)
    model = load_checkpoint(args.checkpoint, device=args.device).model
    found = invert(model, target, label=args.label, starts=args.starts, steps=args.steps, seed=args.seed)
    out.write_bytes(png_bytes(image_grid(found.image[None], nrow=1)))  # the layout `sample --n 1` writes
    recipe = make_recipe(args.checkpoint, args.seed, found.z, label=found.label, kind=model.kind)
    recipe.update(source="inversion", image=str(args.image), distance=round(found.distance, 4),
                  real_distance=round(found.real_distance, 4))
    recipe_path = out.with_suffix(".json")
    recipe_path.write_text(json.dumps(recipe, indent=2) + "\n")
    verdict = "the GAN can draw it" if found.distance < found.real_distance else "only something near it"
    print(f"found {out} (perceptual distance {found.distance:.3f}; two real digits of the kind: "
          f"{found.real_distance:.3f}: {verdict}); its recipe: {recipe_path}")
    return 0


def _fit_prior(args: argparse.Namespace) -> int:
    from multigen.checkpoints import load_checkpoint, store_prior
    from multigen.data import load_dataset
    from multigen.models import require_encoder
    from multigen.models.prior import fit_prior

    out = _output(args.out, (".safetensors",))
    # A stored prior is not read: it is replaced, so a damaged one can be fitted again.
    checkpoint = load_checkpoint(args.checkpoint, device=args.device, with_prior=False)
    model = require_encoder(checkpoint.model, f"A fitted prior ({args.checkpoint})")
    if args.remove:
        path = store_prior(args.checkpoint, None, out=out)
        print(f"removed the fitted prior of {args.checkpoint} -> {path}: it samples from N(0, I)")
        return 0
    name = args.dataset or checkpoint.metadata.get("dataset") or "mnist-5k"
    dataset = load_dataset(name, "train", data_dir=args.data_dir)
    prior = fit_prior(model, dataset, components=args.components, covariance_type=args.covariance, seed=args.seed)
    path = store_prior(args.checkpoint, prior, out=out)
    print(f"fitted a {prior.components}-component {prior.covariance_type}-covariance Gaussian mixture to the latents "
          f"of {prior.points} {name} training digits -> {path}")
    return 0


def _calibrate_sliders(args: argparse.Namespace) -> int:
    import numpy as np

    from multigen import cache
    from multigen.checkpoints import load_checkpoint, store_directions

    out = _output(args.out, (".safetensors",))
    checkpoint = load_checkpoint(args.checkpoint, device=args.device)  # a missing or bad file: its one-line error
    content = cache.checkpoint_sha256(args.checkpoint)  # refused on writing if a run saves the file meanwhile
    directions = cache.measure_directions(checkpoint)
    path = store_directions(args.checkpoint, directions, measurement=cache.directions_measurement(),
                            measured_from=content, out=out)
    lengths = "; ".join(f"{name}: {', '.join(f'{n:.2f}' for n in np.linalg.norm(values, axis=1))}"
                        for name, values in directions.items())
    print(f"stored the slider directions of {args.checkpoint} (lengths {lengths}) -> {path}")
    return 0


COMMANDS = {
    "train": _train, "sample": _sample, "encode": _encode, "export": _export, "info": _info,
    "eval": _eval, "train-classifier": _train_classifier, "write": _write, "invert": _invert,
    "fit-prior": _fit_prior, "calibrate-sliders": _calibrate_sliders,
}
