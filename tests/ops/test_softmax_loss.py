"""softmax and the classification losses where the specs cannot go: a loss of NaN (every
target ignored, which gradient checks and tolerances cannot compare), and softmax's dtype."""
import numpy
import pytest

import minigan
from minigan import Tensor
from minigan import functional as F


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_every_target_ignored_gives_torchs_nan_mean_and_zero_sum(torch, name, create_graph):
    x = numpy.random.default_rng(0).standard_normal((3, 4))
    target = numpy.full(3, -100)
    for reduction in ("mean", "sum", "none"):
        a = Tensor(x, requires_grad=True)
        b = torch.tensor(x, requires_grad=True)
        with numpy.errstate(invalid="ignore", divide="ignore"):  # 0 / 0, as torch computes it
            out = getattr(F, name)(a, Tensor(target), reduction=reduction)
            expected = getattr(torch.nn.functional, name)(b, torch.from_numpy(target), reduction=reduction)
            numpy.testing.assert_array_equal(out.data, expected.detach().numpy())
            grad, = minigan.grad(out, a, numpy.ones(out.shape), create_graph=create_graph)
        expected.backward(torch.ones(expected.shape, dtype=torch.float64))
        numpy.testing.assert_array_equal(grad.data, b.grad.numpy())


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_dtype_casts_the_input_first_as_torch(torch, name):
    x = numpy.random.default_rng(1).standard_normal((4, 5)).astype(numpy.float32)
    a = Tensor(x, requires_grad=True)
    out = getattr(F, name)(a, dim=1, dtype=numpy.float64)
    expected = getattr(torch.nn.functional, name)(torch.from_numpy(x), dim=1, dtype=torch.float64)
    assert out.dtype == numpy.float64
    numpy.testing.assert_allclose(out.data, expected.numpy(), rtol=1e-12)
    out.backward(numpy.ones((4, 5)))
    assert a.grad.dtype == numpy.float32


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_dtype_double_backward_as_torch(torch, name):
    """The recorded gradient comes back in the input's dtype, and so does its own gradient."""
    rng = numpy.random.default_rng(2)
    x = rng.standard_normal((4, 5)).astype(numpy.float32)
    upstream, probe = rng.standard_normal((4, 5)), rng.standard_normal((4, 5)).astype(numpy.float32)
    results = []
    for lib in (torch, minigan):
        a = (torch.tensor if lib is torch else Tensor)(x, requires_grad=True)
        functional = torch.nn.functional if lib is torch else F
        out = getattr(functional, name)(a, dim=1, dtype=torch.float64 if lib is torch else numpy.float64)
        grad = torch.autograd.grad if lib is torch else minigan.grad
        g, = grad(out, a, (torch.tensor if lib is torch else Tensor)(upstream), create_graph=True)
        (g * (torch.tensor if lib is torch else Tensor)(probe)).sum().backward()
        results.append((g, a.grad))
    for mine, theirs in zip(results[1], results[0]):
        assert mine.dtype == numpy.float32
        numpy.testing.assert_allclose(mine.data if isinstance(mine, Tensor) else mine, theirs.detach().numpy(),
                                      rtol=1e-5, atol=1e-6)
