"""im2col and col2im (kernels/convolution.py) on every backend, against naive loops and the NumPy reference.

The loops below spell out the column layout one element at a time: images are
batch-innermost (C, H, W, N), row (c, i, j) = kernel tap (i, j) of channel c,
column (y, x, n) = output pixel (y, x) of image n.
The reference is checked against them, and every backend against them and
the reference; col2im sums in the same order everywhere, so every backend's
equals the CPU kernel's to the bit.
"""
import numpy
import pytest

from minigan.kernels import convolution

# (x_shape (C, H, W, N), (kh, kw), stride, padding)
CASES = [
    ((1, 4, 4, 1), (3, 3), (1, 1), (0, 0)),
    ((3, 5, 4, 2), (3, 3), (1, 1), (1, 1)),
    ((2, 6, 5, 2), (4, 4), (2, 2), (1, 1)),     # DCGAN's kernel 4 / stride 2 / padding 1, H != W
    ((2, 7, 5, 1), (3, 2), (2, 1), (1, 0)),     # rectangular kernel, mixed stride and padding
    ((1, 5, 6, 2), (1, 1), (2, 2), (0, 0)),     # 1x1 kernel, stride skips pixels
    ((2, 4, 6, 1), (2, 3), (3, 2), (0, 2)),     # stride larger than the kernel: gaps
    ((2, 3, 3, 2), (4, 4), (1, 1), (2, 2)),     # padding wider than the image
    ((1, 5, 5, 1), (5, 5), (1, 1), (0, 0)),     # kernel = image: one output pixel
    ((1, 6, 4, 1), (2, 2), (3, 3), (1, 1)),     # padding with gaps
    ((2, 8, 8, 3), (4, 4), (2, 2), (1, 1)),
    ((3, 9, 7, 1), (3, 2), (2, 3), (0, 2)),
    ((2, 5, 5, 2), (1, 1), (3, 3), (2, 2)),     # 1x1 kernel inside padding: taps that read only zeros
]
DTYPES = [numpy.float32, numpy.float64]


def case_id(case):
    shape, k, s, p = case
    return f"x{'x'.join(map(str, shape))}-k{k[0]}{k[1]}-s{s[0]}{s[1]}-p{p[0]}{p[1]}"


def out_size(shape, kernel, stride, padding):
    return tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(shape[1:3], kernel, stride, padding))


def naive_taps(x_shape, kernel, stride, padding, out_hw):
    """Every in-bounds (col row, col column) <-> (c, h, w, n) pair, by plain loops over the definition."""
    channels, height, width, n_img = x_shape
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = kernel, stride, padding, out_hw
    for c in range(channels):
        for i in range(kh):
            for j in range(kw):
                for y in range(oh):
                    for x_out in range(ow):
                        for n in range(n_img):
                            h, w = y * sh - ph + i, x_out * sw - pw + j
                            if 0 <= h < height and 0 <= w < width:
                                yield ((c * kh + i) * kw + j, (y * ow + x_out) * n_img + n), (c, h, w, n)


def naive_im2col(x, kernel, stride, padding, out_hw):
    (kh, kw), (oh, ow) = kernel, out_hw
    col = numpy.zeros((x.shape[0] * kh * kw, oh * ow * x.shape[3]), dtype=x.dtype)
    for col_index, pixel in naive_taps(x.shape, kernel, stride, padding, out_hw):
        col[col_index] = x[pixel]
    return col


def naive_col2im(col, x_shape, kernel, stride, padding, out_hw):
    """Scatter-add every column entry back to the pixel it was read from (float64 sums)."""
    x = numpy.zeros(x_shape)
    for col_index, pixel in naive_taps(x_shape, kernel, stride, padding, out_hw):
        x[pixel] += col[col_index]
    return x


