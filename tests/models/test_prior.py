"""A VAE's fitted prior (ex-post density estimation, Ghosh et al. 2020): fitted to where the encoder puts the
training digits, drawn from reproducibly, stored in the checkpoint as tensors and read back exactly."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch

from multigen.checkpoints import CheckpointError, export_checkpoint, load_checkpoint, save_checkpoint, store_prior
from multigen.data import load_dataset, subset
from multigen.errors import MultigenError
from multigen.explore.latent import encode_dataset
from multigen.models import build_model
from multigen.models.prior import MixturePrior, fit_mixture, fit_prior

TINY = {"latent_dim": 3, "hidden_channels": 4, "hidden_features": 16}


@pytest.fixture(scope="module")
def digits():
    return subset(load_dataset("mnist-5k", "train"), 200, seed=0)


@pytest.fixture(scope="module")
def fitted(digits):
    torch.manual_seed(0)
    model = build_model("vae", TINY).eval()
    return model, fit_prior(model, digits, components=3, seed=0)


def _two_clusters(n: int = 2000) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal([-4, 0], [0.5, 1.0], (n // 2, 2)), rng.normal([4, 2], [1.0, 0.3], (n // 2, 2))])


def test_the_prior_is_fitted_to_the_encoders_means_of_the_digits(fitted, digits):
    model, prior = fitted
    assert (prior.components, prior.latent_dim, prior.covariance_type) == (3, 3, "full")
    assert (prior.dataset, prior.split, prior.points, prior.seed) == ("mnist-5k", "train", 200, 0)
    assert all(t.dtype == torch.float32 for t in prior.tensors().values())
    mu = encode_dataset(model, digits).mu
    assert np.array_equal(model.latent_means(digits), mu)  # the explorer's encoding, number for number
    again = fit_prior(model, digits, components=3, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(prior.tensors().values(), again.tensors().values()))
    # The mixture explains the digits' latents far better than the standard normal does.
    standard = torch.distributions.Normal(0.0, 1.0).log_prob(torch.from_numpy(mu)).sum(1)
    assert float(prior.log_prob(torch.from_numpy(mu)).mean()) > float(standard.mean()) + 1


def test_samples_are_seeded_and_come_from_the_mixture():
    prior = fit_mixture(_two_clusters(), components=2, seed=0)
    a = prior.sample(20_000, generator=torch.Generator().manual_seed(3))
    b = prior.sample(20_000, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == (20_000, 2) and a.dtype == torch.float32
    assert not torch.equal(a, prior.sample(20_000, generator=torch.Generator().manual_seed(4)))
    data = _two_clusters()
    assert np.allclose(a.mean(0).numpy(), data.mean(0), atol=0.15)
    assert np.allclose(np.cov(a.numpy(), rowvar=False), np.cov(data, rowvar=False), rtol=0.05, atol=0.1)
    left = a[:, 0] < 0  # each cluster with its own spread, not one Gaussian over both
    assert abs(float(left.float().mean()) - 0.5) < 0.02
    assert np.allclose(a[left].std(0).numpy(), [0.5, 1.0], atol=0.1)
    assert np.allclose(a[~left].std(0).numpy(), [1.0, 0.3], atol=0.1)
    diagonal = fit_mixture(_two_clusters(), components=2, covariance_type="diag", seed=0)
    assert diagonal.covariance_type == "diag" and not bool(torch.tril(diagonal.scale_tril, -1).any())


def test_a_model_samples_from_its_fitted_prior_by_default_and_from_n01_when_asked(fitted):
    model, prior = fitted
    seed = lambda: torch.Generator().manual_seed(5)
    model.fitted_prior = None
    standard = model.sample_latent(6, generator=seed())
    assert torch.equal(standard, torch.randn((6, 3), generator=seed()))
    with pytest.raises(MultigenError, match="no fitted prior: fit one with `multigen fit-prior"):
        model.sample(2, prior="fitted")
    model.fitted_prior = prior
    try:
        assert torch.equal(model.sample_latent(6, generator=seed()), prior.sample(6, generator=seed()))
        assert torch.equal(model.sample_latent(6, generator=seed(), prior="fitted"), prior.sample(6, generator=seed()))
        assert torch.equal(model.sample_latent(6, generator=seed(), prior="standard"), standard)
        fitted_images = model.sample(6, generator=seed())
        assert not torch.equal(fitted_images, model.sample(6, generator=seed(), prior="standard"))
        assert torch.equal(fitted_images, model.generate(prior.sample(6, generator=seed())))
        with pytest.raises(MultigenError, match="Unknown prior 'best'"):
            model.sample(2, prior="best")
    finally:
        model.fitted_prior = None


def test_a_prior_of_another_size_or_on_a_gan_is_refused():
    prior = fit_mixture(_two_clusters(200), components=2)
    with pytest.raises(MultigenError, match="vectors of size 3, but the prior is 2-dimensional"):
        build_model("vae", TINY).fitted_prior = prior
    with pytest.raises(MultigenError, match="fitted priors are for VAEs and CVAEs"):
        build_model("gan", {"noise_dim": 2}).fitted_prior = prior
    with pytest.raises(MultigenError, match="needs an encoder"):
        fit_prior(build_model("gan", {"noise_dim": 2}), load_dataset("mnist-5k", "val"), components=2)
    with pytest.raises(MultigenError, match="needs at least 20 latent vectors"):
        fit_mixture(np.zeros((10, 2)), components=10)


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.update(weights=t["weights"] * 2), "weights sum to 2"),
    (lambda t: t.update(means=t["means"][:1]), "means have shape"),
    (lambda t: t.update(scale_tril=-t["scale_tril"]), "not positive"),
    (lambda t: t.update(scale_tril=t["scale_tril"].transpose(1, 2) + 1), "not lower-triangular"),
    (lambda t: t["means"].__setitem__((0, 0), float("nan")), "NaN"),
    (lambda t: t.update(weights=t["weights"].double()), "float32"),
])
def test_an_inconsistent_prior_is_refused_in_one_line(change, message):
    tensors = {name: t.clone() for name, t in fit_mixture(_two_clusters(200), components=2).tensors().items()}
    change(tensors)
    with pytest.raises(ValueError, match=message):
        MixturePrior(**tensors)


def test_a_stored_prior_round_trips_exactly_and_a_checkpoint_without_one_still_samples(fitted, tmp_path):
    model, prior = fitted
    plain = save_checkpoint(tmp_path / "plain.safetensors", model, metadata={"dataset": "mnist-5k"})
    loaded = load_checkpoint(plain)
    assert loaded.prior is None and "prior" not in loaded.metadata
    assert loaded.model.sample(2, generator=torch.Generator().manual_seed(0)).shape == (2, 1, 28, 28)

    with_prior = store_prior(plain, prior, out=tmp_path / "with-prior.safetensors")
    back = load_checkpoint(with_prior)
    assert back.prior is not None and back.prior.describe() == prior.describe() == back.metadata["prior"]
    assert all(torch.equal(a, b) for a, b in zip(prior.tensors().values(), back.prior.tensors().values()))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), back.model.state_dict().values()))
    assert {k: v for k, v in back.metadata.items() if k != "prior"} == loaded.metadata  # everything else kept
    seeded = lambda: torch.Generator().manual_seed(1)
    assert torch.equal(back.model.sample(4, generator=seeded()), model.generate(prior.sample(4, generator=seeded())))

    # Saving the loaded model again and exporting it keep the prior; removing it gives the plain file back.
    resaved = load_checkpoint(save_checkpoint(tmp_path / "resaved.safetensors", back.model))
    exported = load_checkpoint(export_checkpoint(with_prior, tmp_path / "exported.safetensors"))
    for copy in (resaved, exported):
        assert all(torch.equal(a, b) for a, b in zip(prior.tensors().values(), copy.prior.tensors().values()))
    removed = load_checkpoint(store_prior(with_prior, None))
    assert removed.prior is None and "prior" not in removed.metadata


def _rewrite(path, edit):
    """Rewrite a safetensors file's header (JSON) in place with ``edit(header)``, keeping its data bytes."""
    raw = path.read_bytes()
    size = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + size])
    edit(header)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + size :])


