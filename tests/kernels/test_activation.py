"""The activation kernels (kernels/activation.py) on every backend, against NumPy formulas."""
import numpy
import pytest

from minigan.kernels import activation

SHAPES = [(2, 3, 5, 4), (4, 8, 1, 1), (1, 2, 7), (3, 4, 13, 11), (37, 5)]
DTYPES = [numpy.float32, numpy.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("slope", [0.0, 0.2])
def test_leaky_relu(kernel_backend, rng, shape, dtype, slope):
    """Forward and backward equal the reference exactly (one rounding each, the same one)."""
    k = kernel_backend
    x, grad = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    y = k.get(k.table.leaky_relu(k.put(x), slope))
    assert y.dtype == dtype and y.shape == x.shape
    numpy.testing.assert_array_equal(y, activation.leaky_relu_reference(x, slope))
    numpy.testing.assert_array_equal(k.get(k.table.leaky_relu_backward(k.put(grad), k.put(y), slope)),
                                     activation.leaky_relu_backward_reference(grad, y, slope))


def test_leaky_relu_reference_against_its_definition():
    x = numpy.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    numpy.testing.assert_array_equal(activation.leaky_relu_reference(x, 0.1), [-0.2, -0.05, 0.0, 0.5, 2.0])
    numpy.testing.assert_array_equal(activation.leaky_relu_backward_reference(numpy.ones(5), x, 0.1),
                                     [0.1, 0.1, 0.1, 1.0, 1.0])


def test_leaky_relu_backward_refuses_a_negative_slope(kernel_backend):
    k = kernel_backend
    for backward in (k.table.leaky_relu_backward, activation.leaky_relu_backward_reference):
        with pytest.raises(ValueError, match="negative_slope"):
            backward(k.put(numpy.ones(3)), k.put(numpy.ones(3)), -0.1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_tanh_backward(kernel_backend, rng, shape, dtype):
    """grad * (1 - y^2) against the float64 formula, y = tanh(x) and so in (-1, 1)."""
    k = kernel_backend
    y, grad = numpy.tanh(rng.standard_normal(shape) * 2).astype(dtype), rng.standard_normal(shape).astype(dtype)
    grad_x = k.get(k.table.tanh_backward(k.put(grad), k.put(y)))
    assert grad_x.dtype == dtype and grad_x.shape == shape
    wide = grad.astype(numpy.float64), y.astype(numpy.float64)
    numpy.testing.assert_allclose(grad_x, activation.tanh_backward_reference(*wide),
                                  **({"rtol": 1e-6, "atol": 1e-6} if dtype == numpy.float32 else {"rtol": 1e-14}))


def test_tanh_backward_reference_against_its_definition():
    numpy.testing.assert_allclose(activation.tanh_backward_reference(numpy.array([2.0, 1.0, 3.0]),
                                                                     numpy.array([0.0, 0.5, -1.0])),
                                  [2.0, 0.75, 0.0])


@pytest.mark.parametrize("order", [(0, 1, 2, 3), (3, 0, 1, 2)], ids=["nchw", "batch-innermost"])
def test_tanh_backward_keeps_the_memory_order(kernel_backend, rng, order):
    k = kernel_backend
    y = k.put(numpy.tanh(rng.standard_normal((3, 4, 5, 2)))).transpose(order)
    grad = rng.standard_normal(y.shape)  # C-contiguous
    grad_x = k.table.tanh_backward(k.put(grad), y)
    assert grad_x.strides == y.strides
    numpy.testing.assert_allclose(k.get(grad_x), activation.tanh_backward_reference(grad, k.get(y)), rtol=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid(kernel_backend, dtype):
    k = kernel_backend
    rng = numpy.random.default_rng(3)
    x = numpy.concatenate([rng.standard_normal(600) * 4, [-800, -100, -20, 0, 20, 100, 800]]).astype(dtype)
    with numpy.errstate(over="ignore"):  # exp(800) is inf in float64 too: 1 / (1 + inf) = 0, right
        sigmoid = 1 / (1 + numpy.exp(-x.astype(numpy.float64)))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == numpy.float32 else dict(rtol=1e-12, atol=1e-14)
    y = k.get(k.table.sigmoid(k.put(x)))
    assert y.dtype == dtype
    numpy.testing.assert_allclose(y, sigmoid, **tol)


@pytest.mark.parametrize("order", [(0, 1, 2, 3), (3, 0, 1, 2), (1, 0, 3, 2)], ids=["nchw", "batch-innermost", "mixed"])
def test_leaky_relu_keeps_the_memory_order(kernel_backend, rng, order):
    """Output and input gradient are laid out as the input (a batch-innermost image stays
    one), whatever layout the upstream gradient comes in, and equal the reference."""
    k = kernel_backend
    memory = rng.standard_normal((3, 4, 5, 2))
    x = k.put(memory).transpose(order)
    y = k.table.leaky_relu(x, 0.2)
    assert y.strides == x.strides
    numpy.testing.assert_array_equal(k.get(y), activation.leaky_relu_reference(k.get(x), 0.2))
    grad = rng.standard_normal(x.shape)  # C-contiguous, another layout than y's unless order is NCHW
    grad_x = k.table.leaky_relu_backward(k.put(grad), y, 0.2)
    assert grad_x.strides == y.strides
    numpy.testing.assert_array_equal(k.get(grad_x), activation.leaky_relu_backward_reference(grad, k.get(y), 0.2))
    sliced = x[:, ::2]  # not dense in any order: computed on a copy
    numpy.testing.assert_array_equal(k.get(k.table.leaky_relu(sliced, 0.2)),
                                     activation.leaky_relu_reference(k.get(sliced), 0.2))
