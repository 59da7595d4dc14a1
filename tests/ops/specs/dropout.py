"""The specs of dropout and dropout2d (the format is in ../opspec.py).

torch draws its masks from its own generator, so its parity runs only where no mask is drawn
(p = 0, p = 1, training=False). Where one is, the call draws it from a generator seeded afresh
(SEED) on each call: the gradient check's repeated calls see one mask, and the device check
shows that the CPU and the GPU draw the same mask from the same seed. tests/ops/test_dropout.py
checks the masks themselves: input * mask / (1 - p), their statistics, seeds, graph capture.
"""
import numpy

from minigan.config import using_config

from ..opspec import DEVICE, GRADCHECK, Op, bad, case, grid, nonzero

SEED = 1234
DRAWN = {GRADCHECK, DEVICE}  # the checks of the cases that draw a mask


def seeded(name):
    """F.name(x, **kwargs), under a generator seeded with SEED where F is minigan's."""
    def call(F, x, **kwargs):
        if hasattr(F, "torch"):  # TorchFunctional: only the cases that draw no mask
            return getattr(F, name)(x, **kwargs)
        with using_config("generator", numpy.random.default_rng(SEED)):
            return getattr(F, name)(x, **kwargs)
    return call


def dropout_op(name, shapes):
    return Op(
        name, lambda shape: [nonzero(shape)],  # nonzero: a dropped element is told by its 0
        grid(shape=shapes, p=[0.2, 0.5, 0.9], checks=DRAWN)
        + grid(shape=shapes[-1:], p=[0.0, 1.0], training=[True, False]) + case(shape=shapes[-1], p=0.5, training=False),
        call=seeded(name),
        errors=[*[bad(f"{name}: dropout probability has to be between 0 and 1, but got {p!r}", (2, 3, 2, 2), p=p)
                  for p in (-0.1, 1.5, "0.5", True)]])


DROPOUT = dropout_op("dropout", [(4, 5), (2, 3, 4, 4)])
DROPOUT2D = dropout_op("dropout2d", [(3, 4, 2, 3), (6, 5, 3, 2)])
DROPOUT2D.errors.append(bad("dropout2d: input must have a batch and a channel dimension (N, C, ...), got shape (5,)",
                            (5,)))

OPS = [DROPOUT, DROPOUT2D]
