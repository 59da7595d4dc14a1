"""Batch normalization's kernels, fused with a LeakyReLU (kernels/batchnorm.py), on every backend, against
the plain NumPy reference.

The kernels take channel rows (C, M); the ops pass batch-innermost images as (C, H*W*N).
"""
import numpy
import pytest

from minigan.kernels import batchnorm

SHAPES = [(3, 40), (8, 4), (2, 7), (3, 9 * 7 * 8), (6, 50), (1, 2)]
DTYPES = [numpy.float32, numpy.float64]


def tolerance(dtype):
    return {"rtol": 2e-5, "atol": 2e-5} if dtype == numpy.float32 else {"rtol": 1e-11, "atol": 1e-12}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_batch_norm_stats(kernel_backend, rng, shape, dtype, offset):
    """The shifted one-pass sums keep the variance when the mean is large; the running
    statistics move by momentum towards the mean and the unbiased variance."""
    k, c = kernel_backend, shape[0]
    x = (rng.standard_normal(shape) * 2 + offset).astype(dtype)
    start_mean, start_var = rng.standard_normal(c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype)
    running_mean, running_var = k.put(start_mean.copy()), k.put(start_var.copy())
    mean, inv_std = (k.get(a) for a in k.table.batch_norm_stats(k.put(x), 1e-3, 0.25, running_mean, running_var))
    x64 = x.astype(numpy.float64)
    ref_mean, ref_var = x64.mean(axis=1), x64.var(axis=1)
    assert mean.dtype == inv_std.dtype == dtype and mean.shape == inv_std.shape == (c,)
    numpy.testing.assert_allclose(mean, ref_mean, **({"rtol": 1e-6, "atol": 1e-6} if dtype == numpy.float32
                                                     else {"rtol": 1e-14, "atol": 1e-13}))
    var_tol = 1e-4 if dtype == numpy.float32 else 1e-10
    numpy.testing.assert_allclose(inv_std, 1 / numpy.sqrt(ref_var + 1e-3), rtol=var_tol)
    numpy.testing.assert_allclose(k.get(running_mean), 0.75 * start_mean + 0.25 * ref_mean, rtol=var_tol)
    unbiased = x64.var(axis=1, ddof=1)
    numpy.testing.assert_allclose(k.get(running_var), 0.75 * start_var + 0.25 * unbiased, rtol=var_tol)
    # Without running statistics, the same mean and inv_std, and nothing else written.
    again = [k.get(a) for a in k.table.batch_norm_stats(k.put(x), 1e-3)]
    numpy.testing.assert_array_equal(again[0], mean)
    numpy.testing.assert_array_equal(again[1], inv_std)


def test_batch_norm_stats_reference_against_its_definition():
    x = numpy.array([[1.0, 2.0, 3.0, 6.0], [-1.0, -1.0, 1.0, 1.0]])
    running_mean, running_var = numpy.zeros(2), numpy.ones(2)
    mean, inv_std = batchnorm.batch_norm_stats_reference(x, 0.0, 0.5, running_mean, running_var)
    numpy.testing.assert_allclose(mean, [3.0, 0.0])
    numpy.testing.assert_allclose(inv_std, [1 / numpy.sqrt(3.5), 1.0])
    numpy.testing.assert_allclose(running_mean, [1.5, 0.0])
    numpy.testing.assert_allclose(running_var, [0.5 + 0.5 * 14 / 3, 0.5 + 0.5 * 4 / 3])


def test_batch_norm_stats_refuses_bad_rows_and_running_statistics(kernel_backend):
    k = kernel_backend
    with pytest.raises(ValueError, match=r"channel rows \(C, M\) with M > 0"):
        k.table.batch_norm_stats(k.put(numpy.zeros((3, 0))), 1e-5)
    x = k.put(numpy.zeros((3, 4)))
    with pytest.raises(ValueError, match="both running_mean and running_var"):
        k.table.batch_norm_stats(x, 1e-5, 0.1, k.put(numpy.zeros(3)), None)
    with pytest.raises(ValueError, match=r"running_var must be a contiguous \(3,\) array of float64"):
        k.table.batch_norm_stats(x, 1e-5, 0.1, k.put(numpy.zeros(3)), k.put(numpy.zeros(6))[::2])


SLOPES = [batchnorm.IDENTITY, 0.0, 0.2, -0.5]  # none, ReLU, DCGAN's LeakyReLU, a negative slope


def per_channel(rng, c, dtype, affine=(True, True)):
    """mean, inv_std, weight and bias (None where affine says so) of c channels."""
    mean, inv_std = rng.standard_normal(c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype)
    weight = rng.standard_normal(c).astype(dtype) if affine[0] else None
    bias = rng.standard_normal(c).astype(dtype) if affine[1] else None
    return [mean, inv_std, weight, bias]


def put_all(k, arrays):
    return [None if a is None else k.put(a) for a in arrays]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [(True, True), (False, False), (True, False), (False, True)])
