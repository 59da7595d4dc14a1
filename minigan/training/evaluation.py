"""The trainer's sample-quality metric (--eval-every, --eval-metric, --eval-samples): the Fréchet
distance between a fixed sample of G's images and a fixed subset of the real ones, in one of
three feature spaces:

  random            minigan.metrics' seeded random network: offline, comparable only among runs
                    measured the same way;
  inception         FID proper, in pytorch-fid's Inception-v3 features (needs its weight file);
  classifier:PATH   the penultimate layer of the Fashion-MNIST classifier whose weights
                    examples/train_fashion_mnist_classifier.py saved at PATH (1-channel 28x28
                    images, or 32x32 ones padded as minigan.data.fashion_mnist pads them);
  auto              inception when its weight file is present, else random.

The noise and the real subset are drawn from EVAL_SEED, not from the run's --seed, so that runs
of different seeds are measured on the same sample.
"""
import os

import numpy

from .. import backend, data, nn, serialization
from ..autograd import Tensor, no_grad
from ..metrics import (InceptionWeightsMissing, default_weights_path, fid_inception_v3, frechet_distance,
                       inception_outputs, random_features)
from ..models.fashion_classifier import make_classifier, penultimate

METRICS = ("auto", "random", "inception", "classifier:PATH")
CLASSIFIER = "classifier:"
EVAL_SEED = 2024
FASHION_SIZE, FASHION_PADDED = 28, 32


def metric_problem(metric):
    """Why --eval-metric `metric` is malformed, or None."""
    if metric in METRICS[:3] or (metric.startswith(CLASSIFIER) and len(metric) > len(CLASSIFIER)):
        return None
    return f"eval_metric must be one of {METRICS}, got {metric!r}"


def inception_weights_present():
    """Whether pytorch-fid's Inception weight file, which --eval-metric inception needs, is here."""
    return default_weights_path().is_file()


def inception_features(xp):
    """images (N, C, H, W) in [-1, 1] -> pool3 features (N, 2048); a one-line error, saying where
    to get them, when the weights are missing."""
    try:
        model = fid_inception_v3(device=backend.device_of(xp.zeros(1)))
    except InceptionWeightsMissing as error:  # a FileNotFoundError: said here as bad input
        raise ValueError(f"--eval-metric inception: {error}") from None
    return lambda images: inception_outputs((images + 1) / 2, model)[0]


def resolve(metric):
    """The metric that `auto` stands for on this machine; any other metric is itself."""
    if metric == "auto":
        return "inception" if inception_weights_present() else "random"
    return metric


def feature_function(metric, xp):
    """images (N, C, H, W) in [-1, 1] -> features (N, D) float64, for a resolved metric."""
    if metric == "random":
        return lambda images: random_features(images, xp)
    if metric == "inception":
        return inception_features(xp)
    return classifier_features(metric[len(CLASSIFIER):], xp)


def classifier_features(path, xp):
    """The penultimate features of the classifier saved at path, on xp's device."""
    if not os.path.isfile(path):
        raise ValueError(f"--eval-metric classifier:{path}: there is no classifier file at {path}; "
                         f"train one with python examples/train_fashion_mnist_classifier.py --out {path}")
    classifier = make_classifier(nn)
    try:
        classifier.load_state_dict(serialization.load(path))
    except (KeyError, RuntimeError, TypeError, ValueError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"--eval-metric classifier:{path}: {path} does not hold the weights of "
                         f"examples/train_fashion_mnist_classifier.py's classifier ({first_line})") from None
    network = penultimate(classifier.eval()).to(backend.device_of(xp.zeros(1)))

    def features(images):
        if images.shape[1:] not in ((1, FASHION_SIZE, FASHION_SIZE), (1, FASHION_PADDED, FASHION_PADDED)):
            raise ValueError(f"--eval-metric classifier:{path} measures 1-channel {FASHION_SIZE}x{FASHION_SIZE} "
                             f"(or padded {FASHION_PADDED}x{FASHION_PADDED}) Fashion-MNIST images, got images "
                             f"of shape {images.shape[1:]}")
        crop = (images.shape[-1] - FASHION_SIZE) // 2
        images = images[:, :, crop:crop + FASHION_SIZE, crop:crop + FASHION_SIZE]
        return network_features(network, (images + 1) / 2, xp)  # the classifier reads [0, 1]
    return features


def network_features(network, images, xp, batch_size=500):
    """network's outputs (N, D), float64 on the host, for images (N, C, H, W) fed to it as float32
    Tensors of module xp, batch_size at a time, without recording gradients."""
    features = []
    with no_grad():
        for start in range(0, len(images), batch_size):
            x = Tensor(xp.asarray(images[start:start + batch_size], dtype=numpy.float32))
            features.append(backend.to_numpy(network(x).data).astype(numpy.float64))
    return numpy.concatenate(features)


class Evaluator:
    """The metric of config over a fixed sample: config.eval_samples images generated from fixed
    noise against as many real images (all of them if fewer), whose features are taken once."""

    def __init__(self, config, real_images, xp):
        """real_images: uint8 (N, C, H, W), nearest-upsampled to config.image_size as the trainer
        upsamples its batches."""
        self.metric = resolve(config.eval_metric)
        self.features = feature_function(self.metric, xp)
        rng = numpy.random.default_rng(EVAL_SEED)
        self.noise = rng.standard_normal((config.eval_samples, config.nz, 1, 1)).astype(numpy.float32)
        chosen = numpy.sort(rng.permutation(len(real_images))[:config.eval_samples])
        upsample = config.image_size // real_images.shape[2]
        real = data.normalize(real_images[chosen], numpy, numpy.float32)
        self.real_features = self.features(real.repeat(upsample, axis=2).repeat(upsample, axis=3))
        self.xp = xp

    def score(self, generate, batch_size=500):
        """The Fréchet distance of generate's images (generate: noise (B, nz, 1, 1) of module xp
        -> host images (B, C, H, W) in [-1, 1]) from the real sample."""
        generated = numpy.concatenate([generate(self.xp.asarray(self.noise[start:start + batch_size]))
                                       for start in range(0, len(self.noise), batch_size)])
        return frechet_distance(self.real_features, self.features(generated))
