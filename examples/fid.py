"""FID, IS and KID of images, on pytorch-fid's Inception-v3 run by minigan.

    python examples/fid.py SAMPLES [REFERENCE] [--metrics fid,is,kid] [--weights PATH]

SAMPLES and REFERENCE are each one of:
  a folder of images (PNG, JPEG, ...; any depth, all of one size),
  a .npy of images (N, C, H, W): uint8 0..255, or floats in [-1, 1] as sample.py --save-npy writes,
  a minigan checkpoint (checkpoint.npz, or its run directory): --n samples of its generator,
  a pytorch-fid statistics file (.npz with mu and sigma; FID only),
  cifar10: CIFAR-10's training images (--data-dir), whose statistics are computed once and cached.
IS needs only SAMPLES; FID and KID compare them with REFERENCE. The Inception weights are
pytorch-fid's pt_inception-2015-12-05-6726825d.pth, downloaded once (the error says how).
"""
import argparse
import sys
from pathlib import Path

import numpy

from minigan.data import DatasetError, IMG_EXTENSIONS, load_image
from minigan.metrics import (InceptionWeightsMissing, cache_dir, cifar10_statistics, fid_inception_v3,
                             frechet_distance, frechet_distance_of_moments, inception_outputs, inception_score,
                             kernel_inception_distance, load_statistics, statistics)
from minigan.training.report import reported
from minigan.training.resume import checkpoint_path
from minigan.training.sampling import load_generator, sample

METRICS = ("fid", "is", "kid")


def main(argv=None):
    """The exit status: 0 done, 2 bad input (a one-line error, no traceback)."""
    return reported(lambda: _run(argv), {(ValueError, DatasetError, InceptionWeightsMissing): 2})


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("samples", help="images to score: a folder, a .npy, a checkpoint or a statistics .npz")
    parser.add_argument("reference", nargs="?", help="what FID and KID compare with: the same kinds, or cifar10")
    parser.add_argument("--metrics", default="fid,is,kid", help="comma-separated, of fid, is, kid (default all)")
    parser.add_argument("--weights", help="the Inception weight file (default: minigan's cache, or torch hub's)")
    parser.add_argument("--data-dir", default="data", help="where CIFAR-10 is, for the reference cifar10")
    parser.add_argument("--cache", help=f"where cached statistics go (default {cache_dir() / 'fid_stats'})")
    parser.add_argument("--n", type=int, default=10000, help="samples drawn from a checkpoint (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="the checkpoint samples' noise seed")
    parser.add_argument("--batch-size", type=int, default=50, help="images per Inception batch (default 50)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--is-splits", type=int, default=10, help="IS splits (default 10)")
    parser.add_argument("--kid-subsets", type=int, default=100, help="KID subsets (default 100)")
    parser.add_argument("--kid-subset-size", type=int, default=1000, help="KID subset size (default 1000)")
    return parser


def _run(argv):
    parser = _parser()
    args = parser.parse_args(argv)
    metrics = [m.strip() for m in args.metrics.lower().split(",") if m.strip()]
    if not metrics or any(m not in METRICS for m in metrics):
        parser.error(f"--metrics {args.metrics!r}: give a comma-separated list of {', '.join(METRICS)}")
    if ("fid" in metrics or "kid" in metrics) and args.reference is None:
        parser.error("FID and KID compare with a reference: give REFERENCE, or --metrics is")
    if min(args.n, args.batch_size) <= 0:
        parser.error(f"--n and --batch-size must be positive, got {args.n} and {args.batch_size}")
    model = fid_inception_v3(args.weights, device=args.device)
    samples = _features(args.samples, args, model, need_images="is" in metrics or "kid" in metrics)
    reference = _features(args.reference, args, model, need_images="kid" in metrics) if args.reference else None
    if "fid" in metrics:
        if "features" in samples and "features" in reference:  # frechet_distance takes a shortcut for few samples
            fid = frechet_distance(samples["features"], reference["features"])
        else:
            fid = frechet_distance_of_moments(*samples["moments"](), *reference["moments"]())
        print(f"FID: {fid:.4f}")
    if "is" in metrics:
        mean, std = inception_score(samples["logits"], args.is_splits)
        print(f"IS: {mean:.4f} +- {std:.4f}")
    if "kid" in metrics:
        mean, std = kernel_inception_distance(samples["features"], reference["features"], args.kid_subsets,
                                              args.kid_subset_size)
        print(f"KID: {mean:.6f} +- {std:.6f}")
    return 0


def _features(source, args, model, need_images):
    """{'moments': () -> (mu, sigma), and where images were given 'features' and 'logits'}."""
    path = Path(source)
    if source == "cifar10" or (path.suffix == ".npz" and _is_statistics(path)):
        if need_images:
            raise ValueError(f"{source} gives only FID statistics; IS and KID need images (use --metrics fid)")
        if source == "cifar10":
            return {"moments": lambda: cifar10_statistics(args.data_dir, model, cache=args.cache and Path(args.cache),
                                                          batch_size=args.batch_size)}
        return {"moments": lambda: load_statistics(path)}
    features, logits = inception_outputs(_images(path, args), model, args.batch_size)
    return {"moments": lambda: statistics(features), "features": features, "logits": logits}


def _is_statistics(path):
    if not path.is_file():
        raise ValueError(f"{path} does not exist")
    with numpy.load(path, allow_pickle=False) as stored:
        return "mu" in stored.files and "sigma" in stored.files


def _images(path, args):
    """uint8 or [0, 1] float images (N, C, H, W) from a folder, a .npy or a checkpoint."""
    if path.is_dir() and not Path(checkpoint_path(path)).is_file():
        return _folder(path)
    if path.suffix == ".npy":
        return _npy(path)
    if path.suffix == ".npz" or path.is_dir():
        generator = load_generator(path)
        z = numpy.random.default_rng(args.seed).standard_normal((args.n, generator.nz, 1, 1))
        return (numpy.concatenate([sample(generator, z[i:i + 500]) for i in range(0, args.n, 500)]) + 1) / 2
    raise ValueError(f"{path} is not a folder of images, a .npy, a checkpoint or a statistics .npz")


def _folder(path):
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMG_EXTENSIONS and p.is_file())
    if not files:
        raise ValueError(f"{path} holds no images (files ending in {', '.join(IMG_EXTENSIONS)})")
    images = [load_image(f) for f in files]
    sizes = {image.shape for image in images}
    if len(sizes) > 1:
        raise ValueError(f"the images in {path} differ in size ({sorted(sizes)[:3]}); resize them to one size")
    return numpy.stack(images)


def _npy(path):
    images = numpy.load(path, allow_pickle=False)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"{path}: expected images (N, C, H, W) with C 1 or 3, got shape {images.shape}")
    if images.dtype == numpy.uint8:
        return images
    if images.dtype.kind != "f" or images.size == 0 or images.min() < -1 or images.max() > 1:
        raise ValueError(f"{path}: expected uint8 images or floats in [-1, 1], got {images.dtype}"
                         + (f" in [{images.min()}, {images.max()}]" if images.size else " (empty)"))
    return (images.astype(numpy.float32) + 1) / 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