@pytest.mark.parametrize("slope", SLOPES)
def test_batch_norm_forward_apply(kernel_backend, rng, shape, dtype, affine, slope):
    k = kernel_backend
    x = rng.standard_normal(shape).astype(dtype)
    channel = per_channel(rng, shape[0], dtype, affine)
    y = k.table.batch_norm_forward_apply(k.put(x), *put_all(k, channel), slope)
    assert y.dtype == dtype and y.shape == shape
    numpy.testing.assert_allclose(k.get(y), batchnorm.batch_norm_forward_apply_reference(x, *channel, slope),
                                  **tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("slope", SLOPES)
@pytest.mark.parametrize("affine", [(True, True), (False, False)])
@pytest.mark.parametrize("batch_statistics", [True, False])
def test_batch_norm_backward(kernel_backend, rng, shape, dtype, slope, affine, batch_statistics):
    """The sums (the bias and weight gradients) and the compact input gradient, training's or
    evaluation's, against the float64 reference; the sums new arrays when no place is given."""
    k, c = kernel_backend, shape[0]
    grad_y, x = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    channel = per_channel(rng, c, dtype, affine)
    got = k.table.batch_norm_backward(k.put(grad_y), k.put(x), *put_all(k, channel), slope, batch_statistics)
    wide = [None if a is None else a.astype(numpy.float64) for a in (grad_y, x, *channel)]
    want = batchnorm.batch_norm_backward_reference(*wide, slope, batch_statistics)
    for name, g, w in zip(("grad_x", "grad_weight", "grad_bias"), got, want):
        assert g.dtype == dtype and g.shape == w.shape, name
        numpy.testing.assert_allclose(k.get(g), w, **tolerance(dtype), err_msg=name)


@pytest.mark.parametrize("accumulate", [(False, False), (True, False), (False, True), (True, True)])
def test_batch_norm_backward_writes_or_adds_its_sums_in_place(kernel_backend, rng, accumulate):
    """Given places for the weight and bias gradients, it writes the sums there (or adds them to
    what is there, as flagged) and returns those arrays; grad_x is this call's all the same."""
    k, shape = kernel_backend, (3, 40)
    grad_y, x = (rng.standard_normal(shape).astype(numpy.float32) for _ in range(2))
    inputs = [k.put(a) for a in (grad_y, x, *per_channel(rng, 3, numpy.float32))]
    fresh = [k.get(a) for a in k.table.batch_norm_backward(*inputs, 0.2)]
    before = [rng.standard_normal(3).astype(numpy.float32) for _ in range(2)]
    homes = [k.put(b.copy()) for b in before]
    got = k.table.batch_norm_backward(*inputs, 0.2, True, *homes, accumulate)
    assert got[1] is homes[0] and got[2] is homes[1]
    numpy.testing.assert_array_equal(k.get(got[0]), fresh[0])
    for home, old, total, add in zip(homes, before, fresh[1:], accumulate):
        numpy.testing.assert_array_equal(k.get(home), old + total if add else total)
    with pytest.raises(ValueError, match=r"grad_bias must be a contiguous \(3,\) array of float32"):
        k.table.batch_norm_backward(*inputs, 0.2, True, None, k.put(before[0][:2]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_applies_the_slope_where_forward_did(kernel_backend, rng, dtype):
    """Backward recomputes z from x: where forward's z was positive (y > 0), its ReLU gradient
    passes, elsewhere it is 0, exactly, even for z within rounding of 0. Each row repeats 8
    values, the bias putting z of the first within an ulp or so of 0."""
    k, c = kernel_backend, 4
    values = rng.standard_normal((c, 8)).astype(dtype)
    x = numpy.repeat(values, 9, axis=1)
    mean, inv_std, weight, _ = per_channel(rng, c, dtype)
    bias = (-((values[:, 0] - mean) * inv_std) * weight).astype(dtype)
    channel = [mean, inv_std, weight, bias]
    y = k.get(k.table.batch_norm_forward_apply(k.put(x), *put_all(k, channel), 0.0))
    ones = numpy.ones_like(x)
    grad_x, _, sum_dz = k.table.batch_norm_backward(k.put(ones), k.put(x), *put_all(k, channel), 0.0, False)
    numpy.testing.assert_array_equal(k.get(sum_dz), (y > 0).sum(axis=1))
    numpy.testing.assert_array_equal(k.get(grad_x) != 0, y > 0)


def test_the_references_against_batchnorm_then_leaky_relu():
    """The fused references equal the two steps written out: normalize, scale and shift, then
    LeakyReLU; backward, LeakyReLU's gradient, then batchnorm's compact formula."""
    rng = numpy.random.default_rng(3)
    x, grad_y = rng.standard_normal((3, 20)), rng.standard_normal((3, 20))
    mean, inv_std, weight, bias = rng.standard_normal(3), rng.uniform(0.5, 2, 3), *rng.standard_normal((2, 3))
    x_hat = (x - mean[:, None]) * inv_std[:, None]
    z = x_hat * weight[:, None] + bias[:, None]
    numpy.testing.assert_allclose(batchnorm.batch_norm_forward_apply_reference(x, mean, inv_std, weight, bias, 0.2),
                                  numpy.maximum(z, 0.2 * z), rtol=1e-15)
    dz = grad_y * numpy.where(z > 0, 1.0, 0.2)
    grad_x, grad_weight, grad_bias = batchnorm.batch_norm_backward_reference(grad_y, x, mean, inv_std, weight,
                                                                             bias, 0.2)
    numpy.testing.assert_allclose(grad_bias, dz.sum(axis=1), rtol=1e-13)
    numpy.testing.assert_allclose(grad_weight, (dz * x_hat).sum(axis=1), rtol=1e-13)
    scale = (weight * inv_std)[:, None]
    trained = scale * (dz - dz.mean(axis=1, keepdims=True) - x_hat * (dz * x_hat).mean(axis=1, keepdims=True))
    numpy.testing.assert_allclose(grad_x, trained, rtol=1e-12, atol=1e-14)
    numpy.testing.assert_allclose(batchnorm.batch_norm_backward_reference(
        grad_y, x, mean, inv_std, weight, bias, 0.2, False)[0], scale * dz, rtol=1e-15)


def test_cpu_reductions_do_not_depend_on_the_thread_count(rng):
    import numba
    x = rng.standard_normal((5, 8 * 36)).astype(numpy.float32)
    channel = per_channel(rng, 5, numpy.float32)
    before = numba.get_num_threads()
    results = []
    try:
        for threads in sorted({1, before}):
            numba.set_num_threads(threads)
            results.append((*batchnorm.batch_norm_stats_cpu(x, 1e-5),
                            *batchnorm.batch_norm_backward_cpu(x, x * 2, *channel, 0.2)))
    finally:
        numba.set_num_threads(before)
    for a, b in zip(results[0], results[-1]):
        numpy.testing.assert_array_equal(a, b)


def _recorded_function(replay):
    """The name of what a replay of the emulated device (tests/support/emulated_device.py) runs again."""
    run = replay.__closure__[1].cell_contents
    return run.__qualname__, [getattr(cell.cell_contents, "__name__", None) for cell in run.__closure__ or ()]


def _allocates_only(replay):
    """A recorded allocation or view, which costs no launch on a GPU (ascontiguousarray of contiguous arrays)."""
    return bool({"empty", "empty_like", "reshape", "ascontiguousarray"} & set(_recorded_function(replay)[1]))


def _is_kernel_launch(replay):
    return _recorded_function(replay)[0].startswith("_RecordedKernel.")


def test_cuda_training_forward_is_two_launches(emulated_cupy):
    """On the GPU, batchnorm's training forward (statistics, inv_std, running statistics,
    normalize and scale) is two kernel launches, counted by the emulator, and nothing else
    computes: the running statistics are updated by the first kernel."""
    from minigan import Tensor
    from minigan import functional as F
    from minigan.functional.layout import as_nchw

    rng = numpy.random.default_rng(0)
    cp = emulated_cupy
    x = Tensor(as_nchw(cp.asarray(rng.standard_normal((3, 4, 4, 5)).astype(numpy.float32))))  # (5, 3, 4, 4)
    running_mean, running_var = cp.zeros(3, numpy.float32), cp.ones(3, numpy.float32)
    weight, bias = (cp.asarray(rng.standard_normal(3).astype(numpy.float32)) for _ in range(2))
    kernels = {name: batchnorm.SOURCE.kernel(name, numpy.float32) for name in batchnorm.SOURCE.templates}
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:  # a capture records every device operation, CuPy's own included
        stream.begin_capture()
        y = F.batch_norm(x, running_mean, running_var, weight, bias, training=True)
        graph = stream.end_capture()
    assert [replay for replay in graph.replays if not _allocates_only(replay)] and \
        all(_allocates_only(r) or _is_kernel_launch(r) for r in graph.replays), "only the kernels compute"
    before = {name: k.launches for name, k in kernels.items()}
    graph.launch()  # the forward's operations once more, as recorded
    assert {name: k.launches - before[name] for name, k in kernels.items()} == {
        "batch_norm_stats": 1, "batch_norm_forward_apply": 1, "batch_norm_backward": 0}
    host = numpy.asarray(x.data).astype(numpy.float64)
    mean, var = host.mean(axis=(0, 2, 3)), host.var(axis=(0, 2, 3))
    expected = ((host - mean[:, None, None]) / numpy.sqrt(var[:, None, None] + 1e-5)
                * numpy.asarray(weight)[:, None, None] + numpy.asarray(bias)[:, None, None])
    numpy.testing.assert_allclose(numpy.asarray(y.data), expected, rtol=1e-5, atol=1e-5)
    numpy.testing.assert_allclose(numpy.asarray(running_mean), 0.1 * mean, rtol=1e-5, atol=1e-7)
    numpy.testing.assert_allclose(numpy.asarray(running_var), 0.9 + 0.1 * var * 80 / 79, rtol=1e-5)
