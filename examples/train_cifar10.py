"""Train a GAN on CIFAR-10: python examples/train_cifar10.py --backend numpy|cupy
[--arch dcgan|sngan-cnn] [--conditional] [--help]."""
import sys

from minigan.training import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], dataset="cifar10"))
