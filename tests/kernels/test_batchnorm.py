"""Batch normalization's kernels (kernels/batchnorm.py) on every backend, against the plain NumPy reference."""
import numpy
import pytest

from minigan.kernels import batchnorm

SHAPES = [(2, 3, 5, 4), (4, 8, 1, 1), (1, 2, 7), (8, 3, 9, 7), (50, 6)]
DTYPES = [numpy.float32, numpy.float64]


def tolerance(dtype):
    return {"rtol": 2e-5, "atol": 2e-5} if dtype == numpy.float32 else {"rtol": 1e-11, "atol": 1e-12}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_batch_norm_stats(kernel_backend, rng, shape, dtype, offset):
    """The shifted one-pass sums keep the variance when the mean is large."""
    k = kernel_backend
    x = (rng.standard_normal(shape) + offset).astype(dtype)
    mean, var = (k.get(a) for a in k.table.batch_norm_stats(k.put(x)))
    ref_mean, ref_var = batchnorm.batch_norm_stats_reference(x.astype(numpy.float64))
    assert mean.dtype == var.dtype == dtype and mean.shape == var.shape == (shape[1],)
    numpy.testing.assert_allclose(mean, ref_mean, **({"rtol": 1e-6, "atol": 1e-6} if dtype == numpy.float32
                                                     else {"rtol": 1e-14, "atol": 1e-13}))
    numpy.testing.assert_allclose(var, ref_var, rtol=1e-4 if dtype == numpy.float32 else 1e-10)


def test_batch_norm_stats_refuses_an_empty_batch(kernel_backend):
    with pytest.raises(ValueError, match="no values per channel"):
        kernel_backend.table.batch_norm_stats(kernel_backend.put(numpy.zeros((0, 3, 2, 2))))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [(True, True), (False, False), (True, False), (False, True)])
def test_batch_norm_forward_apply(kernel_backend, rng, shape, dtype, affine):
    k, c = kernel_backend, shape[1]
    x = rng.standard_normal(shape).astype(dtype)
    mean, inv_std = rng.standard_normal(c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype)
    weight = rng.standard_normal(c).astype(dtype) if affine[0] else None
    bias = rng.standard_normal(c).astype(dtype) if affine[1] else None
    y, x_hat = k.table.batch_norm_forward_apply(k.put(x), k.put(mean), k.put(inv_std),
                                                *(None if a is None else k.put(a) for a in (weight, bias)))
    assert y is not x_hat and y.dtype == x_hat.dtype == dtype
    ref_y, ref_x_hat = batchnorm.batch_norm_forward_apply_reference(x, mean, inv_std, weight, bias)
    numpy.testing.assert_allclose(k.get(x_hat), ref_x_hat, **tolerance(dtype))
    numpy.testing.assert_allclose(k.get(y), ref_y, **tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_backward(kernel_backend, rng, shape, dtype):
    k, c = kernel_backend, shape[1]
    grad_y, x_hat = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    sums = k.table.batch_norm_backward_reductions(k.put(grad_y), k.put(x_hat))
    ref_sums = batchnorm.batch_norm_backward_reductions_reference(grad_y.astype(numpy.float64), x_hat)
    for got, want in zip(sums, ref_sums):
        assert got.dtype == dtype and got.shape == (c,)
        numpy.testing.assert_allclose(k.get(got), want, **tolerance(dtype))
    scale, mean_dy, mean_dy_xhat = (rng.standard_normal(c).astype(dtype) for _ in range(3))
    numpy.testing.assert_allclose(
        k.get(k.table.batch_norm_backward_apply(*map(k.put, (grad_y, x_hat, scale, mean_dy, mean_dy_xhat)))),
        batchnorm.batch_norm_backward_apply_reference(grad_y, x_hat, scale, mean_dy, mean_dy_xhat),
        **tolerance(dtype))


def test_cpu_reductions_do_not_depend_on_the_thread_count(rng):
    import numba
    x = rng.standard_normal((8, 5, 6, 6)).astype(numpy.float32)
    before = numba.get_num_threads()
    results = []
    try:
        for threads in sorted({1, before}):
            numba.set_num_threads(threads)
            results.append((*batchnorm.batch_norm_stats_cpu(x),
                            *batchnorm.batch_norm_backward_reductions_cpu(x, x * 2)))
    finally:
        numba.set_num_threads(before)
    for a, b in zip(results[0], results[-1]):
        numpy.testing.assert_array_equal(a, b)
