"""The pooling kernels (kernels/pooling.py): the NumPy reference against naive loops, then every
backend's kernels (Numba; the CUDA sources on the emulator and on a GPU) against the reference, to the bit.

The op-level checks (gradients, torch parity, the cupy backend, bad inputs) come
from the pooling entries of the op specs; these are the kernels' own.
"""
import numba
import numpy
import pytest

from minigan.kernels import pooling

# (x_shape, kernel, stride, padding)
CASES = [
    ((2, 3, 7, 6), (3, 3), (2, 2), (1, 1)),     # overlapping windows, padded
    ((1, 2, 5, 8), (2, 3), (1, 2), (1, 1)),     # rectangular kernel, mixed strides
    ((2, 1, 4, 4), (4, 4), (1, 1), (2, 2)),     # padding = kernel / 2: corner windows hold one pixel
    ((1, 1, 6, 5), (1, 2), (3, 2), (0, 1)),     # stride > kernel: some pixels lie in no window
    ((3, 2, 8, 8), (2, 2), (2, 2), (0, 0)),     # the usual 2x2
    ((1, 1, 5, 5), (5, 5), (5, 5), (0, 0)),     # one window, the whole image
    ((2, 2, 9, 7), (3, 2), (2, 3), (1, 0)),     # odd sizes, windows cut off at the bottom/right
]
DTYPES = [numpy.float32, numpy.float64]


def case_id(case):
    shape, k, s, p = case
    return f"x{'x'.join(map(str, shape))}-k{k[0]}{k[1]}-s{s[0]}{s[1]}-p{p[0]}{p[1]}"


def naive_windows(x_shape, kernel, stride, padding):
    """(n, c, oy, ox, in-bounds pixels (h, w) in row-major order) of every window, by plain loops."""
    n_img, channels, height, width = x_shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    oh, ow = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
    for n in range(n_img):
        for c in range(channels):
            for oy in range(oh):
                for ox in range(ow):
                    pixels = [(oy * sh - ph + i, ox * sw - pw + j) for i in range(kh) for j in range(kw)]
                    yield n, c, oy, ox, [(h, w) for h, w in pixels if 0 <= h < height and 0 <= w < width]


def naive_pools(x, kernel, stride, padding, count_include_pad=True):
    """(avg, max, argmax) with torch's CPU rule for max: start at -inf and the first in-bounds
    index, take a pixel when it is greater or NaN; avg over kh*kw or over the in-bounds pixels."""
    oh, ow = pooling.output_size(x.shape, kernel, stride, padding)
    avg, top = numpy.zeros(x.shape[:2] + (oh, ow)), numpy.zeros(x.shape[:2] + (oh, ow), x.dtype)
    argmax = numpy.zeros(top.shape, numpy.int64)
    for n, c, oy, ox, pixels in naive_windows(x.shape, kernel, stride, padding):
        best, index = -numpy.inf, pixels[0][0] * x.shape[3] + pixels[0][1]
        for h, w in pixels:
            avg[n, c, oy, ox] += x[n, c, h, w]
            if x[n, c, h, w] > best or numpy.isnan(x[n, c, h, w]):
                best, index = x[n, c, h, w], h * x.shape[3] + w
        avg[n, c, oy, ox] /= kernel[0] * kernel[1] if count_include_pad else len(pixels)
        top[n, c, oy, ox], argmax[n, c, oy, ox] = best, index
    return avg, top, argmax


