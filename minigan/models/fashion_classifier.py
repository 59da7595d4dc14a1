"""The small Fashion-MNIST CNN classifier of examples/train_fashion_mnist_classifier.py.

Built from whichever `nn` module is passed (minigan.nn or torch.nn), so the one definition serves
the example on both frameworks and the trainer's classifier-feature metric, whose features are the
classifier's penultimate layer (the 128 units before the logits).
"""
FEATURE_WIDTH = 128


def make_classifier(nn):
    """Two conv blocks, then a classifier head with dropout: (N, 1, 28, 28) in [0, 1] -> 14x14 ->
    7x7 -> 10 logits."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25),
        nn.Linear(32 * 7 * 7, FEATURE_WIDTH), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(FEATURE_WIDTH, 10),
    )


def penultimate(classifier):
    """The classifier without its last dropout and logits: images -> (N, FEATURE_WIDTH) features."""
    return classifier[:-2]
