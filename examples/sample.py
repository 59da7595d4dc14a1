"""Samples from a trained GAN: python examples/sample.py --checkpoint RUN/checkpoint.npz --n 64 --out grid.png
(a conditional checkpoint's grid has one row per class, --n samples each)."""
import sys

from minigan.training.sampling import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
