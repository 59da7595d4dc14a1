"""The GELU kernels (kernels/gelu.py) on every backend, against the reference, and the reference
against torch's documented values and against finite differences of itself."""
import math

import numpy
import pytest

from minigan.kernels import gelu

SHAPES = [(2, 3, 5, 4), (1, 2, 7), (37, 5)]
DTYPES = [numpy.float32, numpy.float64]
# Relative to the largest magnitude: float32's slope cancels to near 0 around x = -0.75.
RTOL = {numpy.float32: 1e-6, numpy.float64: 1e-13}


def assert_close(actual, expected):
    scale = numpy.abs(expected).max()
    numpy.testing.assert_allclose(actual, expected, rtol=0, atol=RTOL[expected.dtype.type] * scale)


@pytest.mark.parametrize("approximate", gelu.APPROXIMATIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_gelu_matches_reference(kernel_backend, rng, shape, dtype, approximate):
    k = kernel_backend
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    grad = rng.standard_normal(shape).astype(dtype)
    y = k.get(k.table.gelu(k.put(x), approximate))
    assert y.dtype == dtype and y.shape == x.shape
    assert_close(y, gelu.gelu_reference(x, approximate))
    grad_x = k.get(k.table.gelu_backward(k.put(grad), k.put(x), approximate))
    assert grad_x.dtype == dtype and grad_x.shape == x.shape
    assert_close(grad_x, gelu.gelu_backward_reference(grad, x, approximate))


def test_reference_at_known_values():
    """x * Phi(x) at points where Phi is known in closed form or tabulated."""
    x = numpy.array([0.0, 1.0, -1.0, 2.0, -30.0, 30.0])
    phi = numpy.array([0.5, 0.8413447460685429, 0.15865525393145707, 0.9772498680518208, 0.0, 1.0])
    numpy.testing.assert_allclose(gelu.gelu_reference(x), x * phi, rtol=1e-14, atol=1e-300)
    # tanh form: at x = 0 the value is 0 and the slope 1/2; far out it is relu
    numpy.testing.assert_allclose(gelu.gelu_reference(x, "tanh"), numpy.where(numpy.abs(x) > 10, numpy.maximum(x, 0),
                                  0.5 * x * (1 + numpy.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))))
    numpy.testing.assert_allclose(gelu.gelu_backward_reference(numpy.ones(1), numpy.zeros(1), "tanh"), [0.5])


@pytest.mark.parametrize("approximate", gelu.APPROXIMATIONS)
def test_reference_backward_is_the_derivative(approximate):
    x = numpy.linspace(-5, 5, 41)
    h = 1e-6
    numeric = (gelu.gelu_reference(x + h, approximate) - gelu.gelu_reference(x - h, approximate)) / (2 * h)
    numpy.testing.assert_allclose(gelu.gelu_backward_reference(numpy.ones_like(x), x, approximate), numeric,
                                  rtol=1e-7, atol=1e-9)


def test_unknown_approximation_is_refused(kernel_backend):
    k = kernel_backend
    for fn in (lambda: k.table.gelu(k.put(numpy.ones(3)), "erf"),
               lambda: k.table.gelu_backward(k.put(numpy.ones(3)), k.put(numpy.ones(3)), "Tanh")):
        with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got"):
            fn()
