"""The hot kernels of each backend against the plain NumPy reference and a naive loop.

The fast table comes from minigan.backend.kernels(xp): Numba on the CPU, CUDA
on the GPU (the cupy run). kernels/reference.py is checked against the loops
below, which spell out the column layout one element at a time:
row (c, i, j) = kernel tap (i, j) of channel c, column (n, y, x) = output pixel.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

from minigan import backend
from minigan.kernels import reference

REPO = Path(__file__).resolve().parents[1]

# (x_shape, (kh, kw), stride, padding)
CASES = [
    ((1, 1, 4, 4), (3, 3), (1, 1), (0, 0)),
    ((2, 3, 5, 4), (3, 3), (1, 1), (1, 1)),
    ((2, 2, 6, 5), (4, 4), (2, 2), (1, 1)),     # DCGAN's kernel 4 / stride 2 / padding 1, H != W
    ((1, 2, 7, 5), (3, 2), (2, 1), (1, 0)),     # rectangular kernel, mixed stride and padding
    ((2, 1, 5, 6), (1, 1), (2, 2), (0, 0)),     # 1x1 kernel, stride skips pixels
    ((1, 2, 4, 6), (2, 3), (3, 2), (0, 2)),     # stride larger than the kernel: gaps
    ((2, 2, 3, 3), (4, 4), (1, 1), (2, 2)),     # padding wider than the image
    ((1, 1, 5, 5), (5, 5), (1, 1), (0, 0)),     # kernel = image: one output pixel
    ((1, 1, 6, 4), (2, 2), (3, 3), (1, 1)),     # padding with gaps
    ((3, 2, 8, 8), (4, 4), (2, 2), (1, 1)),
]
DTYPES = [numpy.float32, numpy.float64]


def case_id(case):
    shape, k, s, p = case
    return f"x{'x'.join(map(str, shape))}-k{k[0]}{k[1]}-s{s[0]}{s[1]}-p{p[0]}{p[1]}"


def out_size(shape, kernel, stride, padding):
    return tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(shape[2:], kernel, stride, padding))


def naive_taps(x_shape, kernel, stride, padding, out_hw):
    """Every in-bounds (col row, col column) <-> (n, c, h, w) pair, by plain loops over the definition."""
    n_img, channels, height, width = x_shape
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = kernel, stride, padding, out_hw
    for c in range(channels):
        for i in range(kh):
            for j in range(kw):
                for n in range(n_img):
                    for y in range(oh):
                        for x_out in range(ow):
                            h, w = y * sh - ph + i, x_out * sw - pw + j
                            if 0 <= h < height and 0 <= w < width:
                                yield ((c * kh + i) * kw + j, (n * oh + y) * ow + x_out), (n, c, h, w)


def naive_im2col(x, kernel, stride, padding, out_hw):
    (kh, kw), (oh, ow) = kernel, out_hw
    col = numpy.zeros((x.shape[1] * kh * kw, x.shape[0] * oh * ow), dtype=x.dtype)
    for col_index, pixel in naive_taps(x.shape, kernel, stride, padding, out_hw):
        col[col_index] = x[pixel]
    return col


def naive_col2im(col, x_shape, kernel, stride, padding, out_hw):
    """Scatter-add every column entry back to the pixel it was read from (float64 sums)."""
    x = numpy.zeros(x_shape)
    for col_index, pixel in naive_taps(x_shape, kernel, stride, padding, out_hw):
        x[pixel] += col[col_index]
    return x


def to_numpy(a):
    return backend.to_numpy(a)


def assert_sums_close(actual, expected, dtype):
    """col2im sums in a different order from the naive loop: allow rounding, relative to the scale."""
    tolerance = {numpy.float32: 1e-6, numpy.float64: 1e-14}[dtype] * max(1.0, numpy.abs(expected).max())
    numpy.testing.assert_allclose(actual, expected, rtol=0, atol=tolerance)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_im2col(xp, rng, case, dtype):
    shape, kernel, stride, padding = case
    out_hw = out_size(shape, kernel, stride, padding)
    x = rng.standard_normal(shape).astype(dtype)
    expected = naive_im2col(x, kernel, stride, padding, out_hw)

    ref = reference.im2col(x, *kernel, stride, padding, out_hw)
    assert ref.dtype == dtype
    numpy.testing.assert_array_equal(ref, expected)  # a copy of values: exact

    fast = backend.kernels(xp).im2col(xp.asarray(x), *kernel, stride, padding, out_hw)
    assert backend.array_module(fast) is xp and fast.dtype == dtype
    numpy.testing.assert_array_equal(to_numpy(fast), expected)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_col2im(xp, rng, case, dtype):
    shape, kernel, stride, padding = case
    out_hw = out_size(shape, kernel, stride, padding)
    col = rng.standard_normal((shape[1] * kernel[0] * kernel[1], shape[0] * out_hw[0] * out_hw[1]))
    col = col.astype(dtype)
    expected = naive_col2im(col, shape, kernel, stride, padding, out_hw)

    ref = reference.col2im(col, shape, *kernel, stride, padding, out_hw)
    assert ref.dtype == dtype and ref.shape == shape
    assert_sums_close(ref, expected, dtype)

    fast = backend.kernels(xp).col2im(xp.asarray(col), shape, *kernel, stride, padding, out_hw)
    assert backend.array_module(fast) is xp and fast.dtype == dtype and fast.shape == shape
    assert_sums_close(to_numpy(fast), expected, dtype)


def test_col2im_skipped_pixels_are_zero(xp):
    """Stride 3 with a 1x1 kernel reads only every third pixel; the rest get exactly 0."""
    shape, out_hw = (1, 1, 7, 7), (3, 3)
    col = numpy.ones((1, 9)) * 5.0
    image = to_numpy(backend.kernels(xp).col2im(xp.asarray(col), shape, 1, 1, (3, 3), (0, 0), out_hw))
    expected = numpy.zeros(shape)
    expected[0, 0, ::3, ::3] = 5.0
    numpy.testing.assert_array_equal(image, expected)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_col2im_is_the_adjoint_of_im2col(xp, rng, case):
    """<im2col(x), c> == <x, col2im(c)> for random x and c: the conv gradient identity."""
    shape, kernel, stride, padding = case
    out_hw = out_size(shape, kernel, stride, padding)
    table = backend.kernels(xp)
    x = rng.standard_normal(shape)
    c = rng.standard_normal((shape[1] * kernel[0] * kernel[1], shape[0] * out_hw[0] * out_hw[1]))
    left = float((to_numpy(table.im2col(xp.asarray(x), *kernel, stride, padding, out_hw)) * c).sum())
    right = float((x * to_numpy(table.col2im(xp.asarray(c), shape, *kernel, stride, padding, out_hw))).sum())
    assert abs(left - right) <= 1e-12 * (numpy.abs(x).sum() * numpy.abs(c).max())
    # The reference obeys it too.
    ref_left = float((reference.im2col(x, *kernel, stride, padding, out_hw) * c).sum())
    ref_right = float((x * reference.col2im(c, shape, *kernel, stride, padding, out_hw)).sum())
    assert abs(ref_left - ref_right) <= 1e-12 * (numpy.abs(x).sum() * numpy.abs(c).max())


def test_im2col_of_a_strided_view(xp, rng):
    """A non-contiguous input (a transposed view) gives the columns of its values."""
    base = rng.standard_normal((2, 3, 6, 5))
    view = xp.asarray(base).transpose(0, 1, 3, 2)  # (2, 3, 5, 6), not C-contiguous
    assert not view.flags.c_contiguous
    out_hw = out_size(view.shape, (3, 3), (2, 1), (1, 1))
    fast = backend.kernels(xp).im2col(view, 3, 3, (2, 1), (1, 1), out_hw)
    expected = naive_im2col(base.transpose(0, 1, 3, 2), (3, 3), (2, 1), (1, 1), out_hw)
    numpy.testing.assert_array_equal(to_numpy(fast), expected)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_col2im_is_deterministic(xp, rng, dtype):
    """Two runs give bit-identical images (a gather, no atomics), also when the thread count changes."""
    shape, kernel, stride, padding = (4, 8, 16, 16), (4, 4), (2, 2), (1, 1)
    out_hw = out_size(shape, kernel, stride, padding)
    col = xp.asarray(rng.standard_normal((8 * 16, 4 * out_hw[0] * out_hw[1])).astype(dtype))
    table = backend.kernels(xp)
    first = to_numpy(table.col2im(col, shape, *kernel, stride, padding, out_hw))
    second = to_numpy(table.col2im(col, shape, *kernel, stride, padding, out_hw))
    assert first.tobytes() == second.tobytes()
    if xp is numpy:
        numba = pytest.importorskip("numba")
        previous = numba.get_num_threads()
        try:
            numba.set_num_threads(1)
            single = table.col2im(col, shape, *kernel, stride, padding, out_hw)
        finally:
            numba.set_num_threads(previous)
        assert first.tobytes() == single.tobytes()


# --- Adam --------------------------------------------------------------------

def naive_adam(param, grads, lr, beta1, beta2, eps, weight_decay):
    """torch.optim.Adam's update (bias correction folded into the step size), one element at a time."""
    param = param.astype(numpy.float64).copy()
    m, v = numpy.zeros_like(param), numpy.zeros_like(param)
    for step, grad in enumerate(grads, start=1):
        for k in numpy.ndindex(*param.shape):
            g = grad[k] + weight_decay * param[k]
            m[k] = beta1 * m[k] + (1 - beta1) * g
            v[k] = beta2 * v[k] + (1 - beta2) * g * g
            step_size = lr / (1 - beta1 ** step)
            denom = (v[k] ** 0.5) / (1 - beta2 ** step) ** 0.5 + eps
            param[k] -= step_size * m[k] / denom
    return param, m, v


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_adam_update(xp, rng, dtype, weight_decay):
    lr, beta1, beta2, eps = 2e-3, 0.5, 0.999, 1e-8
    param0 = rng.standard_normal((3, 4)).astype(dtype)
    grads = [rng.standard_normal((3, 4)).astype(dtype) * 10 ** k for k in (-3, 0, 1)]
    expected, m_expected, v_expected = naive_adam(param0, grads, lr, beta1, beta2, eps, weight_decay)

    table = backend.kernels(xp)
    param = xp.asarray(param0.copy())
    m, v = xp.zeros_like(param), xp.zeros_like(param)
    for step, grad in enumerate(grads, start=1):
        table.adam_update(param, xp.asarray(grad), m, v, step, lr, beta1, beta2, eps, weight_decay)
    assert param.dtype == dtype
    rtol = {numpy.float32: 1e-5, numpy.float64: 1e-12}[dtype]
    numpy.testing.assert_allclose(to_numpy(param), expected, rtol=rtol)
    numpy.testing.assert_allclose(to_numpy(m), m_expected, rtol=rtol, atol=rtol * 1e-3)
    numpy.testing.assert_allclose(to_numpy(v), v_expected, rtol=rtol)
    assert numpy.abs(to_numpy(param) - param0).min() > 0  # every element moved


