"""Synthetic images with smooth structure (gradients and blobs) for smoke tests without data files."""

import numpy as np

_BLOBS = 3


def fake(n=1024, channels=3, size=32, seed=0):
    """Return (images uint8 (n, channels, size, size), labels int64 (n,)), a pure function of the arguments.

    Each image is a colored linear gradient plus a few Gaussian blobs: smooth
    and spatially correlated like photos, so a generator has something to learn,
    unlike uniform noise. Labels are random classes 0..9.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / max(size - 1, 1)  # pixel coordinates in [0, 1]

    angle = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    ramp = 0.5 + 0.5 * (np.cos(angle) * (x - 0.5) + np.sin(angle) * (y - 0.5))  # (n, size, size)
    low, high = rng.uniform(0, 1, (2, n, channels, 1, 1))
    images = low + (high - low) * ramp[:, None]

    for _ in range(_BLOBS):  # one blob at a time keeps memory at one image stack
        cy, cx = rng.uniform(0.2, 0.8, (2, n, 1, 1))
        width = rng.uniform(0.06, 0.2, (n, 1, 1))
        color = rng.uniform(-0.8, 0.8, (n, channels, 1, 1))
        bump = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * width**2))
        images += color * bump[:, None]

    labels = rng.integers(0, 10, n)
    return np.round(np.clip(images, 0, 1) * 255).astype(np.uint8), labels.astype(np.int64)
