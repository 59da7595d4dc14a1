"""adaptive_avg_pool2d and interpolate (nearest, bilinear), as torch.nn.functional's, on (N, C, H, W).

Each output row is a fixed weighted sum of input rows, and each column of columns, so both
ops are separable linear maps, y = R @ x @ C^T, with R (out_h, H) and C (out_w, W) built on
the input's device from torch's index rules: adaptive pooling averages rows
[floor(i H / oh), ceil((i + 1) H / oh)); bilinear weighs rows floor(s) and floor(s) + 1 by
s's fraction, s = (i + 0.5) H / oh - 0.5 clamped at 0 (or i (H - 1) / (oh - 1) with
align_corners). The backward is R^T @ g @ C, on the BLAS, with no scatter. Nearest gathers
rows floor(i * scale) (torch's legacy rule, in float32) instead, so that an infinite input
stays where it is; its backward is the one-hot matrix product above. Recorded gradients
(create_graph) are Resamples too: with the transposed matrices, or the one-hot ones.
"""
import math
import numbers

from ..autograd import Function, unwrap
from ..backend import array_module


class Resample(Function):
    """y = rows @ x @ cols^T over the last two dims; rows and cols are dense (out, in) arrays."""

    def __init__(self, rows, cols):
        self.rows, self.cols = rows, cols

    def forward(self, x):
        return self.rows @ (x @ self.cols.T)

    def backward(self, grad):
        return self.rows.T @ (grad @ self.cols)

    def backward_graph(self, grad):
        return Resample(self.rows.T, self.cols.T)(grad)  # the same map with the transposed matrices


class Gather2d(Function):
    """y = x[..., rows[:, None], cols]: the rows and columns of x at index arrays rows and cols."""

    def __init__(self, rows, cols, in_hw):
        self.rows, self.cols, self.in_hw = rows, cols, in_hw

    def forward(self, x):
        return x[..., self.rows[:, None], self.cols]

    def backward(self, grad):
        one_hot_rows, one_hot_cols = self.one_hot(grad.dtype)
        return one_hot_rows.T @ (grad @ one_hot_cols)

    def backward_graph(self, grad):
        one_hot_rows, one_hot_cols = self.one_hot(grad.dtype)
        return Resample(one_hot_rows.T, one_hot_cols.T)(grad)

    def one_hot(self, dtype):
        """The gather as the matrices of a Resample: (out, in) one-hot rows and columns."""
        xp = array_module(self.rows)
        return tuple((index[:, None] == xp.arange(size)).astype(dtype)
                     for index, size in zip((self.rows, self.cols), self.in_hw))


def _check_4d(op, input):  # noqa: A002  (torch's names)
    if input.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {tuple(input.shape)}")


