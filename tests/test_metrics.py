"""The sample-quality measure: the Fréchet distance, and the random features it is taken in."""
from pathlib import Path

import numpy
import pytest

from minigan import backend
from minigan.data import fashion_mnist
from minigan.metrics import frechet_distance, frechet_distance_of_moments, random_features

DEBIAN = Path("/usr/share/datasets/fashion-mnist")


def random_covariance(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T + 0.1 * numpy.eye(d)


def test_diagonal_gaussians_have_the_closed_form_distance(rng):
    """For commuting (diagonal) covariances the distance is |dm|^2 + sum (sd_a - sd_b)^2."""
    mean_a, mean_b = rng.standard_normal(6), rng.standard_normal(6)
    sd_a, sd_b = rng.uniform(0.5, 2, 6), rng.uniform(0.5, 2, 6)
    got = frechet_distance_of_moments(mean_a, numpy.diag(sd_a ** 2), mean_b, numpy.diag(sd_b ** 2))
    numpy.testing.assert_allclose(got, ((mean_a - mean_b) ** 2).sum() + ((sd_a - sd_b) ** 2).sum(), rtol=1e-10)


def test_general_covariances_match_the_square_root_of_the_product(rng):
    """Against Tr((A B)^(1/2)) from the (non-symmetric) product's own eigenvalues, which are
    real and positive for positive definite A and B; and the distance is symmetric."""
    cov_a, cov_b = random_covariance(rng, 5), random_covariance(rng, 5)
    mean_a, mean_b = rng.standard_normal(5), rng.standard_normal(5)
    trace_root = numpy.sqrt(numpy.linalg.eigvals(cov_a @ cov_b).real).sum()
    expected = ((mean_a - mean_b) ** 2).sum() + numpy.trace(cov_a) + numpy.trace(cov_b) - 2 * trace_root
    numpy.testing.assert_allclose(frechet_distance_of_moments(mean_a, cov_a, mean_b, cov_b), expected, rtol=1e-9)
    numpy.testing.assert_allclose(frechet_distance_of_moments(mean_b, cov_b, mean_a, cov_a), expected, rtol=1e-9)
    assert abs(frechet_distance_of_moments(mean_a, cov_a, mean_a, cov_a)) < 1e-9


def test_frechet_distance_names_bad_shapes():
    with pytest.raises(ValueError, match=r"shapes \(4, 3\) and \(4, 2\)"):
        frechet_distance(numpy.zeros((4, 3)), numpy.zeros((4, 2)))


def test_random_features_are_fixed_by_the_seed(rng):
    images = rng.uniform(-1, 1, (6, 3, 16, 16))
    first = random_features(images, seed=1)
    assert first.shape == (6, 128) and first.dtype == numpy.float64
    numpy.testing.assert_array_equal(random_features(images, seed=1, batch_size=4), first)
    assert not numpy.allclose(random_features(images, seed=2), first)


def test_random_features_on_the_device_match_numpy(device_xp, rng):
    images = rng.uniform(-1, 1, (3, 1, 16, 16))
    numpy.testing.assert_allclose(random_features(images, device_xp), random_features(images), rtol=1e-5,
                                  atol=1e-6)
    assert backend.array_module(device_xp.zeros(1)) is device_xp


@pytest.mark.skipif(not DEBIAN.is_dir(), reason="needs Debian's dataset-fashion-mnist package")
def test_the_distance_tells_real_images_from_poor_imitations():
    """Two halves of real Fashion-MNIST lie closer than real images and what a poor generator
    would give: noise, the class-blind average image, or the images blurred."""
    images = fashion_mnist(train=False, download=False)[0][:2000] / 127.5 - 1
    real_a, real_b = images[:1000], images[1000:]
    rng = numpy.random.default_rng(0)
    blurred = (real_b + numpy.roll(real_b, 1, 2) + numpy.roll(real_b, 1, 3) + numpy.roll(real_b, (1, 1), (2, 3))) / 4
    imitations = {"noise": rng.uniform(-1, 1, real_b.shape),
                  "mean image": numpy.broadcast_to(real_b.mean(axis=0), real_b.shape) + rng.normal(0, 0.05, real_b.shape),
                  "blurred": blurred}
    reference = random_features(real_a)
    real = frechet_distance(reference, random_features(real_b))
    for name, fake in imitations.items():
        assert frechet_distance(reference, random_features(fake)) > 3 * real, name
