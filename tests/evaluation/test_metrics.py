"""FID, Inception Score, conditional accuracy and the negative ELBO on cases whose answer is known,
measured with the shipped digit classifier (checkpoints/classifier.safetensors)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from multigen.checkpoints import load_checkpoint, read_metadata, save_checkpoint
from multigen.cli import main
from multigen.data import load_dataset, subset
from multigen.errors import MultigenError
from multigen.evaluation import (
    DEFAULT_CLASSIFIER,
    classifier_features,
    conditional_accuracy,
    evaluate,
    fid,
    frechet_distance,
    inception_score,
    load_classifier,
    real_fid_floor,
    reconstruction_quality,
    vae_negative_elbo,
)
from multigen.images import to_uint8
from multigen.models import build_model

TINY = {"vae": {"hidden_channels": 4, "hidden_features": 16}, "cvae": {"hidden_channels": 4, "hidden_features": 16},
        "gan": {"noise_dim": 8}, "cgan": {"noise_dim": 8}}


@pytest.fixture(scope="module")
def train_features(classifier):
    return classifier_features(load_dataset("mnist-5k", "train").images, classifier=classifier)


def shifted(images: torch.Tensor, pixels: int) -> torch.Tensor:
    """Digits moved right and down by ``pixels``, the edge filled with background (no wrap-around)."""
    return F.pad(images, (pixels, 0, pixels, 0))[:, :, :28, :28]


def tiny_checkpoint(tmp_path, kind: str, **metadata) -> str:
    torch.manual_seed(0)
    return str(save_checkpoint(tmp_path / f"{kind}.safetensors", build_model(kind, TINY[kind]),
                               metadata={"dataset": "mnist-5k", **metadata}))


def test_the_shipped_classifier_is_small_and_over_97_percent_accurate_on_validation_digits():
    metadata = read_metadata(DEFAULT_CLASSIFIER)
    assert metadata["kind"] == "classifier" and metadata["dataset"] == "mnist-5k"
    assert metadata["metrics"]["val_accuracy"] > 0.97
    assert DEFAULT_CLASSIFIER.stat().st_size < 2_000_000


def test_fid_of_a_set_with_itself_is_about_zero(classifier, val, train_features):
    assert fid(val.images, val.images, classifier=classifier) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(train_features, train_features) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_matches_the_closed_form_in_one_dimension():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 2.0, (400, 1)), rng.normal(-0.5, 0.5, (300, 1))
    expected = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_digits_score_worse_the_further_they_are_shifted(classifier, val, train_features):
    scores = [frechet_distance(classifier_features(shifted(val.images, p), classifier=classifier), train_features)
              for p in range(4)]
    assert scores == sorted(scores) and scores[0] < scores[1] and scores[-1] > 5 * scores[0]


def test_digits_score_worse_the_noisier_they_are(classifier, val, train_features):
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(val.images.shape, generator=generator)
    scores = [frechet_distance(classifier_features((val.images + sd * noise).clamp(0, 1), classifier=classifier),
                               train_features) for sd in (0.0, 0.05, 0.1, 0.2)]
    assert scores == sorted(scores) and scores[0] < scores[1] and scores[-1] > 10 * scores[0]


def test_the_real_fid_floor_is_small_and_shrinks_with_more_real_digits(classifier):
    same_size, all_training = real_fid_floor(classifier=classifier), real_fid_floor(n=4500, classifier=classifier)
    assert 0 < all_training < same_size < 10
    assert real_fid_floor(n=4500, seed=1, classifier=classifier) == pytest.approx(all_training)  # all of them anyway


def test_inception_score_of_real_validation_digits_is_near_the_ceiling_of_ten(classifier, val):
    score = inception_score(val.images, splits=1, classifier=classifier)
    assert 9.3 < score.mean <= 10 and score.std == 0
    assert 8.5 < inception_score(val.images, classifier=classifier).mean < score.mean  # small splits bias it down


def test_inception_score_of_noise_or_of_one_digit_is_about_one(classifier, val):
    noise = torch.rand((500, 1, 28, 28), generator=torch.Generator().manual_seed(0))
    assert inception_score(noise, classifier=classifier).mean == pytest.approx(1.0, abs=0.1)
    sevens = val.images[val.labels == 7]
    assert inception_score(sevens, splits=1, classifier=classifier).mean == pytest.approx(1.0, abs=0.2)


def test_conditional_accuracy_of_real_labelled_digits_equals_the_classifier_accuracy(classifier, val):
    accuracy = read_metadata(DEFAULT_CLASSIFIER)["metrics"]["val_accuracy"]
    assert conditional_accuracy(val.images, val.labels, classifier=classifier) == pytest.approx(accuracy, abs=1e-9)
    wrong = (val.labels + 1) % 10
    assert conditional_accuracy(val.images, wrong, classifier=classifier) < 0.05
    sevens = val.images[val.labels == 7]
    assert conditional_accuracy(sevens, 7, classifier=classifier) > 0.9  # one label for all the images


def test_images_are_accepted_as_uint8_arrays_or_float_tensors(classifier, val):
    as_uint8 = (val.images[:, 0] * 255).round().to(torch.uint8).numpy()
    from_uint8 = classifier_features(as_uint8, classifier=classifier)
    from_floats = classifier_features(val.images, classifier=classifier)
    assert from_uint8.shape == (500, 128) and np.allclose(from_uint8, from_floats, atol=1e-3)
    with pytest.raises(MultigenError, match="28, 28"):
        classifier_features(np.zeros((4, 32, 32), dtype=np.uint8), classifier=classifier)
    with pytest.raises(MultigenError, match="labels"):
        conditional_accuracy(val.images, val.labels[:10], classifier=classifier)


def test_vae_negative_elbo_is_its_reconstruction_plus_kl_in_nats_and_seeded(val):
    torch.manual_seed(0)
    model = build_model("cvae", TINY["cvae"]).eval()
    first = vae_negative_elbo(model, val, seed=3)
    assert first["negative_elbo"] == pytest.approx(first["reconstruction"] + first["kl"])
    assert first["reconstruction"] > 100 and first["kl"] >= 0  # an untrained decoder: hundreds of nats per image
    assert vae_negative_elbo(model, val, seed=3) == first
    assert vae_negative_elbo(model, val, samples=2, seed=3)["kl"] == pytest.approx(first["kl"])
    with pytest.raises(MultigenError, match="VAE"):
        vae_negative_elbo(build_model("gan", TINY["gan"]), val)


@pytest.mark.parametrize("kind", ["vae", "cvae", "gan", "cgan"])
def test_evaluate_reports_the_figures_of_each_kind_beside_their_real_data_references(tmp_path, classifier, kind):
    path = tiny_checkpoint(tmp_path, kind)
    result = evaluate(path, samples=100, seed=1, device="cpu", classifier=classifier)
    json.dumps(result)
    assert result["kind"] == kind and result["samples"] == 100 and result["seed"] == 1
    assert result["fid"] > result["fid_floor"] > 0  # an untrained model is far from real digits
    assert 1 <= result["inception_score"] < result["inception_score_real"] <= 10
    assert ("conditional_accuracy" in result) == (kind in ("cvae", "cgan"))
    assert ("negative_elbo" in result and "kl" in result) == (kind in ("vae", "cvae"))
    assert result["perceptual_samples"] == 100 and 0 <= result["diversity"] and 0 < result["diversity_real"] < 2
    assert 0.01 <= result["memorisation_real"] <= 0.12 and 0 <= result["memorisation"] <= 1
    assert ("reconstruction_perceptual" in result and "reconstruction_bce" in result) == (kind in ("vae", "cvae"))
    again = evaluate(load_checkpoint(path), samples=100, seed=1, classifier=classifier)
    assert {k: v for k, v in again.items() if k != "seconds"} == {k: v for k, v in result.items() if k != "seconds"}


def test_evaluate_compares_diversity_with_real_digits_grouped_the_same_way(tmp_path, classifier, val):
    from multigen.evaluation.perceptual import perceptual_diversity

    per_digit = round(perceptual_diversity(val.images, val.labels, classifier=classifier), 4)
    for kind in ("cgan", "gan"):
        result = evaluate(tiny_checkpoint(tmp_path, kind), samples=20, device="cpu", classifier=classifier)
        assert (result["diversity_real"] == per_digit) == (kind == "cgan")  # per digit for conditional models
    lean = evaluate(tiny_checkpoint(tmp_path, "vae"), samples=20, device="cpu", classifier=classifier, perceptual=False)
    assert not {"diversity", "memorisation", "reconstruction_perceptual"} & lean.keys() and "negative_elbo" in lean
    other = tiny_checkpoint(tmp_path, "gan", dataset="mnist")  # trained elsewhere: no copy check against mnist-5k
    assert "memorisation" not in evaluate(other, samples=20, device="cpu", classifier=classifier)


def test_evaluate_refuses_models_of_other_data_sets_and_too_few_samples(tmp_path, classifier):
    path = tiny_checkpoint(tmp_path, "gan", dataset="fashion-mnist")
    with pytest.raises(MultigenError, match="digits"):
        evaluate(path, classifier=classifier)
    with pytest.raises(MultigenError, match="samples"):
        evaluate(tiny_checkpoint(tmp_path, "vae"), samples=5, classifier=classifier)


def test_load_classifier_says_how_to_make_one_when_the_file_is_missing_or_not_a_classifier(tmp_path):
    with pytest.raises(MultigenError, match="train-classifier"):
        load_classifier(tmp_path / "missing.safetensors")
    with pytest.raises(MultigenError, match="train-classifier"):
        load_classifier(tiny_checkpoint(tmp_path, "vae"))
    assert load_classifier(device="cpu") is load_classifier(DEFAULT_CLASSIFIER, device="cpu")  # loaded once


def test_eval_command_prints_one_json_object_or_a_table(tmp_path, capsys):
    path = tiny_checkpoint(tmp_path, "cgan")
    assert main(["eval", path, "--samples", "50", "--seed", "2", "--device", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["kind"] == "cgan" and result["samples"] == 50 and "conditional_accuracy" in result
    assert main(["eval", path, "--samples", "50", "--format", "table", "--device", "cpu"]) == 0
    rows = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert rows["kind"] == "cgan" and float(rows["fid_floor"]) > 0
    assert main(["eval", str(tmp_path / "missing.safetensors")]) == 2


def test_train_classifier_command_writes_a_classifier_the_metrics_accept(tmp_path, capsys, val):
    out = tmp_path / "classifier.safetensors"
    assert main(["train-classifier", "--epochs", "1", "--batch-size", "500", "--device", "cpu", "--quiet",
                 "--out", str(out)]) == 0
    assert "validation accuracy" in capsys.readouterr().out
    metadata = read_metadata(out)
    assert metadata["kind"] == "classifier" and metadata["training"]["model"] == "classifier" and metadata["training"]["epochs"] == 1
    assert classifier_features(val.images[:20], classifier=load_classifier(out, device="cpu")).shape == (20, 128)


def test_the_generative_training_command_does_not_offer_the_classifier(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_status:
        main(["train", "--model", "classifier", "--device", "cpu", "--quiet", "--out", str(tmp_path / "c.safetensors")])
    assert exit_status.value.code == 2 and "invalid choice" in capsys.readouterr().err


# -- a VAE's reconstructions ------------------------------------------------------------------------
SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints"


@pytest.fixture(scope="module")
def digits():
    return subset(load_dataset("mnist-5k", "val"), 100)


def tiny(kind: str, latent_dim: int):
    torch.manual_seed(0)
    return build_model(kind, {"latent_dim": latent_dim, **TINY[kind]}).eval()


def test_reconstruction_quality_is_the_perceptual_distance_and_pixel_bce_of_each_reconstruction(digits):
    from multigen.evaluation.perceptual import perceptual_distance

    model, classifier = tiny("cvae", 4), load_classifier(device="cpu")
    originals, labels = to_uint8(digits.images[:6]), digits.labels[:6].numpy()
    quality = reconstruction_quality(model, originals, labels, classifier=classifier, batch_size=4)
    assert quality.perceptual.shape == quality.bce.shape == (6,)
    x = torch.from_numpy(originals.astype(np.float32) / 255).unsqueeze(1)
    with torch.no_grad():
        mu, _ = model.encode(x, torch.from_numpy(labels))
        logits = model.decode_logits(mu, torch.from_numpy(labels))
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3)).numpy()
    assert np.allclose(quality.bce, bce, rtol=1e-5)
    assert np.allclose(quality.perceptual, perceptual_distance(x, torch.sigmoid(logits), classifier=classifier))
    one = reconstruction_quality(model, originals[2], int(labels[2]), classifier=classifier)  # one (28, 28) digit
    assert one.perceptual[0] == pytest.approx(quality.perceptual[2], abs=1e-6)
    with pytest.raises(MultigenError, match="label"):
        reconstruction_quality(model, originals, classifier=classifier)


@pytest.mark.skipif(not (SHIPPED / "vae-16.safetensors").exists(), reason="no shipped checkpoints")
def test_a_16d_vae_reconstructs_digits_closer_than_a_2d_one_and_both_beat_an_untrained_one(digits):
    from multigen.checkpoints import load_checkpoint

    originals = to_uint8(digits.images)
    means = [reconstruction_quality(model, originals).perceptual.mean() for model in (
        load_checkpoint(SHIPPED / "vae-16.safetensors", device="cpu").model,
        load_checkpoint(SHIPPED / "vae-2.safetensors", device="cpu").model, tiny("vae", 16))]
    assert means == sorted(means) and means[0] < 0.5 * means[1]