def _pair(op, name, value, allow_none=False):
    """value (an int, or a pair of them) as a pair; None entries where allow_none."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    ok = len(pair) == 2 and all((v is None and allow_none) or
                                (isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1) for v in pair)
    if not ok:
        raise ValueError(f"{op}: {name} must be an int >= 1 or a pair of them, got {value!r}")
    return tuple(v if v is None else int(v) for v in pair)


# --- adaptive average pooling -------------------------------------------------------------------

def _averaging_matrix(xp, dtype, size, out):
    """(out, size): row i averages inputs [floor(i size / out), ceil((i + 1) size / out))."""
    i = xp.arange(out)
    start, end = (i * size) // out, ((i + 1) * size + out - 1) // out
    j = xp.arange(size)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return inside.astype(dtype) / (end - start)[:, None].astype(dtype)


def adaptive_avg_pool2d(input, output_size):  # noqa: A002
    """Means over windows that tile (H, W) into output_size (None keeps that size)."""
    _check_4d("adaptive_avg_pool2d", input)
    out = tuple(n if o is None else o for n, o in
                zip(input.shape[2:], _pair("adaptive_avg_pool2d", "output_size", output_size, allow_none=True)))
    if input.shape[2] == 0 or input.shape[3] == 0:
        raise ValueError(f"adaptive_avg_pool2d: input has an empty spatial size, shape {tuple(input.shape)}")
    xp, dtype = array_module(unwrap(input)), input.dtype
    rows, cols = (_averaging_matrix(xp, dtype, n, o) for n, o in zip(input.shape[2:], out))
    return Resample(rows, cols)(input)


# --- interpolate --------------------------------------------------------------------------------

MODES = ("nearest", "bilinear")


def _output_size(input, size, scale_factor):  # noqa: A002
    """(out_h, out_w) and the scale factors torch hands its kernels (None where it recomputes them)."""
    if (size is None) == (scale_factor is None):
        raise ValueError(f"interpolate: give exactly one of size or scale_factor, got size={size!r}, "
                         f"scale_factor={scale_factor!r}")
    if size is not None:
        return _pair("interpolate", "size", size), (None, None)
    scales = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor, scale_factor)
    if len(scales) != 2 or not all(isinstance(s, numbers.Real) and not isinstance(s, bool) and s > 0 for s in scales):
        raise ValueError(f"interpolate: scale_factor must be a number > 0 or a pair of them, got {scale_factor!r}")
    out = tuple(math.floor(float(n) * s) for n, s in zip(input.shape[2:], scales))
    if min(out) < 1:
        raise ValueError(f"interpolate: scale_factor {scale_factor!r} makes the output size {out} of input "
                         f"{tuple(input.shape)} empty")
    return out, tuple(float(s) for s in scales)


def _nearest_index(xp, size, out, scale):
    """torch's legacy nearest source index: floor(i * s) in float32, s = 1 / scale or size / out."""
    if out == size:
        return xp.arange(out)
    if out == 2 * size:
        return xp.arange(out) // 2
    step = xp.float32(1.0 / scale if scale else size / out)
    return xp.minimum(xp.floor(xp.arange(out).astype(xp.float32) * step).astype(xp.int64), size - 1)


def _bilinear_matrix(xp, dtype, size, out, scale, align_corners):
    """(out, size): row i weighs inputs floor(s) and floor(s) + 1 (the last once) by s's fraction."""
    i = xp.arange(out, dtype=xp.float64)
    if align_corners:
        source = i * ((size - 1) / (out - 1) if out > 1 else 0.0)
    else:
        step = 1.0 / scale if scale else size / out
        source = xp.maximum(step * (i + 0.5) - 0.5, 0.0)
    low = xp.floor(source).astype(xp.int64)
    high = xp.minimum(low + 1, size - 1)
    fraction = source - low
    j = xp.arange(size)
    matrix = (j == low[:, None]) * (1 - fraction)[:, None] + (j == high[:, None]) * fraction[:, None]
    return matrix.astype(dtype)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,  # noqa: A002
                recompute_scale_factor=None, antialias=False):
    """Resize the (H, W) of an (N, C, H, W) input to size, or by scale_factor, with torch's rules."""
    if mode not in MODES:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported (use one of {MODES})")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if align_corners is not None and mode == "nearest":
        raise ValueError("interpolate: align_corners can only be set with mode='bilinear' (torch's rule), "
                         f"got align_corners={align_corners!r} with mode='nearest'")
    _check_4d("interpolate", input)
    out, scales = _output_size(input, size, scale_factor)
    if recompute_scale_factor:
        scales = (None, None)
    xp, in_hw = array_module(unwrap(input)), tuple(input.shape[2:])
    if mode == "nearest":
        rows, cols = (_nearest_index(xp, n, o, s) for n, o, s in zip(in_hw, out, scales))
        return Gather2d(rows, cols, in_hw)(input)
    rows, cols = (_bilinear_matrix(xp, input.dtype, n, o, s, bool(align_corners))
                  for n, o, s in zip(in_hw, out, scales))
    return Resample(rows, cols)(input)
