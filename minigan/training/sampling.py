"""Drawing samples from a checkpoint's generator: grids, latent walks and raw arrays; a
class-conditional generator's have one row per class."""
import argparse
import os
import sys

import numpy

from .. import backend
from ..autograd import Tensor, no_grad
from ..models import architectures
from . import checkpoint, images
from ..atomic import atomic_path
from .report import reported
from .resume import OPTIONAL_SECTIONS, check_against, checkpoint_path, load_checked, section_names


def load_generator(path):
    """The checkpoint's generator (its EMA copy when it has one), in eval mode on the CPU,
    checked as the trainer checks a checkpoint it resumes (resume.load_checked, check_against)."""
    path = checkpoint_path(path)
    sections, _, config = load_checked(path)
    # The sections first, as the trainer's check_against does: the channels are read from G's.
    checkpoint.check_section_names(path, sections, section_names(config), OPTIONAL_SECTIONS)
    weights = sections.get("G", {})
    nc, classes = architectures.image_channels(config.arch, weights), architectures.num_classes(weights)
    if nc is None:
        raise checkpoint.CheckpointError(f"{path} has no generator weights; it is not a minigan "
                                         f"checkpoint, or is damaged")
    if bool(classes) != config.conditional:
        raise checkpoint.CheckpointError(f"{path}: its config says conditional={config.conditional}, its "
                                         f"generator has {classes} classes; it is damaged or edited")

    def generator():
        return architectures.generator(config.arch, config.nz, config.ngf, nc, config.image_size, classes)
    D = architectures.discriminator(config.arch, config.ndf, nc, config.image_size, classes, config.d_batchnorm)
    if config.spectral_norm:
        architectures.spectrally_normalize(D)
    G = generator()
    check_against(path, sections, G, D, generator() if config.ema else None)
    G.load_state_dict(sections.get("G_ema", sections["G"]))
    return G.eval()


def latent_walks(rng, rows, steps, nz):
    """rows walks of `steps` points each, linear between two random latent points."""
    ends = rng.standard_normal((rows, 2, nz))
    t = numpy.linspace(0, 1, steps)[None, :, None]
    return ((1 - t) * ends[:, :1] + t * ends[:, 1:]).reshape(rows * steps, nz, 1, 1)


def sample(G, z, labels=None):
    """G's images of the noise z (N, nz, 1, 1), of the classes labels (N,) if G is conditional."""
    with no_grad():
        return backend.to_numpy(G(Tensor(z.astype(numpy.float32)),
                                  *(() if labels is None else (Tensor(labels),))).data)


IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


def main(argv=None):
    """Command-line entry point; returns the exit status (2: bad input, as the trainer's)."""
    return reported(lambda: _sample(argv), {ValueError: 2})


def _sample(argv):
    parser = argparse.ArgumentParser(description="Draw samples from a minigan DCGAN checkpoint.")
    parser.add_argument("--checkpoint", required=True,
                        help="checkpoint.npz written by the trainer, or its run directory")
    parser.add_argument("--n", type=int, default=None,
                        help="number of samples (default 64); of a conditional checkpoint, samples per "
                             "class, one row per class, the same noise in each column (default 8)")
    parser.add_argument("--out", default="samples.png", help="PNG grid to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--interpolate", action="store_true",
                        help="rows of latent walks between random points instead of independent samples "
                             "(of a conditional checkpoint: one walk, drawn in each class's row)")
    parser.add_argument("--steps", type=int, default=8, help="points per walk with --interpolate")
    parser.add_argument("--save-npy", metavar="PATH", help="also save the raw samples (N, C, H, W) in [-1, 1]")
    args = parser.parse_args(argv)
    if (args.n is not None and args.n <= 0) or args.steps <= 1:
        parser.error(f"--n must be positive and --steps at least 2, got {args.n} and {args.steps}")
    if os.path.isdir(args.out) or not args.out.lower().endswith(IMAGE_EXTENSIONS):
        parser.error(f"--out {args.out!r} is not an image file name; give one ending in "
                     f"{', '.join(IMAGE_EXTENSIONS)}")
    G = load_generator(args.checkpoint)
    rng = numpy.random.default_rng(args.seed)
    rows = G.num_classes or 1  # a conditional G: one row of each class, the same noise in each
    n = args.n or (8 if G.num_classes else 64)
    if args.interpolate:
        z = latent_walks(rng, 1 if G.num_classes else max(1, n // args.steps), args.steps, G.nz)
        nrow = args.steps
    else:
        z = rng.standard_normal((n, G.nz, 1, 1))
        nrow = n if G.num_classes else 8
    labels = numpy.repeat(numpy.arange(rows), len(z)) if G.num_classes else None
    samples = sample(G, numpy.tile(z, (rows, 1, 1, 1)), labels)
    images.save_grid(args.out, samples, nrow)
    if args.save_npy:
        with atomic_path(args.save_npy) as tmp, open(tmp, "wb") as f:
            numpy.save(f, samples)
    print(f"wrote {len(samples)} samples to {args.out}" +
          (f" and {args.save_npy}" if args.save_npy else ""), file=sys.stderr)
    return 0
