"""Train a GAN (--arch dcgan|sngan-cnn, --conditional) on Fashion-MNIST (works offline with
Debian's dataset-fashion-mnist package)."""
import sys

from minigan.training import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], dataset="fashion-mnist"))
