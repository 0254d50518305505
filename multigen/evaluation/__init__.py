"""How good are the digits? Every figure is measured with the project's own digit classifier.

``classifier`` (the instrument, loaded once) -> ``perceptual`` (an LPIPS-style distance on its
activations: diversity, nearest training digits, memorisation) -> ``metrics`` (FID, Inception Score,
conditional accuracy, -ELBO, reconstruction quality, and ``evaluate``: all of them for one checkpoint).
"""

from multigen.evaluation.classifier import DEFAULT_CLASSIFIER, classifier_features, load_classifier
from multigen.evaluation.metrics import (
    ReconstructionQuality,
    Score,
    conditional_accuracy,
    evaluate,
    fid,
    frechet_distance,
    inception_score,
    real_fid_floor,
    reconstruction_quality,
    vae_negative_elbo,
)
from multigen.evaluation.perceptual import (
    CopyCheck,
    NearestDigits,
    copy_thresholds,
    memorisation_score,
    nearest_training_digits,
    perceptual_distance,
    perceptual_distance_matrix,
    perceptual_diversity,
    perceptual_features,
)

__all__ = [
    "DEFAULT_CLASSIFIER", "CopyCheck", "NearestDigits", "ReconstructionQuality", "Score", "classifier_features",
    "conditional_accuracy", "copy_thresholds", "evaluate", "fid", "frechet_distance", "inception_score",
    "load_classifier", "memorisation_score", "nearest_training_digits", "perceptual_distance",
    "perceptual_distance_matrix", "perceptual_diversity", "perceptual_features", "real_fid_floor",
    "reconstruction_quality", "vae_negative_elbo",
]