# --- the CPU kernels' on-disk cache -----------------------------------------

@pytest.mark.slow
def test_kernels_refuse_a_second_import_name_that_would_poison_the_numba_cache(tmp_path):
    """kernels/ is importable from the repo root as `kernels` as well as `minigan.kernels`.

    Numba's cache (cache=True) lives next to the source and records the module
    name, so an entry written under `kernels.cpu` cannot load as `minigan.kernels.cpu`
    ("No module named 'kernels'"). The package refuses the second name with a
    clear error, and the canonical name keeps working from the same cache.
    """
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"), PYTHONPATH="")
    script = ("import numpy, {module} as k; "
              "print(k.col2im(k.im2col(numpy.ones((1, 1, 2, 2)), 3, 3, (1, 1), (1, 1), (2, 2)),"
              " (1, 1, 2, 2), 3, 3, (1, 1), (1, 1), (2, 2)).sum())")
    first = subprocess.run([sys.executable, "-c", script.format(module="kernels.cpu")], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=120)
    assert first.returncode != 0
    assert "import it under that name" in first.stderr and "'kernels'" in first.stderr
    for cwd in (REPO, tmp_path):
        second = subprocess.run([sys.executable, "-c", script.format(module="minigan.kernels.cpu")],
                                cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr[-400:]
        assert second.stdout.strip() == "16.0"
