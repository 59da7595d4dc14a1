"""Samples from a trained DCGAN: python examples/sample.py --checkpoint RUN/checkpoint.npz --n 64 --out grid.png."""
import sys

from minigan.training.sampling import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
