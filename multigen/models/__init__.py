"""The four generative models, the digit classifier behind the metrics, and a registry that rebuilds
any of them from its kind and config. What a kind can do (its name, an encoder, labels) is read from its
class (``multigen.models.base``), here in one place: ``kinds`` and ``display_name``."""

from __future__ import annotations

import dataclasses
from typing import Any

from multigen.errors import MultigenError
from multigen.models.base import GenerativeModel, TrainableModel, require_encoder
from multigen.models.classifier import ClassifierConfig, DigitClassifier
from multigen.models.gan import GAN, ConditionalGAN, GANConfig
from multigen.models.vae import VAE, ConditionalVAE, VAEConfig

MODELS: dict[str, type[TrainableModel]] = {
    "vae": VAE, "cvae": ConditionalVAE, "gan": GAN, "cgan": ConditionalGAN, "classifier": DigitClassifier,
}
CONFIGS: dict[str, type] = {
    "vae": VAEConfig, "cvae": VAEConfig, "gan": GANConfig, "cgan": GANConfig, "classifier": ClassifierConfig,
}


def kinds(*, encoder: bool | None = None, conditional: bool | None = None) -> tuple[str, ...]:
    """The generative kinds (what `multigen train`, the Train page and the pickers offer), optionally only
    those with (or without) an encoder, or that are (or are not) conditional. The classifier, trained by
    `multigen train-classifier`, only measures the others."""
    return tuple(
        kind for kind, cls in MODELS.items()
        if issubclass(cls, GenerativeModel)
        and (encoder is None or cls.has_encoder == encoder)
        and (conditional is None or cls.conditional == conditional)
    )


GENERATIVE_KINDS: tuple[str, ...] = kinds()


def display_name(kind: str) -> str:
    """What a person reads for a kind: "VAE", "CVAE", "DCGAN", "cGAN", "digit classifier"."""
    return MODELS[kind].display_name if kind in MODELS else str(kind)


def config_class(kind: str) -> type:
    """The dataclass that configures a model kind."""
    if kind not in MODELS:
        raise MultigenError(f"Unknown model kind {kind!r}: choose one of {', '.join(MODELS)}.")
    return CONFIGS[kind]


def make_config(kind: str, values: dict[str, Any] | None = None) -> Any:
    """Build a model config from a dict, refusing unknown fields with a clear message."""
    cls = config_class(kind)
    values = dict(values or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise MultigenError(f"Unknown {kind} config field(s) {', '.join(unknown)}: known are {', '.join(sorted(known))}.")
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise MultigenError(f"Invalid {kind} config: {error}") from None


def build_model(kind: str, config: Any = None) -> TrainableModel:
    """A fresh model of ``kind`` from a config dataclass or dict (``None`` takes the defaults)."""
    if config is None or isinstance(config, dict):
        config = make_config(kind, config)
    try:
        return MODELS[kind](config)
    except ValueError as error:  # a setting this kind of model cannot take, such as a cGAN's cluster code
        raise MultigenError(f"Invalid {kind} config: {error}") from None


__all__ = [
    "GAN", "GENERATIVE_KINDS", "MODELS", "VAE", "ClassifierConfig", "ConditionalGAN", "ConditionalVAE",
    "DigitClassifier", "GANConfig", "GenerativeModel", "TrainableModel", "VAEConfig", "build_model",
    "config_class", "display_name", "kinds", "make_config", "require_encoder",
]
