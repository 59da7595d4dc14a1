"""examples/fid.py: the metrics of a .npy, an image folder, a statistics file; one-line errors."""
import importlib.util
from pathlib import Path

import numpy
import pytest
from PIL import Image
from threadpoolctl import threadpool_limits

import minigan
from minigan.metrics import (InceptionV3, fid_inception_v3, frechet_distance, inception_outputs, inception_score,
                             kernel_inception_distance, save_statistics)
from minigan.metrics import inception

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fid.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("fid_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """minigan's randomly initialised Inception, saved as a weight file."""
    path = tmp_path_factory.mktemp("weights") / "inception.pth"
    minigan.save(InceptionV3().state_dict(), path)
    return path


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    """(a .npy of four [-1, 1] samples, a folder of four PNGs), resized to 75x75 instead of 299 (fast)."""
    monkeypatch.setattr(inception, "INPUT_SIZE", 75)
    rng = numpy.random.default_rng(9)
    samples = tmp_path / "samples.npy"
    numpy.save(samples, rng.uniform(-1, 1, (4, 3, 16, 16)).astype(numpy.float32))
    folder = tmp_path / "real" / "class"
    folder.mkdir(parents=True)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=numpy.uint8)).save(folder / f"{i}.png")
    return samples, folder.parent


def test_fid_is_and_kid_of_a_npy_against_an_image_folder(example, weights, inputs, capsys):
    samples, folder = inputs
    assert example.main([str(samples), str(folder), "--weights", str(weights), "--is-splits", "2",
                         "--kid-subsets", "3", "--kid-subset-size", "2", "--batch-size", "3"]) == 0
    printed = capsys.readouterr().out.splitlines()
    model = fid_inception_v3(weights)
    ours = inception_outputs((numpy.load(samples) + 1) / 2, model)
    real = inception_outputs(numpy.stack([numpy.asarray(Image.open(folder / "class" / f"{i}.png")).transpose(2, 0, 1)
                                          for i in range(4)]), model)[0]
    fid = frechet_distance(ours[0], real)
    is_mean, is_std = inception_score(ours[1], splits=2)
    kid_mean, kid_std = kernel_inception_distance(ours[0], real, subsets=3, subset_size=2)
    assert printed == [f"FID: {fid:.4f}", f"IS: {is_mean:.4f} +- {is_std:.4f}", f"KID: {kid_mean:.6f} +- {kid_std:.6f}"]


@pytest.fixture
def one_blas_thread():
    """The 2048 x 2048 factorizations on one BLAS thread: pytest-xdist runs a worker per core, and
    OpenBLAS's threads on an oversubscribed machine take several times longer than one alone."""
    with threadpool_limits(1, user_api="blas"):
        yield


@pytest.mark.usefixtures("one_blas_thread")
def test_fid_against_a_statistics_file(example, weights, inputs, tmp_path, capsys):
    samples, _ = inputs
    mu, sigma = numpy.zeros(2048), numpy.eye(2048)
    stats = tmp_path / "stats.npz"
    save_statistics(stats, mu, sigma)
    assert example.main([str(samples), str(stats), "--weights", str(weights), "--metrics", "fid"]) == 0
    features = inception_outputs((numpy.load(samples) + 1) / 2, fid_inception_v3(weights))[0]
    # Against mu = 0, sigma = I: |m|^2 + Tr(S) + D - 2 Tr(S^(1/2)), S's nonzero eigenvalues from the 4 x 4 Gram matrix.
    centered = features - features.mean(axis=0)
    gram = numpy.linalg.eigvalsh(centered @ centered.T / 3)
    expected = (features.mean(axis=0) @ features.mean(axis=0) + gram.sum() + 2048
                - 2 * numpy.sqrt(numpy.clip(gram, 0, None)).sum())
    assert capsys.readouterr().out == f"FID: {expected:.4f}\n"
    assert example.main([str(samples), str(stats), "--weights", str(weights), "--metrics", "kid"]) == 2
    assert capsys.readouterr().err == (f"error: {stats} gives only FID statistics; IS and KID need images "
                                       f"(use --metrics fid)\n")


def test_missing_weights_are_one_line_without_a_traceback(example, tmp_path, capsys):
    missing = tmp_path / "nowhere.pth"
    assert example.main([str(tmp_path), "--metrics", "is", "--weights", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"error: the Inception weights are not at {missing}: download them once with `curl")


@pytest.mark.parametrize("make, message", [
    (lambda d: numpy.save(d / "x.npy", numpy.full((2, 3, 8, 8), 3.0)), "expected uint8 images or floats in [-1, 1]"),
    (lambda d: numpy.save(d / "x.npy", numpy.zeros((2, 8, 8))), "expected images (N, C, H, W) with C 1 or 3"),
])
def test_bad_samples_are_one_line_errors(example, weights, tmp_path, capsys, make, message):
    make(tmp_path)
    assert example.main([str(tmp_path / "x.npy"), "--metrics", "is", "--weights", str(weights)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and str(tmp_path / "x.npy") in err
