"""Comparing minigan with PyTorch (or one backend with another): one tolerance rule, one helper
that runs forward and backward on both sides, and module state compared key by key.

torch is imported only where a function needs it, so that the tests that compare two minigan
backends run where PyTorch is absent.
"""
import numpy

from minigan import Tensor, backend

RTOL = {numpy.float64: 1e-9, numpy.float32: 1e-5}


def as_numpy(value):
    """A NumPy array from a torch tensor, a minigan Tensor, or a NumPy or CuPy array."""
    if isinstance(value, Tensor):
        return backend.to_numpy(value.data)
    if hasattr(value, "detach"):  # torch.Tensor
        return value.detach().cpu().numpy()
    return backend.to_numpy(value)


def assert_close(actual, expected, what, rtol=1e-9):
    """max |actual - expected| <= rtol * max |expected|, with matching shapes."""
    actual, expected = as_numpy(actual), as_numpy(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    scale = max(float(numpy.abs(expected.astype(numpy.float64)).max(initial=0.0)), 1e-30)
    error = float(numpy.abs(actual.astype(numpy.float64) - expected.astype(numpy.float64)).max(initial=0.0))
    assert error <= rtol * scale, f"{what}: relative error {error / scale:.3g} > {rtol:g}"


def check_parity(xp, rng, mg_fn, torch_fn, *arrays, dtype=numpy.float64):
    """Same inputs, same random upstream gradient; compare output and every input gradient.

    arrays are NumPy arrays, each a leaf that requires grad on both sides. Returns the minigan
    and torch outputs.
    """
    import torch
    rtol = RTOL[dtype]
    mg_inputs = [Tensor(xp.asarray(numpy.asarray(a, dtype)), requires_grad=True) for a in arrays]
    torch_inputs = [torch.tensor(numpy.asarray(a, dtype), requires_grad=True) for a in arrays]
    out = mg_fn(*mg_inputs)
    expected = torch_fn(*torch_inputs)
    assert out.dtype == dtype, f"output dtype {out.dtype}, inputs {numpy.dtype(dtype)}"
    assert backend.array_module(out.data) is xp
    assert_close(out, expected, "output", rtol)
    upstream = numpy.asarray(rng.standard_normal(tuple(expected.shape)), dtype)
    out.backward(xp.asarray(upstream))
    expected.backward(torch.from_numpy(upstream))
    for index, (mine, theirs) in enumerate(zip(mg_inputs, torch_inputs)):
        assert mine.grad is not None, f"input {index} got no gradient"
        assert backend.array_module(mine.grad) is xp and mine.grad.dtype == dtype
        assert_close(mine.grad, theirs.grad, f"gradient of input {index}", rtol)
    return out, expected


def load_from_torch(module, torch_module):
    """Copy a torch module's state into a minigan module, through NumPy."""
    module.load_state_dict({k: v.detach().cpu().numpy() for k, v in torch_module.state_dict().items()})


def assert_same_state(module, torch_module, what, rtol=1e-9):
    """The same state_dict keys, in the same order, with the same values."""
    theirs = torch_module.state_dict()
    mine = module.state_dict()
    assert list(mine) == list(theirs)
    for key, value in theirs.items():
        if not value.dtype.is_floating_point:
            assert int(as_numpy(mine[key])) == int(value), f"{what}: {key}"
        else:
            assert_close(mine[key], value, f"{what}: {key}", rtol)
