"""Walking through a model's latent or noise space: ``latent`` (a VAE's encoder and its walks),
``projection`` (2-D maps and the way back, t-SNE in the background), ``noise`` (a GAN's seeds, GANSpace
sliders, variations, recipes) and ``handwriting`` (a number written in one style). Turning vectors into
digits is every generative model's own ``draw`` (``multigen.models.base``)."""
