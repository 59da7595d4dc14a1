"""Batch normalization's kernels (kernels/batchnorm.py) on every backend, against the plain NumPy reference.

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


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [(True, True), (False, False), (True, False), (False, True)])
def test_batch_norm_forward_apply(kernel_backend, rng, shape, dtype, affine):
    k, c = kernel_backend, shape[0]
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
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_backward(kernel_backend, rng, shape, dtype, affine):
    """The sums (the bias and weight gradients) and the compact input gradient, against the
    float64 reference; the sums new arrays when no place is given for them."""
    k, c = kernel_backend, shape[0]
    grad_y, x_hat = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    inv_std = rng.uniform(0.5, 2, c).astype(dtype)
    weight = rng.standard_normal(c).astype(dtype) if affine else None
    got = k.table.batch_norm_backward(k.put(grad_y), k.put(x_hat), k.put(inv_std),
                                      None if weight is None else k.put(weight))
    wide = [None if a is None else a.astype(numpy.float64) for a in (grad_y, x_hat, inv_std, weight)]
    want = batchnorm.batch_norm_backward_reference(*wide)
    for name, g, w in zip(("grad_x", "grad_weight", "grad_bias"), got, want):
        assert g.dtype == dtype and g.shape == w.shape, name
        numpy.testing.assert_allclose(k.get(g), w, **tolerance(dtype), err_msg=name)


def test_batch_norm_backward_reference_against_its_definition():
    """dy = (1, 2, 3, 6), x_hat = (-1, -1, 1, 1): the sums are 12 and 6, their means 3 and 1.5,
    so grad_x = scale * (dy - 3 - 1.5 * x_hat) = scale * (-0.5, 0.5, -1.5, 1.5), with scale =
    weight * inv_std = 2 * 0.5, or inv_std = 2 without a weight."""
    grad_y, x_hat = numpy.array([[1.0, 2.0, 3.0, 6.0]]), numpy.array([[-1.0, -1.0, 1.0, 1.0]])
    grad_x, grad_weight, grad_bias = batchnorm.batch_norm_backward_reference(
        grad_y, x_hat, numpy.array([0.5]), numpy.array([2.0]))
    numpy.testing.assert_allclose(grad_bias, [12.0])
    numpy.testing.assert_allclose(grad_weight, [6.0])
    numpy.testing.assert_allclose(grad_x, [[-0.5, 0.5, -1.5, 1.5]])
    grad_x = batchnorm.batch_norm_backward_reference(grad_y, x_hat, numpy.array([2.0]))[0]
    numpy.testing.assert_allclose(grad_x, [[-1.0, 1.0, -3.0, 3.0]])


@pytest.mark.parametrize("accumulate", [(False, False), (True, False), (False, True), (True, True)])
def test_batch_norm_backward_writes_or_adds_its_sums_in_place(kernel_backend, rng, accumulate):
    """Given places for the weight and bias gradients, it writes the sums there (or adds them to
    what is there, as flagged) and returns those arrays; grad_x is this call's all the same."""
    k, shape = kernel_backend, (3, 40)
    grad_y, x_hat = (rng.standard_normal(shape).astype(numpy.float32) for _ in range(2))
    inv_std, weight = rng.uniform(0.5, 2, 3).astype(numpy.float32), rng.standard_normal(3).astype(numpy.float32)
    fresh = [k.get(a) for a in k.table.batch_norm_backward(*map(k.put, (grad_y, x_hat, inv_std, weight)))]
    before = [rng.standard_normal(3).astype(numpy.float32) for _ in range(2)]
    homes = [k.put(b.copy()) for b in before]
    got = k.table.batch_norm_backward(*map(k.put, (grad_y, x_hat, inv_std, weight)), *homes, accumulate)
    assert got[1] is homes[0] and got[2] is homes[1]
    numpy.testing.assert_array_equal(k.get(got[0]), fresh[0])
    for home, old, total, add in zip(homes, before, fresh[1:], accumulate):
        numpy.testing.assert_array_equal(k.get(home), old + total if add else total)
    with pytest.raises(ValueError, match=r"grad_bias must be a contiguous \(3,\) array of float32"):
        k.table.batch_norm_backward(*map(k.put, (grad_y, x_hat, inv_std, weight)), None, k.put(before[0][:2]))


def test_cpu_reductions_do_not_depend_on_the_thread_count(rng):
    import numba
    x = rng.standard_normal((5, 8 * 36)).astype(numpy.float32)
    before = numba.get_num_threads()
    results = []
    try:
        for threads in sorted({1, before}):
            numba.set_num_threads(threads)
            results.append((*batchnorm.batch_norm_stats_cpu(x, 1e-5),
                            *batchnorm.batch_norm_backward_cpu(x, x * 2, numpy.ones(5, numpy.float32))))
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
