"""Interim op checks of avg_pool2d and max_pool2d, until their op-spec entries replace this file."""
import numpy
import pytest

from minigan import Tensor, backend, gradcheck, nn
from minigan import functional as F

SETTINGS = [(2, None, 0), (3, 2, 1), ((2, 3), (1, 2), (1, 1)), (3, 1, 1)]
OPS = {"avg_pool2d": F.avg_pool2d, "max_pool2d": F.max_pool2d}


def distinct(rng, shape):
    """Values 0.1 apart: no tie within a finite-difference step of a maximum."""
    return rng.permutation(numpy.prod(shape)).reshape(shape) / 10


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("op", OPS)
def test_gradcheck(xp, rng, op, setting):
    x = Tensor(xp.asarray(distinct(rng, (2, 3, 7, 6))), requires_grad=True)
    assert gradcheck(lambda t: OPS[op](t, *setting), [x])


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("op", OPS)
def test_torch_parity(torch, rng, op, setting, dtype):
    x = distinct(rng, (2, 3, 7, 6)).astype(dtype)
    mine, theirs = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, expected = OPS[op](mine, *setting), getattr(torch.nn.functional, op)(theirs, *setting)
    upstream = rng.standard_normal(expected.shape).astype(dtype)
    y.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    tol = 1e-12 if dtype == numpy.float64 else 1e-6
    numpy.testing.assert_allclose(y.numpy(), expected.detach().numpy(), rtol=tol, atol=tol)
    numpy.testing.assert_allclose(mine.grad, theirs.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
@pytest.mark.parametrize("op", OPS)
def test_device_matches_numpy(device_xp, rng, op, dtype):
    x = distinct(rng, (2, 3, 7, 6)).astype(dtype)
    results = []
    for xp in (numpy, device_xp):
        t = Tensor(xp.asarray(x), requires_grad=True)
        y = OPS[op](t, 3, 2, 1)
        y.backward(xp.asarray(numpy.linspace(-1, 1, y.size, dtype=dtype).reshape(y.shape)))
        assert backend.array_module(y.data) is xp
        results.append((backend.to_numpy(y.data), backend.to_numpy(t.grad)))
    for got, expected in zip(results[1], results[0]):
        numpy.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(kernel_size=0), ValueError, "kernel_size must be an int >= 1 or a pair of them, got 0"),
    (dict(kernel_size=2.0), ValueError, "kernel_size must be an int >= 1 or a pair of them, got 2.0"),
    (dict(kernel_size=2, stride=(1,)), ValueError, r"stride must be .* got \(1,\)"),
    (dict(kernel_size=2, padding=-1), ValueError, "padding must be an int >= 0"),
    (dict(kernel_size=2, padding=2), ValueError, r"padding \(2, 2\) must be at most half of kernel_size"),
    (dict(kernel_size=9), ValueError, "larger than the padded input"),
    (dict(kernel_size=2, ceil_mode=True), NotImplementedError, "ceil_mode=True is not supported"),
])
def test_bad_inputs(op, kwargs, error, match):
    with pytest.raises(error, match=match):
        OPS[op](Tensor(numpy.zeros((1, 1, 7, 6))), **kwargs)
    with pytest.raises(ValueError, match="must be 4-D"):
        OPS[op](Tensor(numpy.zeros((7, 6))), 2)


def test_modules_match_torch_constructors(torch):
    x = numpy.random.default_rng(0).standard_normal((2, 3, 8, 8))
    for mine, theirs in [(nn.MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1)),
                         (nn.AvgPool2d(2), torch.nn.AvgPool2d(2)),
                         (nn.AvgPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=False),
                          torch.nn.AvgPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=False))]:
        expected = theirs(torch.from_numpy(x)).numpy()
        numpy.testing.assert_allclose(mine(Tensor(x)).numpy(), expected, rtol=1e-12)
        assert mine.state_dict() == {} and len(theirs.state_dict()) == 0
