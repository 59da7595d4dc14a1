"""conv2d and conv_transpose2d, each defined through the other (as in Chainer).

Both are built from two array-level steps that share one column layout
(kernels/convolution.py):
  im2col_gemm: im2col, then one GEMM             = conv2d forward
  gemm_col2im: one GEMM, then col2im (a gather)  = conv_transpose2d forward
The input gradient of each is the forward of the other with the same weight,
and the weight gradient is one GEMM against the saved column matrix.
Transposed convolution never inserts zeros.
"""
import numbers

from ..autograd import Function
from ..backend import array_module, kernels
from ..config import config


def as_pair(value, name, op, minimum):
    """(value, value) for an integer (numpy's too), value for a pair of them; anything else
    (a float, None) fails the check, which names it."""
    pair = ((value, value) if isinstance(value, numbers.Integral) else
            value if isinstance(value, (tuple, list)) else ())
    if len(pair) != 2 or any(not isinstance(v, numbers.Integral) or v < minimum for v in pair):
        raise ValueError(f"{op}: {name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return tuple(int(v) for v in pair)


def _check_float(op, name, array):
    # As torch ("not implemented for 'Long'"): the kernels are float; promoting would hide a bug.
    if array.dtype.kind != "f":
        raise TypeError(f"{op}: {name} is {array.dtype}; convolution takes float32 or float64, "
                        f"convert it first (e.g. x.astype(numpy.float32) / 255)")


def _check_4d(op, name, array):
    if array.ndim != 4:
        raise ValueError(f"{op}: {name} must be 4-D (N, C, H, W), got shape {array.shape}")


def _check_bias(op, bias, channels):
    if bias is not None and tuple(bias.shape) != (channels,):
        raise ValueError(f"{op}: bias must have shape ({channels},), got {tuple(bias.shape)}")


def conv_output_size(op, in_hw, kernel_hw, stride, padding):
    out = []
    for size, k, s, p in zip(in_hw, kernel_hw, stride, padding):
        if k > size + 2 * p:
            raise ValueError(f"{op}: kernel {tuple(kernel_hw)} is larger than the padded input "
                             f"{tuple(n + 2 * q for n, q in zip(in_hw, padding))} "
                             f"(input {tuple(in_hw)}, padding {tuple(padding)})")
        out.append((size + 2 * p - k) // s + 1)
    return tuple(out)


def _channels_first(a):
    """(N, C, H, W) -> (C, N*H*W), the GEMM operand layout."""
    return a.transpose(1, 0, 2, 3).reshape(a.shape[1], -1)


def _dense(image_hw, kernel_hw, padding):
    """Whether the kernel covers the whole unpadded image: one output pixel, no overlap."""
    return tuple(image_hw) == tuple(kernel_hw) and tuple(padding) == (0, 0)


def im2col(x, kernel_hw, stride, padding, out_hw):
    """The column matrix of x for a conv2d of output size out_hw (the kernel's im2col)."""
    if _dense(x.shape[2:], kernel_hw, padding):  # col is x itself, transposed: no copy
        return x.reshape(x.shape[0], -1).T
    return kernels(array_module(x)).im2col(x, *kernel_hw, stride, padding, out_hw)


def gemm_nchw(weight, col, n, out_hw):
    """weight (O, C, kh, kw) times col, as a contiguous (N, O, oh, ow) array."""
    o, xp = weight.shape[0], array_module(col)
    y = kernels(xp).matmul(weight.reshape(o, -1), col, config.matmul)
    y = y.reshape(o, n, *out_hw).transpose(1, 0, 2, 3)
    return xp.ascontiguousarray(y)


def gemm_col2im(x, weight, out_hw, stride, padding):
    """conv_transpose2d of x (N, I, h, w) with weight (I, O, kh, kw) to size out_hw."""
    n, (i, o, kh, kw), k = x.shape[0], weight.shape, kernels(array_module(x))
    if tuple(x.shape[2:]) == (1, 1) and _dense(out_hw, (kh, kw), padding):
        # Each output pixel takes exactly one tap: the GEMM writes NCHW directly.
        return k.matmul(x.reshape(n, i), weight.reshape(i, -1), config.matmul).reshape(n, o, kh, kw)
    col = k.matmul(weight.reshape(i, -1).T, _channels_first(x), config.matmul)  # (O*kh*kw, N*h*w)
    return k.col2im(col, (n, o, *out_hw), kh, kw, stride, padding, x.shape[2:])


def weight_grad(grad_y, col, weight_shape):
    """d(loss)/d(weight (O, ...)) = grad_y in (O, N*oh*ow) times col transposed."""
    grad_w = kernels(array_module(col)).matmul(_channels_first(grad_y), col.T, config.matmul)
    return grad_w.reshape(weight_shape)


def bias_grad(fn, grad_y):
    return grad_y.sum(axis=(0, 2, 3)) if len(fn.needs_grad) == 3 and fn.needs_grad[2] else None


class Conv2d(Function):
    def __init__(self, stride, padding):
        self.stride, self.padding = stride, padding

    def forward(self, x, weight, bias=None):
        out_hw = conv_output_size("conv2d", x.shape[2:], weight.shape[2:], self.stride, self.padding)
        self.col = im2col(x, weight.shape[2:], self.stride, self.padding, out_hw)
        self.weight, self.in_hw = weight, x.shape[2:]
        y = gemm_nchw(weight, self.col, x.shape[0], out_hw)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)
        return y

    def backward(self, grad_y):
        grad_x = gemm_col2im(grad_y, self.weight, self.in_hw, self.stride, self.padding) \
            if self.needs_grad[0] else None
        grad_w = weight_grad(grad_y, self.col, self.weight.shape) if self.needs_grad[1] else None
        return grad_x, grad_w, bias_grad(self, grad_y)


class ConvTranspose2d(Function):
    def __init__(self, stride, padding, out_hw):
        self.stride, self.padding, self.out_hw = stride, padding, out_hw

    def forward(self, x, weight, bias=None):
        self.x = x if self.needs_grad[1] else None  # only the weight gradient reads x
        self.weight = weight
        y = gemm_col2im(x, weight, self.out_hw, self.stride, self.padding)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)
        return y

    def backward(self, grad_y):
        # The input gradient is conv2d(grad_y, weight): weight (I, O, kh, kw) reads as (out, in, ...).
        in_hw = conv_output_size("conv2d", grad_y.shape[2:], self.weight.shape[2:], self.stride, self.padding)
        col = im2col(grad_y, self.weight.shape[2:], self.stride, self.padding, in_hw)
        grad_x = gemm_nchw(self.weight, col, grad_y.shape[0], in_hw) if self.needs_grad[0] else None
        grad_w = weight_grad(self.x, col, self.weight.shape) if self.needs_grad[1] else None
        return grad_x, grad_w, bias_grad(self, grad_y)


