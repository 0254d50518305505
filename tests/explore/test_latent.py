"""The VAE latent space: encoding a data set, projecting it, clicking back, background t-SNE, walks."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.decomposition import PCA

from multigen import latent
from multigen.data import load_dataset, subset
from multigen.errors import MultigenError
from multigen.images import to_uint8
from multigen.latent import (
    LatentCodes,
    ProjectionJobs,
    decode,
    encode_dataset,
    interpolate,
    manifold_grid,
    project,
    projection_key,
    reconstruct,
    reconstruction_quality,
)
from multigen.models import build_model

TINY_VAE = {"hidden_channels": 4, "hidden_features": 16}
SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints"


def tiny(kind: str, latent_dim: int = 2):
    torch.manual_seed(0)
    return build_model(kind, {"latent_dim": latent_dim, **TINY_VAE}).eval()


@pytest.fixture(scope="module")
def digits():
    return subset(load_dataset("mnist-5k", "val"), 100)


@pytest.fixture(scope="module")
def codes4(digits) -> LatentCodes:
    return encode_dataset(tiny("vae", 4), digits)


# -- encode, decode, reconstruct ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["vae", "cvae"])
def test_encode_dataset_keeps_rows_aligned_with_labels_and_images(digits, kind):
    model = tiny(kind, 3)
    codes = encode_dataset(model, digits, batch_size=7)  # batches that do not divide 100
    assert codes.mu.shape == codes.logvar.shape == (100, 3) and codes.mu.dtype == np.float32
    assert np.array_equal(codes.labels, digits.labels.numpy()) and codes.labels.dtype == np.int64
    assert codes.images.shape == (100, 28, 28) and codes.images.dtype == np.uint8
    assert np.array_equal(codes.images, to_uint8(digits.images))
    for row in (0, 42, 99):  # each row's code is that row's image encoded on its own
        labels = digits.labels[row : row + 1] if model.conditional else None
        with torch.no_grad():
            mu, _ = model.encode(digits.images[row : row + 1], labels)
        np.testing.assert_allclose(codes.mu[row], mu[0].numpy(), atol=1e-5)


def test_decode_turns_one_or_many_latent_vectors_into_uint8_digits():
    model = tiny("vae", 2)
    assert decode(model, np.zeros(2)).shape == (1, 28, 28)
    images = decode(model, np.zeros((3, 2)))
    assert images.shape == (3, 28, 28) and images.dtype == np.uint8
    with pytest.raises(MultigenError, match="size"):
        decode(model, np.zeros(5))


def test_a_conditional_vae_decodes_only_with_a_label_and_the_label_changes_the_digit():
    model = tiny("cvae", 2)
    with pytest.raises(MultigenError, match="label"):
        decode(model, np.zeros(2))
    z = np.full((1, 2), 0.5, np.float32)
    assert not np.array_equal(decode(model, z, 1), decode(model, z, 7))
    assert decode(model, np.zeros((4, 2)), np.array([0, 1, 2, 3])).shape == (4, 28, 28)


def test_reconstruct_returns_the_decoded_posterior_mean_in_the_shape_it_was_given(digits):
    model = tiny("vae", 4)
    originals = to_uint8(digits.images[:5])
    out = reconstruct(model, originals)
    assert out.shape == (5, 28, 28) and out.dtype == np.uint8
    with torch.no_grad():
        mu, _ = model.encode(torch.from_numpy(originals.astype(np.float32) / 255).unsqueeze(1))
    assert np.array_equal(out, decode(model, mu.numpy()))
    assert reconstruct(model, originals[0]).shape == (28, 28)


def test_reconstruction_quality_is_the_perceptual_distance_and_pixel_bce_of_each_reconstruction(digits):
    from multigen.metrics import load_classifier
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


# -- projections ---------------------------------------------------------------------------------


def test_pca_inverse_of_projected_points_is_their_reconstruction_on_the_pca_plane(codes4):
    projection = project(codes4.mu, "pca")
    assert projection.points.shape == (100, 2) and projection.points.dtype == np.float32
    pca = PCA(2).fit(codes4.mu)
    expected = pca.inverse_transform(pca.transform(codes4.mu))
    back = projection.inverse(projection.points)
    assert back.shape == (100, 4) and back.dtype == np.float32
    np.testing.assert_allclose(back, expected, atol=1e-4)
    assert projection.inverse(projection.points[7]).shape == (1, 4)


def test_pca_inverse_is_exact_for_a_2d_latent(digits):
    mu = encode_dataset(tiny("vae", 2), digits).mu
    projection = project(mu, "pca")
    np.testing.assert_allclose(projection.inverse(projection.points), mu, atol=1e-5)


def test_raw_projection_shows_a_2d_latent_as_it_is_and_refuses_other_sizes(digits, codes4):
    mu = encode_dataset(tiny("vae", 2), digits).mu
    raw = project(mu, "raw")
    assert np.array_equal(raw.points, mu) and np.array_equal(raw.inverse(mu[:3]), mu[:3])
    with pytest.raises(MultigenError, match="pca or tsne"):
        project(codes4.mu, "raw")


def test_an_unknown_projection_method_is_refused_with_the_choices(codes4):
    with pytest.raises(MultigenError, match="pca, tsne, raw"):
        project(codes4.mu, "umap")


def test_tsne_is_seeded_and_clicking_a_point_returns_exactly_its_latent(codes4):
    projection = project(codes4.mu, "tsne", seed=1)
    assert projection.points.shape == (100, 2)
    assert np.array_equal(projection.points, project(codes4.mu, "tsne", seed=1).points)
    rows = [0, 13, 77]
    assert np.array_equal(projection.inverse(projection.points[rows]), codes4.mu[rows])
    # Between points, the result is a blend of nearby latents, so it stays inside their range.
    between = projection.inverse(projection.points[:2].mean(axis=0))
    assert between.shape == (1, 4)
    assert np.all(between >= codes4.mu.min(axis=0) - 1e-6) and np.all(between <= codes4.mu.max(axis=0) + 1e-6)


# -- background projections -----------------------------------------------------------------------


def test_projection_jobs_report_running_then_done_and_cache_the_result_on_disk(tmp_path, codes4):
    jobs = ProjectionJobs(tmp_path)
    key = projection_key("checkpoints/vae.safetensors", "abc", "val", 100, "tsne", 0, 30.0)
    first = jobs.request(key, codes4.mu, "tsne")
    assert first.state == "running" and first.projection is None and 0.0 <= first.fraction < 1.0
    done = jobs.wait(key, timeout=60)
    assert done.state == "done" and done.fraction == 1.0 and done.projection.points.shape == (100, 2)
    assert jobs.status(key).projection is done.projection  # kept in memory
    assert (tmp_path / f"{key}.npz").is_file()
    assert [path.name for path in tmp_path.iterdir()] == [f"{key}.npz"]  # no temporary file left behind

    # A new process (here: a new instance) finds it on disk without recomputing.
    fresh = ProjectionJobs(tmp_path).request(key, codes4.mu, "tsne")
    assert fresh.state == "done"
    assert np.array_equal(fresh.projection.points, done.projection.points)
    np.testing.assert_array_equal(fresh.projection.inverse(fresh.projection.points[:5]), codes4.mu[:5])
    assert ProjectionJobs(tmp_path).status(key).state == "done"


def test_projection_jobs_start_each_key_once_when_many_sessions_ask_at_once(tmp_path, codes4, monkeypatch):
    calls = []
    real_project = latent.project
    release = threading.Event()  # the job stays running until every session has asked

    def counting_project(*args, **kwargs):
        calls.append(threading.current_thread().name)
        release.wait(timeout=30)
        return real_project(*args, **kwargs)

    monkeypatch.setattr(latent, "project", counting_project)
    jobs = ProjectionJobs(tmp_path)
    barrier = threading.Barrier(8)
    states = []

    def ask():
        barrier.wait()
        states.append(jobs.request("pca-shared", codes4.mu, "pca").state)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    release.set()
    assert jobs.wait("pca-shared", timeout=30).state == "done"
    assert len(calls) == 1 and set(states) == {"running"}
    assert jobs.request("pca-shared", codes4.mu, "pca").state == "done" and len(calls) == 1


def test_a_failed_projection_job_reports_a_one_line_error(tmp_path, codes4):
    jobs = ProjectionJobs(tmp_path)
    jobs.request("raw-bad", codes4.mu, "raw")
    status = jobs.wait("raw-bad", timeout=30)
    assert status.state == "failed" and status.projection is None
    assert "pca or tsne" in status.error and "\n" not in status.error
    assert not (tmp_path / "raw-bad.npz").exists()


def test_projection_jobs_refuse_unknown_keys_and_keys_that_are_not_file_names(tmp_path, codes4):
    jobs = ProjectionJobs(tmp_path)
    with pytest.raises(MultigenError, match="request"):
        jobs.status("tsne-0000000000000000")
    with pytest.raises(MultigenError, match="projection_key"):
        jobs.request("../escape", codes4.mu, "pca")


def test_projection_key_is_short_stable_and_changes_with_every_input():
    args = ("checkpoints/vae.safetensors", "sha", "val", 1000, "tsne", 0, 30.0)
    key = projection_key(*args)
    assert key.startswith("tsne-") and len(key) == len("tsne-") + 16
    assert projection_key(*args) == key and projection_key(*args[:6], 30) == key
    changed = [(*args[:i], other, *args[i + 1 :]) for i, other in enumerate(("x", "sha2", "train", 500, "pca", 1, 5.0))]
    assert len({key, *(projection_key(*variant) for variant in changed)}) == 8
    assert projection_key(*args[:4], "pca", 0, 30.0).startswith("pca-")


# -- walks and grids --------------------------------------------------------------------------------


def test_interpolate_walks_a_straight_line_including_both_endpoints():
    z0, z1 = np.array([0.0, 1.0, -2.0]), np.array([4.0, 1.0, 2.0])
    path = interpolate(z0, z1, steps=5)
    assert path.shape == (5, 3) and path.dtype == np.float32
    assert np.array_equal(path[0], z0) and np.array_equal(path[-1], z1)
    np.testing.assert_allclose(path[2], (z0 + z1) / 2)
    with pytest.raises(MultigenError):
        interpolate(z0, z1, steps=1)


def test_manifold_grid_is_one_picture_with_the_highest_y_in_the_top_row():
    model = tiny("vae", 2)
    grid = manifold_grid(model, (-2.0, 2.0), (-1.0, 3.0), n=4)
    assert grid.shape == (4 * 28, 4 * 28) and grid.dtype == np.uint8
    top_left = decode(model, np.array([-2.0, 3.0]))[0]
    bottom_right = decode(model, np.array([2.0, -1.0]))[0]
    assert np.array_equal(grid[:28, :28], top_left) and np.array_equal(grid[-28:, -28:], bottom_right)
    with pytest.raises(MultigenError, match="latent_dim=2"):
        manifold_grid(tiny("vae", 4), (-1, 1), (-1, 1))


def test_manifold_grid_of_a_conditional_vae_draws_the_chosen_digit_label():
    model = tiny("cvae", 2)
    assert not np.array_equal(manifold_grid(model, (-1, 1), (-1, 1), n=3, labels=2),
                              manifold_grid(model, (-1, 1), (-1, 1), n=3, labels=8))
    with pytest.raises(MultigenError, match="label"):
        manifold_grid(model, (-1, 1), (-1, 1), n=3)
