"""A small CNN classifier on Fashion-MNIST, written the way a PyTorch user writes one.

    python examples/train_fashion_mnist_classifier.py [--epochs 1] [--train-size 10000] [--seed 0]
    python examples/train_fashion_mnist_classifier.py --framework torch   # the same script on PyTorch

minigan mirrors torch's names, so the script runs on either through one alias (`torch` below is
the chosen module); the DataLoader comes from torch.utils.data in both. The data
come from minigan.data.FashionMNIST (Debian's dataset-fashion-mnist package, or --data-dir).
The network is minigan.models.fashion_classifier's, built from either framework's nn: the GAN
trainer reads the saved weights (--out) into it for --eval-metric classifier:PATH.
"""
import argparse
import importlib
import sys
import time

import numpy as np

from minigan.data import FashionMNIST
from minigan.models.fashion_classifier import make_classifier


def to_float(image):
    """transforms.ToTensor() for a uint8 (1, 28, 28) image: float32 in [0, 1]."""
    return image.astype(np.float32) / 255


def accuracy(torch, model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            predictions = model(images).argmax(dim=1)
            correct += (predictions == labels).sum().item()
            total += labels.size(0)
    return correct / total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--framework", choices=["minigan", "torch"], default="minigan")
    parser.add_argument("--data-dir", default=None, help="folder with the Fashion-MNIST .gz files "
                        "(default: Debian's dataset-fashion-mnist package)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-size", type=int, default=10000, help="first N training images (0: all 60000)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="fashion_mnist_classifier.pt", help="where the trained weights go")
    args = parser.parse_args(argv)

    torch = importlib.import_module(args.framework)  # the one line that differs between the two
    DataLoader, Subset = torch.utils.data.DataLoader, torch.utils.data.Subset
    torch.manual_seed(args.seed)

    train_set = FashionMNIST(args.data_dir, train=True, transform=to_float)
    test_set = FashionMNIST(args.data_dir, train=False, transform=to_float)
    if args.train_size:
        train_set = Subset(train_set, range(args.train_size))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=1000)

    model = make_classifier(torch.nn)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        for step, (images, labels) in enumerate(train_loader, 1):
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
            if step % 50 == 0:
                print(f"epoch {epoch} step {step}/{len(train_loader)} loss {loss.item():.4f}", file=sys.stderr)
        print(f"epoch {epoch}: test accuracy {accuracy(torch, model, test_loader):.4f} "
              f"({time.perf_counter() - started:.0f} s)")

    torch.save(model.state_dict(), args.out)
    reloaded = make_classifier(torch.nn)
    reloaded.load_state_dict(torch.load(args.out))
    print(f"saved {args.out}; reloaded, its test accuracy is {accuracy(torch, reloaded, test_loader):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
