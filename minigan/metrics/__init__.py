"""Sample quality: FID, IS and KID on pytorch-fid's Inception-v3, and the offline random-network
Fréchet distance.

frechet.py        the Fréchet distance of two Gaussians (FID's formula), statistics (mu, sigma)
inception.py      pytorch-fid's Inception-v3 as minigan modules, its weight file, the network's outputs
scores.py         the Inception Score and the Kernel Inception Distance (torch-fidelity's definitions)
reference.py      real-data statistics in pytorch-fid's .npz format, computed once and cached
random_network.py features of a fixed random network: comparable only among minigan runs
"""
from .frechet import frechet_distance, frechet_distance_of_moments, statistics
from .inception import (FID_WEIGHTS_URL, InceptionV3, InceptionWeightsMissing, as_unit_images, cache_dir,
                        default_weights_path, fid_inception_v3, inception_outputs)
from .random_network import random_features
from .reference import cifar10_statistics, fid_statistics, load_statistics, save_statistics
from .scores import inception_score, kernel_inception_distance, polynomial_mmd2

__all__ = ["FID_WEIGHTS_URL", "InceptionV3", "InceptionWeightsMissing", "as_unit_images", "cache_dir",
           "cifar10_statistics", "default_weights_path", "fid_inception_v3", "fid_statistics", "frechet_distance",
           "frechet_distance_of_moments", "inception_outputs", "inception_score", "kernel_inception_distance",
           "load_statistics", "polynomial_mmd2", "random_features", "save_statistics", "statistics"]
