"""Features of a fixed, seeded random network: an offline stand-in for Inception's.

FID measures the Fréchet distance in the features of an Inception network
(inception.py), whose weights must be downloaded once. A fixed, seeded random convolutional
network is a weaker feature space but the same kind of measure: it tells two
generators apart by how far the statistics of their samples' features lie
from those of the real images, and it needs nothing but minigan. Its values
are comparable only with each other (same seed, image size, sample counts),
never with published FIDs.
"""
import numpy

from .. import backend
from .. import functional as F
from ..autograd import Tensor, no_grad

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
    features = []
    with no_grad():
        for start in range(0, len(images), batch_size):
            x = Tensor(xp.asarray(images[start:start + batch_size], dtype=numpy.float32))
            for weight in weights:
                x = F.leaky_relu(F.conv2d(x, Tensor(weight), None, 2, 1), 0.2)
            features.append(backend.to_numpy(x.data.mean(axis=(2, 3))).astype(numpy.float64))
    return numpy.concatenate(features)
