"""FID, IS and KID against the float64 references (tests/metrics/references.py), and FID against
pytorch-fid's own formula (scipy's sqrtm) where scipy is installed."""
import numpy
import pytest

from minigan.metrics import (frechet_distance, frechet_distance_of_moments, inception_score,
                             kernel_inception_distance, statistics)

from .references import fid_reference, inception_score_reference, kid_reference


@pytest.fixture
def features():
    """Two feature sets of unequal spread and mean, correlated dimensions."""
    rng = numpy.random.default_rng(6)
    mixing = rng.standard_normal((12, 12))
    return rng.standard_normal((60, 12)) @ mixing, rng.standard_normal((50, 12)) @ mixing * 0.7 + 0.4


@pytest.mark.parametrize("n", [60, 5])  # more samples than dimensions, and fewer (singular covariances)
def test_fid_equals_the_reference(features, n):
    a, b = features[0][:n], features[1][:n]
    numpy.testing.assert_allclose(frechet_distance(a, b), fid_reference(a, b), rtol=1e-10)


def test_fid_of_singular_covariances_from_the_moments_equals_the_reference(features):
    """frechet_distance works in the samples' span when they are fewer than the dimensions; the
    moments (a cached .npz) are taken as they come, D x D."""
    a, b = features[0][:5], features[1][:4]
    numpy.testing.assert_allclose(frechet_distance_of_moments(*statistics(a), *statistics(b)), fid_reference(a, b),
                                  rtol=1e-10)


@pytest.mark.parametrize("singular", ["a", "b"])
def test_fid_of_one_singular_and_one_full_covariance_equals_the_reference(features, singular):
    """A few samples against full-rank statistics (a cached .npz): the full one is factored."""
    a, b = (features[0][:4], features[1]) if singular == "a" else (features[0], features[1][:4])
    numpy.testing.assert_allclose(frechet_distance_of_moments(*statistics(a), *statistics(b)), fid_reference(a, b),
                                  rtol=1e-10)


def test_fid_equals_pytorch_fids_formula_with_scipys_sqrtm(features):
    linalg = pytest.importorskip("scipy.linalg", reason="scipy (optional) computes pytorch-fid's own formula")
    (mu_a, sigma_a), (mu_b, sigma_b) = statistics(features[0]), statistics(features[1])
    covmean = linalg.sqrtm(sigma_a @ sigma_b).real
    expected = (mu_a - mu_b) @ (mu_a - mu_b) + numpy.trace(sigma_a) + numpy.trace(sigma_b) - 2 * numpy.trace(covmean)
    numpy.testing.assert_allclose(frechet_distance_of_moments(mu_a, sigma_a, mu_b, sigma_b), expected, rtol=1e-10)


def test_statistics_are_numpys_mean_and_cov_in_float64(features):
    mu, sigma = statistics(features[0].astype(numpy.float32))
    assert mu.dtype == sigma.dtype == numpy.float64
    centered = features[0].astype(numpy.float32).astype(numpy.float64)
    centered = centered - centered.mean(axis=0)
    numpy.testing.assert_allclose(sigma, centered.T @ centered / 59, rtol=1e-12)


def test_inception_score_equals_the_reference():
    logits = numpy.random.default_rng(7).standard_normal((23, 9)) * 3  # 23: chunks of unequal size
    numpy.testing.assert_allclose(inception_score(logits), inception_score_reference(logits), rtol=1e-12)


def test_inception_score_is_the_class_count_for_confident_uniform_predictions():
    logits = numpy.tile(numpy.eye(10) * 60, (10, 1))  # every class equally often, each one-hot
    mean, std = inception_score(logits, shuffle=False)
    numpy.testing.assert_allclose([mean, std], [10, 0], atol=1e-9)


def test_kid_equals_the_reference(features):
    got = kernel_inception_distance(*features, subsets=6, subset_size=20)
    numpy.testing.assert_allclose(got, kid_reference(*features, subsets=6, subset_size=20), rtol=1e-10)


def test_kid_of_one_distribution_with_itself_is_near_zero_and_below_a_shifted_one(features):
    rng = numpy.random.default_rng(8)
    same = kernel_inception_distance(rng.standard_normal((400, 8)), rng.standard_normal((400, 8)), 20, 100)[0]
    shifted = kernel_inception_distance(rng.standard_normal((400, 8)), rng.standard_normal((400, 8)) + 1, 20, 100)[0]
    assert abs(same) < 0.05 < shifted


@pytest.mark.parametrize("call, message", [
    (lambda: inception_score(numpy.zeros((5, 3))), "inception_score: 5 samples cannot make 10 splits"),
    (lambda: kernel_inception_distance(numpy.zeros((50, 4)), numpy.zeros((500, 4))),
     "kernel_inception_distance: subsets of 1000 need that many samples on each side, got 50 and 500"),
    (lambda: kernel_inception_distance(numpy.zeros((5, 4)), numpy.zeros((5, 3)), subset_size=2),
     "kernel_inception_distance: features of shapes (5, 4) and (5, 3) differ in width"),
    (lambda: frechet_distance_of_moments(numpy.zeros(3), numpy.eye(3), numpy.zeros(2), numpy.eye(2)),
     "frechet_distance_of_moments: expected means (D,) and covariances (D, D) of one D"),
])
def test_bad_inputs_are_refused_naming_them(call, message):
    with pytest.raises(ValueError) as raised:
        call()
    assert message in str(raised.value)
