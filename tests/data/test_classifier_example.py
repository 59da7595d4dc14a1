"""examples/train_fashion_mnist_classifier.py runs end to end on a tiny Fashion-MNIST (DataLoader,
Subset, the CNN, Adam, argmax accuracy, save and load), and learns the tiny set's labels."""
import importlib.util
from pathlib import Path

import numpy as np

from data.test_fashion_mnist import write_split

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_fashion_mnist_classifier.py"


def test_the_classifier_example_trains_saves_and_reloads(tmp_path, capsys):
    rng = np.random.default_rng(0)
    labels = np.arange(64, dtype=np.uint8) % 10
    images = rng.integers(0, 40, (64, 28, 28), dtype=np.uint8)
    for label in range(10):  # each class a bright bar in its own rows: learnable in a few steps
        images[labels == label, 2 * label + 4:2 * label + 6, 4:24] = 255
    for prefix in ("train", "t10k"):
        write_split(tmp_path, prefix, images, labels)
    spec = importlib.util.spec_from_file_location("classifier_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    out = tmp_path / "weights.mg"
    assert example.main(["--data-dir", str(tmp_path), "--epochs", "15", "--train-size", "0", "--batch-size", "16",
                         "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    accuracy = float(printed[-2].split("test accuracy ")[1].split()[0])
    assert accuracy >= 0.9, printed
    assert printed[-1] == f"saved {out}; reloaded, its test accuracy is {accuracy:.4f}"
