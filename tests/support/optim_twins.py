"""The optimizer tests' torch twin: the same parameters, gradients and steps on both sides.

Twins(xp, rng) makes a few float64 parameters of assorted shapes on xp and the same
values as torch leaves; grads(step) draws each step's gradients (their scale varies
over steps, so that amsgrad's running maximum matters), and give() hands them to both
sides: into the flat gradient buffers, as backward writes them (the optimizers' one-launch
path), or as new arrays assigned to .grad (the per-parameter path).
"""
import numpy

from minigan import Tensor
from .parity import as_numpy

SHAPES = [(4, 3), (5,), (2, 3, 2)]
WITH_SCALAR = [*SHAPES, ()]  # and a 0-d parameter (a learned scale), which must stay 0-d


class Twins:
    def __init__(self, xp, rng, torch, shapes=SHAPES):
        self.xp, self.rng, self.torch = xp, rng, torch
        values = [numpy.asarray(rng.standard_normal(shape)) for shape in shapes]
        self.mine = [Tensor(xp.asarray(v), requires_grad=True) for v in values]
        self.theirs = [torch.tensor(v, requires_grad=True) for v in values]

    def draw(self):
        """One step's gradients, each scaled by 10 ** uniform(-1, 1)."""
        return [numpy.asarray(self.rng.standard_normal(p.shape) * 10 ** self.rng.uniform(-1, 1)) for p in self.theirs]

    def give(self, grads, path="flat", skip=()):
        """grads to both sides; the parameters numbered in skip get none."""
        for index, (mine, theirs, grad) in enumerate(zip(self.mine, self.theirs, grads)):
            if index in skip:
                mine.grad = theirs.grad = None
                continue
            theirs.grad = self.torch.from_numpy(grad.copy())
            if path == "flat" and mine.grad_buffer is not None:
                mine.grad_buffer[...] = self.xp.asarray(grad)
                mine.grad = mine.grad_buffer
            else:
                mine.grad = self.xp.asarray(grad)

    def assert_close(self, what, rtol=1e-10):
        for index, (mine, theirs) in enumerate(zip(self.mine, self.theirs)):
            expected = theirs.detach().numpy()
            numpy.testing.assert_allclose(as_numpy(mine), expected, rtol=rtol, atol=rtol * 1e-2,
                                          err_msg=f"{what}: parameter {index}")


def to_numpy_state(state_dict):
    """A state_dict with every array on the host: as it would be saved."""
    return {"state": {i: {k: as_numpy(v) if hasattr(v, "shape") else v for k, v in s.items()}
                      for i, s in state_dict["state"].items()},
            "param_groups": [dict(g) for g in state_dict["param_groups"]]}


def torch_state_as_numpy(state_dict):
    """A torch optimizer's state_dict with NumPy arrays, and each step as an int."""
    return {"state": {i: {k: int(v.item()) if k == "step" else v.detach().numpy().copy() for k, v in s.items()}
                      for i, s in state_dict["state"].items()},
            "param_groups": [dict(g) for g in state_dict["param_groups"]]}
