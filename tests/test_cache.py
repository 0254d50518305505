"""Disk caches keyed by a checkpoint's weights (multigen.cache): a hit computes nothing, a miss computes once and keeps
the result, a damaged file is made again, a changed checkpoint gets new entries; background jobs and the warm-up
run beside the caller without blocking it."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from multigen import cache
from multigen.checkpoints import Checkpoint, load_checkpoint, save_checkpoint, store_directions, store_prior
from multigen.checkpoints.format import read_header
from multigen.errors import MultigenError
from multigen.explore import latent, noise
from multigen.models import build_model

TINY = {"vae": {"latent_dim": 2, "hidden_channels": 4, "hidden_features": 8}, "gan": {"noise_dim": 8}}


def tiny_checkpoint(path, kind="vae", seed=0, **metadata):
    torch.manual_seed(seed)
    save_checkpoint(path, build_model(kind, TINY[kind]).eval(), metadata={"dataset": "mnist-5k", "epoch": 1, **metadata})
    return load_checkpoint(path)


def digits(n):
    """The digits ``encodings`` encodes: the seeded sample of n validation digits."""
    from multigen.data import load_dataset, subset

    return subset(load_dataset("mnist-5k", "val"), n)


def refuse(*_, **__):
    raise AssertionError("computed, but the cache should have answered")


@pytest.fixture
def vae(tmp_path):
    return tiny_checkpoint(tmp_path / "vae.safetensors")


def test_the_sha256_of_a_checkpoint_is_its_headers_and_changes_with_its_weights(tmp_path):
    path = tmp_path / "model.safetensors"
    tiny_checkpoint(path, seed=0)
    first = cache.checkpoint_sha256(path)
    assert first == read_header(path)[2] and len(first) == 64
    tiny_checkpoint(path, seed=1)  # retrained in place
    assert cache.checkpoint_sha256(path) != first


def test_the_weights_checksum_stays_when_directions_or_a_prior_are_stored_and_changes_with_the_weights(tmp_path):
    from multigen.models.prior import fit_prior

    path = tmp_path / "model.safetensors"
    vae = tiny_checkpoint(path, seed=0)
    weights = cache.weights_sha256(path)
    assert weights == read_header(path)[2] == cache.weights_sha256(path, with_prior=True)  # weights alone: the header's
    prior = fit_prior(vae.model, digits(60), components=2, seed=0)
    content = cache.checkpoint_sha256(path)
    store_prior(path, prior)
    assert cache.checkpoint_sha256(path) != content  # the file's content changed ...
    assert cache.weights_sha256(path) == weights  # ... its weights did not
    with_prior = cache.weights_sha256(path, with_prior=True)
    assert with_prior != weights  # what samples from the prior is measured again
    # A run's checkpoint (optimizer state, random states) and the weights exported from it share the weights' key.
    run = tmp_path / "run.safetensors"
    torch.manual_seed(0)
    model = build_model("vae", TINY["vae"]).eval()
    save_checkpoint(run, model, optimizers={"adam": torch.optim.Adam(model.parameters())},
                    extra={"rng/torch": torch.get_rng_state()}, metadata={"dataset": "mnist-5k"})
    assert cache.weights_sha256(run) == weights != read_header(run)[2]
    tiny_checkpoint(path, seed=1)  # retrained in place
    assert cache.weights_sha256(path) != weights


def test_storing_a_prior_keeps_the_map_s_encodings(vae, tmp_path, monkeypatch):
    from multigen.models.prior import fit_prior

    folder = tmp_path / "cache"
    codes = cache.encodings(vae, "mnist-5k", "val", 40, cache_dir=folder)
    store_prior(vae.path, fit_prior(vae.model, digits(60), components=2, seed=0))
    again = load_checkpoint(vae.path)
    monkeypatch.setattr(cache, "encode_dataset", refuse)
    assert np.array_equal(cache.encodings(again, "mnist-5k", "val", 40, cache_dir=folder).mu, codes.mu)


def test_encodings_are_computed_once_then_read_from_disk(vae, tmp_path, monkeypatch):
    codes = cache.encodings(vae, "mnist-5k", "val", 50, cache_dir=tmp_path / "cache")
    files = list((tmp_path / "cache" / "encodings").glob("*.npz"))
    assert len(files) == 1 and len(codes) == 50 and codes.mu.shape == (50, 2)
    monkeypatch.setattr(cache, "encode_dataset", refuse)
    again = cache.encodings(vae, "mnist-5k", "val", 50, cache_dir=tmp_path / "cache")
    for name in ("mu", "logvar", "labels", "images"):
        assert np.array_equal(getattr(again, name), getattr(codes, name))
    assert np.array_equal(again.mu, latent.encode_dataset(vae.model, digits(50)).mu)


def test_other_settings_or_a_changed_checkpoint_miss_the_cache(vae, tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    cache.encodings(vae, "mnist-5k", "val", 50, cache_dir=folder)
    cache.encodings(vae, "mnist-5k", "val", 60, cache_dir=folder)  # another number of points
    assert len(list((folder / "encodings").glob("*.npz"))) == 2
    retrained = tiny_checkpoint(vae.path, seed=1)  # same path, other weights
    codes = cache.encodings(retrained, "mnist-5k", "val", 50, cache_dir=folder)
    assert len(list((folder / "encodings").glob("*.npz"))) == 3
    assert np.array_equal(codes.mu, latent.encode_dataset(retrained.model, digits(50)).mu)


def test_once_the_whole_split_is_kept_every_size_is_cut_from_it_without_encoding(vae, tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    whole = cache.encodings(vae, "mnist-5k", "val", None, cache_dir=folder)  # what the warm-up makes
    assert len(whole) == 500 and len(list((folder / "encodings").glob("*.npz"))) == 1
    monkeypatch.setattr(cache, "encode_dataset", refuse)
    for n in (37, 200, 500, 10_000):
        codes = cache.encodings(vae, "mnist-5k", "val", n, cache_dir=folder)
        expected = digits(n)  # the same digits as encoding that sample alone, in the same order
        assert np.array_equal(codes.labels, expected.labels.numpy())
        assert np.array_equal(codes.images, latent.to_uint8(expected.images))
        np.testing.assert_allclose(codes.mu, latent.encode_dataset(vae.model, expected).mu, atol=1e-5)
    assert len(list((folder / "encodings").glob("*.npz"))) == 1  # nothing else was written


def test_asking_for_the_whole_split_by_its_size_keeps_it_as_the_whole_split(vae, tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    cache.encodings(vae, "mnist-5k", "val", 500, cache_dir=folder)  # the slider's "all 500"
    monkeypatch.setattr(cache, "encode_dataset", refuse)
    assert len(cache.encodings(vae, "mnist-5k", "val", 40, cache_dir=folder)) == 40


def test_downloaded_data_sets_in_two_folders_do_not_share_encodings(tmp_path, small_mnist, monkeypatch):
    """A data folder with other digits under the same name (say, Fashion-MNIST files put under mnist/) gets its own map."""
    from multigen.data import write_idx

    vae = tiny_checkpoint(tmp_path / "vae.safetensors", dataset="mnist")
    other = tmp_path / "other-data" / "MNIST" / "raw"
    other.mkdir(parents=True)
    for prefix in ("train", "t10k"):
        write_idx(other / f"{prefix}-images-idx3-ubyte", np.full((20, 28, 28), 255, np.uint8))
        write_idx(other / f"{prefix}-labels-idx1-ubyte", np.arange(20, dtype=np.uint8) % 10)
    folder = tmp_path / "cache"
    monkeypatch.setenv("MULTIGEN_DATA", small_mnist["data_dir"])
    first = cache.encodings(vae, "mnist", "val", 20, cache_dir=folder)
    monkeypatch.setenv("MULTIGEN_DATA", str(other.parents[1]))
    second = cache.encodings(vae, "mnist", "val", 20, cache_dir=folder)
    assert len(list((folder / "encodings").glob("*.npz"))) == 2
    assert not np.array_equal(first.images, second.images) and (second.images == 255).all()


@pytest.mark.parametrize("damage", [b"", b"not a zip file", "truncated"])
def test_a_damaged_cache_file_is_ignored_and_made_again(vae, tmp_path, damage, caplog):
    folder = tmp_path / "cache"
    codes = cache.encodings(vae, "mnist-5k", "val", 50, cache_dir=folder)
    (file,) = (folder / "encodings").glob("*.npz")
    file.write_bytes(file.read_bytes()[:100] if damage == "truncated" else damage)
    with caplog.at_level(logging.WARNING, logger="multigen.cache"):
        again = cache.encodings(vae, "mnist-5k", "val", 50, cache_dir=folder)
    assert np.array_equal(again.mu, codes.mu) and caplog.text.count("Ignoring unreadable cache file") == 1
    assert np.array_equal(np.load(file)["mu"], codes.mu)  # written again, whole


def test_a_cache_file_of_another_shape_is_made_again(tmp_path, caplog):
    gan = tiny_checkpoint(tmp_path / "gan.safetensors", kind="gan")
    folder = tmp_path / "cache"
    directions = cache.gan_directions(gan, 3, cache_dir=folder)
    assert directions.shape == (3, 8) and np.array_equal(directions, noise.slider_directions(gan.model, 3))
    (file,) = (folder / "directions").glob("*.npy")
    np.save(file, np.zeros((2, 8), np.float32))
    with caplog.at_level(logging.WARNING, logger="multigen.cache"):
        assert np.array_equal(cache.gan_directions(gan, 3, cache_dir=folder), directions)
    assert "expected finite float32 (3, 8)" in caplog.text


def test_directions_stored_in_the_checkpoint_are_read_not_measured_unless_of_another_shape_or_measurement(
        tmp_path, caplog, monkeypatch):
    gan = tiny_checkpoint(tmp_path / "gan.safetensors", kind="gan")
    stored = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    measured = []
    monkeypatch.setattr(noise, "slider_directions", lambda model, k: measured.append(k) or np.ones((k, 8), np.float32))
    folder = tmp_path / "cache"
    now = cache.directions_measurement()
    assert now == {"version": cache.DIRECTIONS_VERSION, "classifier": cache.classifier_checksum()} and now["classifier"] != "none"
    with_them = load_checkpoint(store_directions(gan.path, {"gan": stored}, measurement=now))
    assert np.array_equal(cache.gan_directions(with_them, 3, cache_dir=folder), stored)
    assert measured == [] and not folder.exists()  # nothing computed, nothing kept
    assert np.array_equal(cache.gan_directions(with_them, 2, cache_dir=folder), np.ones((2, 8)))  # other count: measured
    # An older measurement, or lengths set by another classifier: measured again, each said once in the log.
    for other in ({**now, "version": now["version"] - 1}, {**now, "classifier": "another"}):
        old = load_checkpoint(store_directions(gan.path, {"gan": stored}, measurement=other))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="multigen.cache"):
            for _ in range(2):
                assert np.array_equal(cache.gan_directions(old, 3, cache_dir=folder), np.ones((3, 8)))
        assert caplog.text.count("Measuring the gan slider directions") == 1, caplog.text
        assert f"multigen calibrate-sliders {gan.path}" in caplog.text
    assert f"'version': {now['version'] - 1}" not in caplog.text and "'classifier': 'another'" in caplog.text
    assert measured == [2, 3]  # the same weights: the (3, 8) measured once is kept in the folder and read after


def test_a_damaged_description_of_stored_directions_is_as_if_they_were_not_there(tmp_path, monkeypatch):
    """A hostile header (its "directions" a list, not a mapping) gets its directions measured, not a traceback."""
    gan = tiny_checkpoint(tmp_path / "gan.safetensors", kind="gan")
    path = store_directions(gan.path, {"gan": np.zeros((3, 8), np.float32)}, measurement=cache.directions_measurement())
    checkpoint = load_checkpoint(path)
    checkpoint.metadata["directions"] = ["gan"]
    monkeypatch.setattr(noise, "slider_directions", lambda model, k: np.ones((k, 8), np.float32))
    assert np.array_equal(cache.gan_directions(checkpoint, 3, cache_dir=None), np.ones((3, 8)))


def test_measure_directions_gives_each_page_s_directions_of_a_model(monkeypatch):
    from multigen.explore import handwriting, legibility

    torch.manual_seed(0)
    cgan = Checkpoint(path=Path("cgan.safetensors"), model=build_model("cgan", {"noise_dim": 4}).eval(),
                      metadata={"kind": "cgan"})
    with pytest.raises(MultigenError, match="too few to measure the sliders by"):  # untrained: not stored as measured
        cache.measure_directions(cgan)
    monkeypatch.setattr(legibility, "slider_scales", lambda model, directions, *_, **__: np.full(len(directions), 0.5))
    found = cache.measure_directions(cgan)
    assert set(found) == {"gan", "style"}
    assert np.array_equal(found["gan"], noise.slider_directions(cgan.model, 4))  # PAGE_SLIDERS, at most the noise size
    assert np.array_equal(found["style"], handwriting.style_directions(cgan.model))
    vae = Checkpoint(path=Path("vae.safetensors"), model=build_model("vae", TINY["vae"]).eval(), metadata={"kind": "vae"})
    with pytest.raises(MultigenError, match="A vae has no sliders to calibrate"):
        cache.measure_directions(vae)


def test_writes_are_atomic_and_leave_no_temporary_files(vae, tmp_path):
    folder = tmp_path / "cache"
    cache.encodings(vae, "mnist-5k", "val", 20, cache_dir=folder)
    assert [path.name for path in (folder / "encodings").iterdir() if not path.name.endswith(".npz")] == []


def test_threads_asking_for_the_same_entry_at_once_share_one_computation(vae, tmp_path, monkeypatch):
    calls = []

    def slow_encode(model, dataset):
        calls.append(1)
        time.sleep(0.3)
        return latent.encode_dataset(model, dataset)

    monkeypatch.setattr(cache, "encode_dataset", slow_encode)
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        cache.encodings(vae, "mnist-5k", "val", 30, cache_dir=tmp_path / "cache"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(results) == 4
    assert all(np.array_equal(result.mu, results[0].mu) for result in results)


def test_an_evaluation_is_kept_per_checkpoint_and_settings(vae, tmp_path, monkeypatch):
    import multigen.evaluation

    measured = []

    def fake_evaluate(path, *, samples, seed, device, prior=None):
        measured.append(samples if prior is None else (samples, prior))
        return {"kind": "vae", "fid": 12.5, "samples": samples}

    monkeypatch.setattr(multigen.evaluation, "evaluate", fake_evaluate)
    folder = tmp_path / "cache"
    assert cache.known_evaluation(vae.path, samples=100, cache_dir=folder) == ({}, False)
    assert cache.evaluation(vae.path, samples=100, cache_dir=folder)["fid"] == 12.5
    assert cache.evaluation(vae.path, samples=100, cache_dir=folder)["fid"] == 12.5
    assert cache.known_evaluation(vae.path, samples=100, cache_dir=folder) == ({"kind": "vae", "fid": 12.5, "samples": 100}, True)
    assert cache.known_evaluation(vae.path, samples=200, cache_dir=folder)[1] is False  # other settings: not known
    assert cache.known_evaluation(vae.path, samples=100, prior="standard", cache_dir=folder)[1] is False  # nor prior
    cache.evaluation(vae.path, samples=100, prior="standard", cache_dir=folder)
    assert measured == [100, (100, "standard")]
    (folder / "evaluations" / f"{cache.evaluation_key(vae.path, samples=100, prior='standard')}.json").unlink()
    (file,) = (folder / "evaluations").glob("*.json")
    file.write_text("{ half a docu")  # damaged: not known, measured again
    assert cache.known_evaluation(vae.path, samples=100, cache_dir=folder)[1] is False
    cache.evaluation(vae.path, samples=100, cache_dir=folder)
    assert measured == [100, (100, "standard"), 100] and json.loads(file.read_text())["fid"] == 12.5


def test_an_evaluation_outlives_stored_directions_but_not_a_newly_fitted_prior(vae, tmp_path, monkeypatch):
    import multigen.evaluation
    from multigen.models.prior import fit_prior

    monkeypatch.setattr(multigen.evaluation, "evaluate", lambda path, **_: {"kind": "gan", "fid": 3.0})
    folder = tmp_path / "cache"
    gan = tiny_checkpoint(tmp_path / "gan.safetensors", kind="gan")
    cache.evaluation(gan.path, samples=100, cache_dir=folder)
    store_directions(gan.path, {"gan": np.zeros((3, 8), np.float32)}, measurement=cache.directions_measurement())
    assert cache.known_evaluation(gan.path, samples=100, cache_dir=folder) == ({"kind": "gan", "fid": 3.0}, True)
    cache.evaluation(vae.path, samples=100, cache_dir=folder)
    cache.evaluation(vae.path, samples=100, prior="standard", cache_dir=folder)
    store_prior(vae.path, fit_prior(vae.model, digits(60), components=2, seed=0))
    assert cache.known_evaluation(vae.path, samples=100, cache_dir=folder)[1] is False  # samples from the prior now
    assert cache.known_evaluation(vae.path, samples=100, prior="standard", cache_dir=folder)[1] is True  # N(0, I)


def test_the_figures_a_training_run_recorded_are_known_without_measuring(tmp_path):
    history = [{"epoch": 1, "loss": 3.0, "fid": 40.0, "inception_score": 7.5, "negative_elbo": 120.0}]
    path = tmp_path / "run.safetensors"
    info = tiny_checkpoint(path, history=history, training={"eval_samples": 1000})
    figures, complete = cache.known_evaluation(path, samples=1000, metadata=info.metadata, cache_dir=tmp_path / "cache")
    assert figures == {"fid": 40.0, "inception_score": 7.5, "negative_elbo": 120.0} and complete is False
    assert cache.known_evaluation(path, samples=5000, metadata=info.metadata, cache_dir=None) == ({}, False)


def test_background_jobs_return_at_once_and_run_each_key_once():
    jobs = cache.BackgroundJobs("test-jobs")
    release, runs = threading.Event(), []

    def slow():
        runs.append(1)
        assert release.wait(10)
        return 42

    started = time.monotonic()
    assert jobs.request("a", slow).state in ("queued", "running")
    assert jobs.request("b", lambda: 1 / 0).state == "queued"  # behind "a"
    assert jobs.request("a", slow).state in ("queued", "running")  # asked again: the same job
    assert time.monotonic() - started < 5 and jobs.status("never") is None  # not the 10 s a blocking call would wait
    assert not jobs.wait(timeout=0.2)
    release.set()
    assert jobs.wait(timeout=10)
    assert jobs.status("a").result == 42 and runs == [1]
    failed = jobs.status("b")
    assert failed.state == "failed" and failed.error == "ZeroDivisionError: division by zero"


def test_the_warm_up_waits_before_making_each_task_and_skips_failures(caplog):
    order = []

    def fail():
        raise RuntimeError("no\ncheckpoint")

    def tasks():  # a generator's own work (the app's imports its libraries first) comes after the wait too
        order.append("imports")
        yield "one", lambda: order.append("one")
        yield "broken", fail
        order.append("listing")
        yield "two", lambda: order.append("two")

    with caplog.at_level(logging.WARNING, logger="multigen.cache"):
        done = cache.warm_up(tasks(), wait=lambda: order.append("wait"))
    assert done == 2 and order == ["wait", "imports", "one", "wait", "wait", "listing", "two", "wait"]
    assert "Warm-up: broken failed: RuntimeError: no checkpoint" in caplog.text
