"""fake(): deterministic synthetic images with spatial structure, not noise."""

import numpy as np
import pytest

from minigan.data import fake


def neighbour_correlation(images):
    """Correlation between horizontally adjacent pixels: about 0 for noise, near 1 for smooth images."""
    x = images.astype(np.float64)
    left, right = x[..., :-1].ravel(), x[..., 1:].ravel()
    return np.corrcoef(left, right)[0, 1]


@pytest.mark.parametrize("n, channels, size", [(1024, 3, 32), (7, 1, 64)])
def test_shapes_and_types(n, channels, size):
    images, labels = fake(n, channels, size)
    assert images.shape == (n, channels, size, size) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() <= 9


def test_deterministic_per_seed():
    a, b, c = fake(64, seed=1), fake(64, seed=1), fake(64, seed=2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert (a[0] != c[0]).mean() > 0.5


def test_images_are_smooth_and_varied():
    images, _ = fake(256)
    noise = np.random.default_rng(0).integers(0, 256, images.shape, dtype=np.uint8)
    assert neighbour_correlation(noise) < 0.05  # the measure can tell noise apart
    assert neighbour_correlation(images) > 0.9
    assert images.std(axis=(1, 2, 3)).mean() > 10  # not flat
    assert images.min() < 30 and images.max() > 225  # uses the range
    assert np.abs(images[0].astype(int) - images[1]).mean() > 10  # images differ