def naive_backwards(grad_y, argmax, x_shape, kernel, stride, padding, count_include_pad=True):
    """(avg, max) input gradients by scattering every window's gradient, in float64."""
    avg, top = numpy.zeros(x_shape), numpy.zeros(x_shape)
    for n, c, oy, ox, pixels in naive_windows(x_shape, kernel, stride, padding):
        g = float(grad_y[n, c, oy, ox])
        for h, w in pixels:
            avg[n, c, h, w] += g / (kernel[0] * kernel[1] if count_include_pad else len(pixels))
        top[n, c, argmax[n, c, oy, ox] // x_shape[3], argmax[n, c, oy, ox] % x_shape[3]] += g
    return avg, top


def tied(rng, shape, dtype):
    """Small integers: most windows hold several equal maxima."""
    return rng.integers(0, 3, size=shape).astype(dtype)


def references(x, grad_y, kernel, stride, padding, count_include_pad):
    y_max, argmax = pooling.max_pool2d_reference(x, kernel, stride, padding)
    return (pooling.avg_pool2d_reference(x, kernel, stride, padding, count_include_pad), y_max, argmax,
            pooling.avg_pool2d_backward_reference(grad_y, x.shape, kernel, stride, padding, count_include_pad),
            pooling.max_pool2d_backward_reference(grad_y, argmax, x.shape, kernel, stride, padding))


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("values", ["distinct", "tied"])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_reference_equals_naive_loops(case, values, count_include_pad):
    shape, kernel, stride, padding = case
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal(shape) if values == "distinct" else tied(rng, shape, numpy.float64)
    avg, top, argmax = naive_pools(x, kernel, stride, padding, count_include_pad)
    grad_y = rng.standard_normal(avg.shape)
    got = references(x, grad_y, kernel, stride, padding, count_include_pad)
    numpy.testing.assert_allclose(got[0], avg, rtol=1e-13, atol=1e-15)
    numpy.testing.assert_array_equal(got[1], top)
    numpy.testing.assert_array_equal(got[2], argmax)
    assert got[2].dtype == numpy.int32
    for actual, expected in zip(got[3:], naive_backwards(grad_y, argmax, shape, kernel, stride, padding,
                                                         count_include_pad)):
        numpy.testing.assert_allclose(actual, expected, rtol=1e-13, atol=1e-15)


def test_nan_and_infinite_windows_follow_torch_rule():
    """NaN wins (the last one in scan order); an all -inf window points at its first in-bounds pixel."""
    nan, inf = numpy.nan, numpy.inf
    x = numpy.array([[[[1, nan, 3], [nan, 2, 3], [-inf, -inf, 1]]]])
    for kernel, stride, padding in [((2, 2), (1, 1), (0, 0)), ((2, 2), (1, 1), (1, 1)),
                                    ((3, 3), (1, 1), (1, 1))]:
        _, top, argmax = naive_pools(x, kernel, stride, padding)
        y, index = pooling.max_pool2d_reference(x, kernel, stride, padding)
        numpy.testing.assert_array_equal(y, top)
        numpy.testing.assert_array_equal(index, argmax)
    all_inf = numpy.full((1, 1, 3, 3), -inf)
    assert pooling.max_pool2d_reference(all_inf, (3, 3), (1, 1), (1, 1))[1].ravel().tolist() == \
        [0, 0, 1, 0, 0, 1, 3, 3, 4]  # what torch returns for this input


def test_tie_rule_is_torch_cpu(torch):
    """torch's CPU max_pool2d takes the first maximum in row-major scan order; so does the reference."""
    rng = numpy.random.default_rng(1)
    for shape, kernel, stride, padding in CASES:
        x = tied(rng, shape, numpy.float64)
        x.ravel()[::7] = numpy.nan
        expected = torch.nn.functional.max_pool2d(torch.from_numpy(x), kernel, stride, padding,
                                                  return_indices=True)[1].numpy()
        got = pooling.max_pool2d_reference(x, kernel, stride, padding)[1]
        numpy.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_kernels_equal_reference(kernel_backend, case, dtype, count_include_pad):
    """Same sums in the same order and dtype: equal to the bit, with ties, NaNs and -inf."""
    k = kernel_backend
    shape, kernel, stride, padding = case
    rng = numpy.random.default_rng(2)
    x = tied(rng, shape, dtype)
    x.ravel()[::7], x.ravel()[3::11] = numpy.nan, -numpy.inf
    grad_y = rng.standard_normal(shape[:2] + pooling.output_size(*case)).astype(dtype)
    y_max, argmax = k.table.max_pool2d(k.put(x), kernel, stride, padding)
    got = (k.table.avg_pool2d(k.put(x), kernel, stride, padding, count_include_pad), y_max, argmax,
           k.table.avg_pool2d_backward(k.put(grad_y), x.shape, kernel, stride, padding, count_include_pad),
           k.table.max_pool2d_backward(k.put(grad_y), argmax, x.shape, kernel, stride, padding))
    for actual, expected in zip(got, references(x, grad_y, kernel, stride, padding, count_include_pad)):
        assert actual.dtype == expected.dtype
        numpy.testing.assert_array_equal(k.get(actual), expected)


def test_numba_kernels_do_not_depend_on_thread_count():
    rng = numpy.random.default_rng(3)
    x, grad_y = rng.standard_normal((4, 5, 9, 9)), rng.standard_normal((4, 5, 5, 5))
    previous = numba.get_num_threads()
    try:
        runs = []
        for threads in sorted({1, previous}):
            numba.set_num_threads(threads)
            y, argmax = pooling.max_pool2d_cpu(x, (3, 3), (2, 2), (1, 1))
            runs.append((y, argmax, pooling.avg_pool2d_cpu(x, (3, 3), (2, 2), (1, 1), False),
                         pooling.avg_pool2d_backward_cpu(grad_y, x.shape, (3, 3), (2, 2), (1, 1), False),
                         pooling.max_pool2d_backward_cpu(grad_y, argmax, x.shape, (3, 3), (2, 2), (1, 1))))
    finally:
        numba.set_num_threads(previous)
    for a, b in zip(runs[0], runs[-1]):
        numpy.testing.assert_array_equal(a, b)
