"""Sample quality: the Fréchet distance between real and generated images, in random-network features.

FID measures this distance in the features of an Inception network, which
minigan does not have (nor downloads). A fixed, seeded random convolutional
network is a weaker feature space but the same kind of measure: it tells two
generators apart by how far the statistics of their samples' features lie
from those of the real images, and it needs nothing but minigan. Its values
are comparable only with each other (same seed, image size, sample counts),
never with published FIDs.
"""
import numpy

from . import backend
from . import functional as F
from .autograd import Tensor, no_grad

FEATURE_WIDTHS = (32, 64, 128)  # channels of the three stride-2 convolutions


def random_features(images, xp=numpy, seed=0, batch_size=500):
    """Features (N, 128), float64 on the host, of images (N, C, H, W) scaled to [-1, 1].

    Three 4x4 stride-2 convolutions with He-initialised weights from `seed`,
    each followed by LeakyReLU(0.2), then the spatial mean.
    """
    images = numpy.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"random_features: expected images (N, C, H, W), got shape {images.shape}")
    rng = numpy.random.default_rng(seed)
    weights, channels = [], images.shape[1]
    for width in FEATURE_WIDTHS:
        fan_in = channels * 16
        weights.append(xp.asarray(rng.standard_normal((width, channels, 4, 4)) * numpy.sqrt(2.0 / fan_in),
                                  dtype=numpy.float32))
        channels = width

    def network(x):
        for weight in weights:
            x = F.leaky_relu(F.conv2d(x, Tensor(weight), None, 2, 1), 0.2)
        return x.mean(dim=(2, 3))

    return network_features(network, images, xp, batch_size)


def network_features(network, images, xp=numpy, batch_size=500):
    """network's outputs (N, D), float64 on the host, for images (N, C, H, W) fed to it as float32
    Tensors of module xp, batch_size at a time, without recording gradients."""
    features = []
    with no_grad():
        for start in range(0, len(images), batch_size):
            x = Tensor(xp.asarray(images[start:start + batch_size], dtype=numpy.float32))
            features.append(backend.to_numpy(network(x).data).astype(numpy.float64))
    return numpy.concatenate(features)


def frechet_distance(features_a, features_b):
    """The Fréchet distance between Gaussians fitted to two feature sets (N, D) (the FID formula)."""
    if features_a.ndim != 2 or features_b.ndim != 2 or features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"frechet_distance: expected two (N, D) feature arrays of one D, got shapes "
                         f"{features_a.shape} and {features_b.shape}")
    moments = [(f.mean(axis=0), numpy.cov(f, rowvar=False)) for f in (features_a, features_b)]
    return frechet_distance_of_moments(*moments[0], *moments[1])


def frechet_distance_of_moments(mean_a, cov_a, mean_b, cov_b):
    """|mean_a - mean_b|^2 + Tr(cov_a + cov_b - 2 (cov_a cov_b)^(1/2)).

    Tr((cov_a cov_b)^(1/2)) is taken as the trace of the square root of the
    symmetric matrix cov_a^(1/2) cov_b cov_a^(1/2), which has the same
    eigenvalues, so only symmetric eigendecompositions are needed.
    """
    values, vectors = numpy.linalg.eigh(cov_a)
    root_a = (vectors * numpy.sqrt(numpy.clip(values, 0, None))) @ vectors.T
    middle = root_a @ cov_b @ root_a
    trace_root = numpy.sqrt(numpy.clip(numpy.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    difference = mean_a - mean_b
    return float(difference @ difference + numpy.trace(cov_a) + numpy.trace(cov_b) - 2 * trace_root)