def _with_metadata(change):
    def edit(header):
        document = json.loads(header["__metadata__"]["multigen"])
        change(document)
        header["__metadata__"]["multigen"] = json.dumps(document)
    return edit


@pytest.mark.parametrize(("edit", "message"), [
    (_with_metadata(lambda d: d["prior"].update(components=4)), r"its tensor weights is F32 \[3\], but 4 components"),
    (_with_metadata(lambda d: d.pop("prior")), "its description in the metadata is missing"),
    (_with_metadata(lambda d: d["prior"].update(type="flow")), "not a gaussian-mixture"),
    (lambda h: h.update({"prior/centres": h.pop("prior/means")}), "its tensor prior/means is missing"),
])
def test_a_damaged_stored_prior_is_one_line_naming_the_file_and_fit_prior_replaces_it(fitted, tmp_path, edit, message):
    model, prior = fitted
    path = store_prior(save_checkpoint(tmp_path / "vae.safetensors", model), prior)
    _rewrite(path, edit)
    with pytest.raises(CheckpointError, match=message) as caught:
        load_checkpoint(path)
    text = str(caught.value)
    assert "\n" not in text and str(path) in text and f"`multigen fit-prior {path}`" in text
    if message.startswith("its tensor prior/"):
        return  # a renamed tensor no longer matches the checksum either: that file is corrupt as a whole
    assert load_checkpoint(path, with_prior=False).prior is None
    assert load_checkpoint(store_prior(path, prior)).prior.describe() == prior.describe()


def test_a_stored_prior_with_damaged_values_is_refused(fitted, tmp_path):
    from multigen.checkpoints.format import read_checkpoint, write_checkpoint

    model, prior = fitted
    path = save_checkpoint(tmp_path / "vae.safetensors", model)
    metadata, tensors = read_checkpoint(path, with_tensors=True)
    tensors.update({f"prior/{name}": t for name, t in prior.tensors().items()}, **{"prior/weights": prior.weights * 3})
    write_checkpoint(path, tensors, {**metadata, "prior": prior.describe()})  # a checksum that matches: only the values are wrong
    with pytest.raises(CheckpointError, match=r"has a damaged fitted prior \(its weights sum to 3"):
        load_checkpoint(path)
