"""The fused CPU kernels (kernels/cpu.py) against their plain-NumPy definitions (kernels/reference.py)."""
import numpy
import pytest

from minigan.kernels import cpu, reference

SHAPES = [(2, 3, 5, 4), (4, 8, 1, 1), (1, 2, 7)]
DTYPES = [numpy.float32, numpy.float64]


def tolerance(dtype):
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == numpy.float32 else {"rtol": 1e-12, "atol": 1e-13}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("slope", [0.0, 0.2])
@pytest.mark.parametrize("with_bias", [False, True])
def test_bias_leaky_relu(rng, shape, dtype, slope, with_bias):
    x = rng.standard_normal(shape).astype(dtype)
    bias = rng.standard_normal(shape[1]).astype(dtype) if with_bias else None
    y = cpu.bias_leaky_relu(x, bias, slope)
    assert y.dtype == dtype and y.shape == x.shape
    numpy.testing.assert_array_equal(y, reference.bias_leaky_relu(x, bias, slope))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("slope", [0.0, 0.2])
def test_bias_leaky_relu_backward(rng, shape, dtype, slope):
    y = cpu.bias_leaky_relu(rng.standard_normal(shape).astype(dtype), None, slope)
    grad = rng.standard_normal(shape).astype(dtype)
    numpy.testing.assert_array_equal(cpu.bias_leaky_relu_backward(grad, y, slope),
                                     reference.bias_leaky_relu_backward(grad, y, slope))
    grad_x, grad_bias = cpu.bias_leaky_relu_backward(grad, y, slope, bias_grad=True)
    ref_x, ref_bias = reference.bias_leaky_relu_backward(grad, y, slope, bias_grad=True)
    numpy.testing.assert_array_equal(grad_x, ref_x)
    assert grad_bias.dtype == dtype and grad_bias.shape == (shape[1],)
    numpy.testing.assert_allclose(grad_bias, ref_bias, **tolerance(dtype))


def test_leaky_relu_backward_refuses_a_negative_slope():
    with pytest.raises(ValueError, match="negative_slope"):
        cpu.bias_leaky_relu_backward(numpy.ones(3), numpy.ones(3), -0.1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_batch_norm_stats(rng, shape, dtype, offset):
    """The shifted one-pass sums keep the variance when the mean is large."""
    x = (rng.standard_normal(shape) + offset).astype(dtype)
    mean, var = cpu.batch_norm_stats(x)
    ref_mean, ref_var = reference.batch_norm_stats(x.astype(numpy.float64))
    assert mean.dtype == var.dtype == dtype
    numpy.testing.assert_allclose(mean, ref_mean, **tolerance(dtype))
    numpy.testing.assert_allclose(var, ref_var, rtol=1e-4 if dtype == numpy.float32 else 1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [(True, True), (False, False), (True, False), (False, True)])
def test_batch_norm_forward_apply(rng, shape, dtype, affine):
    c = shape[1]
    x = rng.standard_normal(shape).astype(dtype)
    mean, inv_std = rng.standard_normal(c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype)
    weight = rng.standard_normal(c).astype(dtype) if affine[0] else None
    bias = rng.standard_normal(c).astype(dtype) if affine[1] else None
    y, x_hat = cpu.batch_norm_forward_apply(x, mean, inv_std, weight, bias)
    ref_y, ref_x_hat = reference.batch_norm_forward_apply(x, mean, inv_std, weight, bias)
    assert y is not x_hat and y.dtype == x_hat.dtype == dtype
    numpy.testing.assert_allclose(x_hat, ref_x_hat, **tolerance(dtype))
    numpy.testing.assert_allclose(y, ref_y, **tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_backward(rng, shape, dtype):
    c = shape[1]
    grad_y, x_hat = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    sums = cpu.batch_norm_backward_reductions(grad_y, x_hat)
    for got, want in zip(sums, reference.batch_norm_backward_reductions(grad_y, x_hat)):
        assert got.dtype == dtype and got.shape == (c,)
        numpy.testing.assert_allclose(got, want, **tolerance(dtype))
    scale, mean_dy, mean_dy_xhat = (rng.standard_normal(c).astype(dtype) for _ in range(3))
    numpy.testing.assert_allclose(
        cpu.batch_norm_backward_apply(grad_y, x_hat, scale, mean_dy, mean_dy_xhat),
        reference.batch_norm_backward_apply(grad_y, x_hat, scale, mean_dy, mean_dy_xhat),
        **tolerance(dtype))


def test_reductions_do_not_depend_on_the_thread_count(rng):
    import numba
    x = rng.standard_normal((8, 5, 6, 6)).astype(numpy.float32)
    before = numba.get_num_threads()
    results = []
    try:
        for threads in sorted({1, before}):
            numba.set_num_threads(threads)
            results.append((*cpu.batch_norm_stats(x), *cpu.batch_norm_backward_reductions(x, x * 2)))
    finally:
        numba.set_num_threads(before)
    for a, b in zip(results[0], results[-1]):
        numpy.testing.assert_array_equal(a, b)
