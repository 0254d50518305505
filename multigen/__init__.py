"""multigen: train, save, load, sample and explore GANs and VAEs on handwritten digits.

The public API, in the order data flows::

    from multigen import load_dataset, TrainingConfig, Trainer, train, load_checkpoint
    checkpoint_path = train(TrainingConfig(model="vae", epochs=5, latent_dim=2))
    model = load_checkpoint(checkpoint_path).model
    images = model.sample(16)                         # (16, 1, 28, 28) in [0, 1]
"""

__version__ = "0.1.0"

from multigen.errors import MultigenError

__all__ = ["MultigenError", "__version__"]
