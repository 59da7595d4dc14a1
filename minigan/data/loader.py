"""Shuffled minibatches whose order is a pure function of (seed, epoch), and their scaling to [-1, 1]."""

import numbers

import numpy as np

from ..backend import kernels


class Batches:
    """Minibatches of a uint8 image array (N, C, H, W), reshuffled every epoch.

    Epoch e is ordered by a permutation from default_rng([seed, e]), so a resumed
    run reproduces any (epoch, batch) exactly without replaying earlier epochs.
    Images stay uint8 in memory (4x smaller than float32); see normalize(), or normalized(),
    which gives a batch scaled and laid out for training in one pass.
    With xp=cupy the images are copied to the GPU once and each epoch's order
    once per epoch, so drawing a batch copies nothing between host and device.
    Given labels (N,) integers, batch_labels() gives those of batch()'s images.
    """

    def __init__(self, images, batch_size, seed, drop_last=True, xp=np, labels=None):
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
            raise ValueError(f"images must be a 4-D uint8 numpy array (N, C, H, W), got "
                             f"{type(images).__name__} {getattr(images, 'dtype', '')} "
                             f"shape {getattr(images, 'shape', '')}")
        if not isinstance(batch_size, numbers.Integral) or not 0 < batch_size <= len(images):
            raise ValueError(f"batch_size must be in 1..{len(images)} (the number of images), got {batch_size}")
        if labels is not None and (not isinstance(labels, np.ndarray) or labels.shape != images.shape[:1]
                                   or labels.dtype.kind not in "iu"):
            raise ValueError(f"labels must be an integer numpy array of shape ({len(images)},), one per "
                             f"image, got {type(labels).__name__} {getattr(labels, 'dtype', '')} "
                             f"shape {getattr(labels, 'shape', '')}")
        self.xp = xp
        self.images = xp.asarray(images)
        self.labels = None if labels is None else xp.asarray(labels, dtype=np.int64)
        self.batch_size = int(batch_size)
        self.seed = seed
        self.drop_last = drop_last
        self._order_epoch, self._order = None, None

    def __len__(self):
        """Batches per epoch."""
        full, partial = divmod(len(self.images), self.batch_size)
        return full + (partial > 0 and not self.drop_last)

    def epoch(self, e):
        """Iterate over the uint8 batches of epoch `e`."""
        return (self.batch(e, i) for i in range(len(self)))

    def batch(self, e, i):
        """Return the i-th uint8 batch of epoch `e`."""
        return self.images[self._indices(e, i)]

    def normalized(self, e, i, dtype):
        """The i-th batch of epoch `e` scaled to [-1, 1] (as normalize()) in dtype, as the (C, H, W, N)
        buffer of a batch-innermost image (minigan/functional/layout.py), which the first
        convolution reads as it is: gathered, converted, scaled and laid out by one kernel
        (kernels/image_batch.py)."""
        return kernels(self.xp).image_batch(self.images, self._indices(e, i), dtype)

    def _indices(self, e, i):
        if not 0 <= i < len(self):
            raise IndexError(f"batch index {i} out of range: epoch has {len(self)} batches")
        start = i * self.batch_size
        return self._permutation(e)[start:start + self.batch_size]

    def batch_labels(self, e, i):
        """The int64 labels of batch(e, i)'s images."""
        if self.labels is None:
            raise ValueError("these Batches have no labels: give labels= to Batches")
        return self.labels[self._indices(e, i)]

    def _permutation(self, e):
        # Cached: batch(e, i) is called once per step and must not redraw N indices each time.
        if self._order_epoch != e:
            self._order = self.xp.asarray(np.random.default_rng([self.seed, e]).permutation(len(self.images)))
            self._order_epoch = e
        return self._order


def normalize(batch_uint8, xp, dtype):
    """Scale a uint8 batch to [-1, 1] (x / 127.5 - 1) as an array of module `xp` (numpy or cupy)."""
    if batch_uint8.dtype != np.uint8:
        raise ValueError(f"normalize expects a uint8 batch, got {batch_uint8.dtype}")
    # Move the uint8 bytes first and convert on the device: 4x less to transfer than float32.
    x = xp.asarray(batch_uint8).astype(dtype)
    x /= 127.5
    x -= 1
    return x
