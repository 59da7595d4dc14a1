"""softmax and the classification losses where the specs cannot go: a loss of NaN (every
target ignored, which gradient checks and tolerances cannot compare), and softmax's dtype."""
import numpy
import pytest

from minigan import Tensor
from minigan import functional as F


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_every_target_ignored_gives_torchs_nan_mean_and_zero_sum(torch, name):
    x = numpy.random.default_rng(0).standard_normal((3, 4))
    target = numpy.full(3, -100)
    for reduction in ("mean", "sum", "none"):
        a = Tensor(x, requires_grad=True)
        b = torch.tensor(x, requires_grad=True)
        with numpy.errstate(invalid="ignore"):  # 0 / 0, as torch computes it
            out = getattr(F, name)(a, Tensor(target), reduction=reduction)
            expected = getattr(torch.nn.functional, name)(b, torch.from_numpy(target), reduction=reduction)
            numpy.testing.assert_array_equal(out.data, expected.detach().numpy())
            out.backward(numpy.ones(out.shape))
        expected.backward(torch.ones(expected.shape, dtype=torch.float64))
        numpy.testing.assert_array_equal(a.grad, b.grad.numpy())


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