def assert_sums_close(actual, expected, dtype):
    """col2im sums in a different order from the naive loop: allow rounding, relative to the scale."""
    tolerance = {numpy.float32: 1e-6, numpy.float64: 1e-14}[dtype] * max(1.0, numpy.abs(expected).max())
    numpy.testing.assert_allclose(actual, expected, rtol=0, atol=tolerance)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_reference_against_naive_loops(rng, case, dtype):
    shape, kernel, stride, padding = case
    out_hw = out_size(shape, kernel, stride, padding)
    x = rng.standard_normal(shape).astype(dtype)
    col = convolution.im2col_reference(x, *kernel, stride, padding, out_hw)
    assert col.dtype == dtype
    numpy.testing.assert_array_equal(col, naive_im2col(x, kernel, stride, padding, out_hw))  # copies: exact
    grad_col = rng.standard_normal(col.shape).astype(dtype)
    image = convolution.col2im_reference(grad_col, shape, *kernel, stride, padding, out_hw)
    assert image.dtype == dtype and image.shape == shape
    assert_sums_close(image, naive_col2im(grad_col, shape, kernel, stride, padding, out_hw), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_im2col_col2im(kernel_backend, rng, case, dtype):
    shape, kernel, stride, padding = case
    out_hw = out_size(shape, kernel, stride, padding)
    k = kernel_backend
    x = rng.standard_normal(shape).astype(dtype)
    col = k.table.im2col(k.put(x), *kernel, stride, padding, out_hw)
    assert type(col) is type(k.put(x)) and col.dtype == dtype
    numpy.testing.assert_array_equal(k.get(col), naive_im2col(x, kernel, stride, padding, out_hw))

    grad_col = rng.standard_normal(col.shape).astype(dtype)
    image = k.get(k.table.col2im(k.put(grad_col), shape, *kernel, stride, padding, out_hw))
    assert image.dtype == dtype and image.shape == shape
    assert_sums_close(image, naive_col2im(grad_col, shape, kernel, stride, padding, out_hw), dtype)
    # Same gather, same order, same accumulator as the Numba kernel: equal to the bit.
    numpy.testing.assert_array_equal(image, convolution.col2im_cpu(grad_col, shape, *kernel, stride, padding,
                                                                   out_hw))


def test_col2im_skipped_pixels_are_zero(kernel_backend):
    """Stride 3 with a 1x1 kernel reads only every third pixel; the rest get exactly 0."""
    k = kernel_backend
    shape, out_hw = (1, 7, 7, 2), (3, 3)
    col = numpy.ones((1, 18)) * 5.0
    image = k.get(k.table.col2im(k.put(col), shape, 1, 1, (3, 3), (0, 0), out_hw))
    expected = numpy.zeros(shape)
    expected[0, ::3, ::3] = 5.0
    numpy.testing.assert_array_equal(image, expected)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_col2im_is_the_adjoint_of_im2col(rng, case):
    """<im2col(x), c> == <x, col2im(c)> for random x and c: the conv gradient identity, for the
    reference and the CPU kernels (the other backends equal the CPU's, above)."""
    shape, kernel, stride, padding = case
    out_hw = out_size(shape, kernel, stride, padding)
    x = rng.standard_normal(shape)
    c = rng.standard_normal((shape[0] * kernel[0] * kernel[1], out_hw[0] * out_hw[1] * shape[3]))
    for im2col, col2im in ((convolution.im2col_cpu, convolution.col2im_cpu),
                           (convolution.im2col_reference, convolution.col2im_reference)):
        left = float((im2col(x, *kernel, stride, padding, out_hw) * c).sum())
        right = float((x * col2im(c, shape, *kernel, stride, padding, out_hw)).sum())
        assert abs(left - right) <= 1e-12 * (numpy.abs(x).sum() * numpy.abs(c).max())


def test_im2col_of_a_strided_view(kernel_backend, rng):
    """A non-contiguous input (a transposed view) gives the columns of its values."""
    k = kernel_backend
    base = rng.standard_normal((3, 6, 5, 2))
    view = k.put(base).transpose(0, 2, 1, 3)  # (3, 5, 6, 2), not C-contiguous
    assert not view.flags.c_contiguous
    out_hw = out_size(view.shape, (3, 3), (2, 1), (1, 1))
    expected = naive_im2col(base.transpose(0, 2, 1, 3), (3, 3), (2, 1), (1, 1), out_hw)
    numpy.testing.assert_array_equal(k.get(k.table.im2col(view, 3, 3, (2, 1), (1, 1), out_hw)), expected)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_col2im_is_deterministic(kernel_backend, rng, dtype):
    """Two runs give bit-identical images (a gather, no atomics), also when the CPU's thread count changes."""
    k = kernel_backend
    shape, kernel, stride, padding = (8, 16, 16, 4), (4, 4), (2, 2), (1, 1)
    out_hw = out_size(shape, kernel, stride, padding)
    col = k.put(rng.standard_normal((8 * 16, out_hw[0] * out_hw[1] * 4)).astype(dtype))
    first = k.get(k.table.col2im(col, shape, *kernel, stride, padding, out_hw))
    second = k.get(k.table.col2im(col, shape, *kernel, stride, padding, out_hw))
    assert first.tobytes() == second.tobytes()
    if k.name == "cpu":
        numba = pytest.importorskip("numba")
        previous = numba.get_num_threads()
        try:
            numba.set_num_threads(1)
            single = k.table.col2im(col, shape, *kernel, stride, padding, out_hw)
        finally:
            numba.set_num_threads(previous)
        assert first.tobytes() == single.tobytes()


def test_col2im_checks_the_column_shape(emulated_gpu):
    with pytest.raises(ValueError, match=r"col has shape \(4, 9\), expected \(9, 9\)"):
        emulated_gpu.col2im(numpy.zeros((4, 9)), (1, 5, 5, 1), 3, 3, (1, 1), (0, 0), (3, 3))
