"""2-D maps of a latent space: PCA, t-SNE and raw projections, clicking back, background t-SNE jobs."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from sklearn.decomposition import PCA

from multigen.errors import MultigenError
from multigen.explore import projection
from multigen.explore.latent import encode_dataset
from multigen.explore.projection import ProjectionJobs, project, projection_key

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


def test_pca_inverse_is_exact_for_a_2d_latent(digits, tiny_vae):
    mu = encode_dataset(tiny_vae("vae", 2), digits).mu
    projection = project(mu, "pca")
    np.testing.assert_allclose(projection.inverse(projection.points), mu, atol=1e-5)


def test_raw_projection_shows_a_2d_latent_as_it_is_and_refuses_other_sizes(digits, codes4, tiny_vae):
    mu = encode_dataset(tiny_vae("vae", 2), digits).mu
    raw = project(mu, "raw")
    assert np.array_equal(raw.points, mu) and np.array_equal(raw.inverse(mu[:3]), mu[:3])
    with pytest.raises(MultigenError, match="pca or tsne"):
        project(codes4.mu, "raw")


def test_an_unknown_projection_method_is_refused_with_the_choices(codes4):
    with pytest.raises(MultigenError, match="pca, tsne, raw"):
        project(codes4.mu, "umap")


@pytest.fixture(params=["scikit-learn", "openTSNE"])
def engine(request, monkeypatch):
    """Each t-SNE engine in turn (openTSNE where it is installed; .ci/run installs it)."""
    if request.param == "openTSNE":
        pytest.importorskip("openTSNE")
        monkeypatch.delenv("MULTIGEN_TSNE", raising=False)
    else:
        monkeypatch.setenv("MULTIGEN_TSNE", "sklearn")
    assert projection.tsne_engine() == request.param
    return request.param


def test_tsne_is_seeded_and_clicking_a_point_returns_exactly_its_latent(codes4, engine):
    projection = project(codes4.mu, "tsne", seed=1)
    assert projection.points.shape == (100, 2)
    assert np.array_equal(projection.points, project(codes4.mu, "tsne", seed=1).points)
    rows = [0, 13, 77]
    assert np.array_equal(projection.inverse(projection.points[rows]), codes4.mu[rows])
    # Between points, the result is a blend of nearby latents, so it stays inside their range.
    between = projection.inverse(projection.points[:2].mean(axis=0))
    assert between.shape == (1, 4)
    assert np.all(between >= codes4.mu.min(axis=0) - 1e-6) and np.all(between <= codes4.mu.max(axis=0) + 1e-6)


def test_the_tsne_engine_is_scikit_learn_without_opentsne_and_names_its_own_cache_entry(monkeypatch):
    monkeypatch.delenv("MULTIGEN_TSNE", raising=False)
    monkeypatch.setitem(__import__("sys").modules, "openTSNE", None)  # not installed: importing it fails
    assert projection.tsne_engine() == "scikit-learn"
    args = ("m.safetensors", "sha", "val", 100, "tsne", 0, 30.0)
    sklearn_key = projection_key(*args)
    monkeypatch.setattr(projection, "tsne_engine", lambda: "openTSNE")
    assert projection_key(*args) != sklearn_key  # another engine, another map
    assert projection_key(*args[:4], "pca", 0, 30.0) == projection_key(*args[:4], "pca", 0, 30.0)


@pytest.fixture
def opentsne(monkeypatch):
    """openTSNE as the engine (.ci/run installs it; scikit-learn's t-SNE neither reports nor stops)."""
    pytest.importorskip("openTSNE")
    monkeypatch.delenv("MULTIGEN_TSNE", raising=False)


def test_opentsne_reports_its_progress_and_stops_when_told(codes4, opentsne):
    seen = []
    project(codes4.mu, "tsne", progress=lambda fraction: seen.append(fraction) or True)
    assert seen == sorted(seen) and len(seen) >= 50 and seen[-1] == pytest.approx(1.0)
    with pytest.raises(projection.ProjectionCancelled):
        project(codes4.mu, "tsne", progress=lambda fraction: fraction < 0.1)


def test_a_running_opentsne_job_can_be_cancelled_and_asked_for_again(tmp_path, opentsne):
    mu = np.random.default_rng(0).normal(size=(3000, 8)).astype(np.float32)
    jobs = ProjectionJobs(tmp_path)
    key = projection_key("m.safetensors", "sha", "val", 3000, "tsne", 0, 30.0)
    assert jobs.request(key, mu, "tsne").state == "running"
    assert jobs.cancel(key)
    assert jobs.wait(key, timeout=60).state == "cancelled" and not list(tmp_path.glob("*.npz"))
    again = jobs.request(key, mu[:200], "tsne")  # asked again: it runs anew
    assert again.state == "running" and jobs.wait(key, timeout=60).state == "done"


def test_a_queued_job_can_be_cancelled_and_a_scikit_learn_one_finishes_in_the_background(tmp_path, codes4, monkeypatch):
    monkeypatch.setenv("MULTIGEN_TSNE", "sklearn")
    jobs = ProjectionJobs(tmp_path)
    keys = [projection_key("m.safetensors", "sha", "val", 100, "tsne", 0, p) for p in (5, 10)]
    assert jobs.request(keys[0], codes4.mu, "tsne", perplexity=5, group="g").state == "running"
    assert jobs.request(keys[1], codes4.mu, "tsne", perplexity=10, group="g").state == "queued"
    assert jobs.cancel(keys[1]) and jobs.status(keys[1]).state == "cancelled"
    assert not jobs.cancel(keys[0])  # scikit-learn cannot be stopped: it finishes, and is cached
    assert jobs.wait(keys[0], timeout=60).state == "done"


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
    real_project = projection.project
    release = threading.Event()  # the job stays running until every session has asked

    def counting_project(*args, **kwargs):
        calls.append(threading.current_thread().name)
        release.wait(timeout=30)
        return real_project(*args, **kwargs)

    monkeypatch.setattr(projection, "project", counting_project)
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




def test_t_sne_jobs_of_one_group_run_one_at_a_time_and_only_the_last_request_waits(tmp_path, codes4, monkeypatch):
    release = threading.Event()
    started = []
    real_project = projection.project

    def slow_project(mu, method, **kwargs):
        started.append(kwargs["perplexity"])
        release.wait(30)
        return real_project(mu, "pca")

    monkeypatch.setattr(projection, "project", slow_project)
    jobs = ProjectionJobs(tmp_path)
    keys = [projection_key("m.safetensors", "sha", "val", 100, "tsne", 0, p) for p in (5, 10, 15, 20)]
    assert jobs.request(keys[0], codes4.mu, "tsne", perplexity=5, group="m:val").state == "running"
    assert jobs.request(keys[1], codes4.mu, "tsne", perplexity=10, group="m:val").state == "queued"
    assert jobs.request(keys[2], codes4.mu, "tsne", perplexity=15, group="m:val").state == "queued"  # replaces it
    assert jobs.status(keys[1]).state == "cancelled" and jobs.status(keys[2]).state == "queued"
    other = projection_key("n.safetensors", "sha", "val", 100, "tsne", 0, 5)
    assert jobs.request(other, codes4.mu, "tsne", perplexity=5, group="n:val").state == "running"  # another group
    release.set()
    assert jobs.wait(keys[2], 60).state == "done"  # through the job it waited behind
    assert jobs.wait(other, 60).state == "done" and jobs.wait(keys[0], 60).state == "done"
    assert sorted(started) == [5, 5, 15]  # the cancelled setting never ran
    assert jobs.request(keys[1], codes4.mu, "tsne", perplexity=10, group="m:val").state == "running"  # asked again: runs


def test_a_fitted_priors_gaussians_land_on_the_pca_and_raw_maps_where_their_samples_do():
    import torch

    from multigen.explore.projection import place_gaussians
    from multigen.models.prior import MixturePrior, fit_mixture

    rng = np.random.default_rng(0)
    latents = np.concatenate([rng.normal(-2, 0.5, (300, 4)), rng.normal(2, 1.0, (300, 4))]).astype(np.float32)
    prior = fit_mixture(latents, components=2)
    pca = project(latents, "pca")
    centres, covariances = place_gaussians(pca, prior.means, prior.covariances)
    assert centres.shape == (2, 2) and covariances.shape == (2, 2, 2)
    for k in range(2):  # the samples of each component alone, placed on the map, have its centre and covariance
        alone = MixturePrior(torch.ones(1), prior.means[k : k + 1], prior.scale_tril[k : k + 1])
        placed = pca.place(alone.sample(20_000, generator=torch.Generator().manual_seed(k)).numpy())
        assert np.allclose(placed.mean(0), centres[k], atol=0.05)
        assert np.allclose(np.cov(placed, rowvar=False), covariances[k], atol=0.05)
    flat = fit_mixture(latents[:, :2], components=2)
    raw_centres, raw_covariances = place_gaussians(project(latents[:, :2], "raw"), flat.means, flat.covariances)
    assert np.allclose(raw_centres, flat.means.numpy(), atol=1e-6) and np.allclose(raw_covariances, flat.covariances.numpy(), atol=1e-6)
    with pytest.raises(MultigenError, match="Expected means"):
        place_gaussians(pca, flat.means, flat.covariances)
