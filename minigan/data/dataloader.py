"""DataLoader: minibatches of any dataset (len() and [index]), collated as torch's default_collate
collates them, in order or shuffled from a seeded generator."""
import collections.abc
import math
import numbers

import numpy as np

from ..autograd import Tensor
from ..backend import array_module, is_array
from ..config import config


class DataLoader:
    """Iterate over `dataset` in batches of `batch_size` samples, as torch.utils.data.DataLoader.

    Each iteration is one epoch. With shuffle=True every epoch draws a new order: from the
    loader's own generator, numpy.random.default_rng(seed), given a seed; with seed=None, as torch
    does, from a generator seeded anew each epoch by minigan's default generator (so that
    minigan.manual_seed makes it repeatable). drop_last=True leaves out a last, smaller batch.
    collate_fn(list of samples) makes a batch; the default is default_collate.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, collate_fn=None):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader needs a dataset with __len__ and __getitem__, got a {type(dataset).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.collate_fn = default_collate if collate_fn is None else collate_fn
        self.generator = None if seed is None else np.random.default_rng(seed)

    def __len__(self):
        """Batches per epoch."""
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            generator = self.generator or np.random.default_rng(config.generator.integers(2**63))
            order = generator.permutation(n)
        else:
            order = np.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield self.collate_fn([self.dataset[int(i)] for i in order[start:start + self.batch_size]])


def default_collate(samples):
    """One batch from a list of samples, as torch's default_collate: arrays and Tensors are
    stacked into a Tensor, Python ints into an int64 Tensor, floats into float64 and bools into
    bool; NumPy scalars keep their dtype; tuples and lists are collated position by position (into
    a list), dicts key by key; strings stay a list."""
    first = samples[0]
    if isinstance(first, Tensor) or is_array(first):
        arrays = [s.data if isinstance(s, Tensor) else s for s in samples]
        shapes = {tuple(a.shape) for a in arrays}
        if len(shapes) > 1:
            raise ValueError(f"default_collate: samples of different shapes {sorted(shapes)} cannot be stacked "
                             f"into one batch; resize them to one shape (or pass a collate_fn)")
        return Tensor(array_module(arrays[0]).stack(arrays))
    if isinstance(first, (bool, np.bool_)):
        return Tensor(np.array(samples, dtype=bool))
    if isinstance(first, numbers.Integral) and not isinstance(first, np.generic):
        return Tensor(np.array(samples, dtype=np.int64))
    if isinstance(first, float):
        return Tensor(np.array(samples, dtype=np.float64))
    if isinstance(first, np.generic):
        return Tensor(np.array(samples))
    if isinstance(first, (str, bytes)):
        return list(samples)
    if isinstance(first, collections.abc.Mapping):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, collections.abc.Sequence):
        if len({len(s) for s in samples}) > 1:
            raise ValueError("default_collate: samples are sequences of different lengths")
        return [default_collate(list(column)) for column in zip(*samples)]
    raise TypeError(f"default_collate: cannot batch samples of type {type(first).__name__}; give arrays, "
                    f"Tensors, numbers, str, or dicts, tuples and lists of them (or pass a collate_fn)")