def conv2d(input, weight, bias=None, stride=1, padding=0):  # noqa: A002  (torch's names)
    """2-D convolution; weight (out_channels, in_channels, kh, kw), as torch.nn.functional.conv2d."""
    stride = as_pair(stride, "stride", "conv2d", 1)
    padding = as_pair(padding, "padding", "conv2d", 0)
    _check_4d("conv2d", "input", input)
    _check_4d("conv2d", "weight", weight)
    _check_float("conv2d", "input", input)
    _check_float("conv2d", "weight", weight)
    if input.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d: input has {input.shape[1]} channels (shape {tuple(input.shape)}) "
                         f"but weight {tuple(weight.shape)} expects {weight.shape[1]}")
    _check_bias("conv2d", bias, weight.shape[0])
    conv_output_size("conv2d", input.shape[2:], weight.shape[2:], stride, padding)
    inputs = (input, weight) if bias is None else (input, weight, bias)
    return Conv2d(stride, padding)(*inputs)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0):  # noqa: A002
    """Transposed 2-D convolution; weight (in_channels, out_channels, kh, kw)."""
    op = "conv_transpose2d"
    stride = as_pair(stride, "stride", op, 1)
    padding = as_pair(padding, "padding", op, 0)
    output_padding = as_pair(output_padding, "output_padding", op, 0)
    _check_4d(op, "input", input)
    _check_4d(op, "weight", weight)
    _check_float(op, "input", input)
    _check_float(op, "weight", weight)
    if input.shape[1] != weight.shape[0]:
        raise ValueError(f"{op}: input has {input.shape[1]} channels (shape {tuple(input.shape)}) "
                         f"but weight {tuple(weight.shape)} expects {weight.shape[0]}")
    if any(op_ >= s for op_, s in zip(output_padding, stride)):
        raise ValueError(f"{op}: output_padding {output_padding} must be smaller than stride {stride}")
    _check_bias(op, bias, weight.shape[1])
    out_hw = tuple((n - 1) * s - 2 * p + k + q for n, s, p, k, q
                   in zip(input.shape[2:], stride, padding, weight.shape[2:], output_padding))
    if min(out_hw) < 1:
        raise ValueError(f"{op}: output size {out_hw} is empty for input {tuple(input.shape)}, "
                         f"kernel {tuple(weight.shape[2:])}, stride {stride}, padding {padding}")
    inputs = (input, weight) if bias is None else (input, weight, bias)
    return ConvTranspose2d(stride, padding, out_hw)(*inputs)
