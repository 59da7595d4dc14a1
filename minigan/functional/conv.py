"""conv2d and conv_transpose2d, each defined through the other (as in Chainer).

Both are built from two array-level steps that share one column layout
(kernels/convolution.py), on batch-innermost images (functional/layout.py):
  columns, then one GEMM   = conv2d forward
  one GEMM, then col2im    = conv_transpose2d forward (col2im is a gather)
The input gradient of each is the forward of the other with the same weight,
and the weight gradient is one GEMM against the column matrix, which forward
keeps only when the weight wants a gradient. Every GEMM result is a
(channels, pixels*N) matrix, which is the next image as it is: no transposes.
Transposed convolution never inserts zeros.

Recorded gradients (create_graph) use the same three maps as ops: the two
convolutions, and the weight gradient as Conv2dGradWeight, whose own gradients
are the two convolutions again (Chainer's design), so every order of
derivative stays within these ops.
"""
import numbers

from ..autograd import Function
from ..backend import array_module, kernels
from ..config import config
from .layout import as_nchw, batch_innermost
from .reduction import sum as reduce_sum


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


def _dense(image_hw, kernel_hw, padding):
    """Whether the kernel covers the whole unpadded image: one output pixel, no overlap."""
    return tuple(image_hw) == tuple(kernel_hw) and tuple(padding) == (0, 0)


def columns(image, kernel_hw, stride, padding, out_hw):
    """The column matrix (C*kh*kw, oh*ow*N) of a (C, H, W, N) image (the kernel's im2col)."""
    if _dense(image.shape[1:3], kernel_hw, padding):  # row (c, i, j) is pixel (i, j): image itself
        return image.reshape(-1, image.shape[3])
    return kernels(array_module(image)).im2col(image, *kernel_hw, stride, padding, out_hw)


def image_of(col, image_shape, kernel_hw, stride, padding, col_hw):
    """The (C, H, W, N) image whose pixels sum their entries of col (C*kh*kw, h*w*N): col2im."""
    if col_hw == (1, 1) and _dense(image_shape[1:3], kernel_hw, padding):  # one tap per pixel
        return col.reshape(image_shape)
    return kernels(array_module(col)).col2im(col, image_shape, *kernel_hw, stride, padding, col_hw)


def matmul(a, b, out=None, accumulate=False):
    return kernels(array_module(a)).matmul(a, b, config.matmul, out, accumulate)


def weight_grad(fn, a, b, weight_shape):
    """a @ b as the weight's gradient (input 1): computed straight into the weight's .grad or
    optimizer buffer where backward may write there (Function.grad_target), else a new array."""
    target = fn.grad_target(1)
    if target is None:
        return matmul(a, b).reshape(weight_shape)
    home, accumulate = target
    matmul(a, b, home.reshape(a.shape[0], b.shape[1]), accumulate)
    return home


def add_bias(y, bias):
    """y (O, pixels) plus bias[o] on each row, in place."""
    if bias is not None:
        y += bias.reshape(-1, 1)
    return y


def bias_grad(fn, grad_rows):
    return grad_rows.sum(axis=1) if len(fn.needs_grad) == 3 and fn.needs_grad[2] else None


def bias_grad_graph(fn, grad_y):
    """bias_grad for recorded gradients: grad_y (a Tensor) summed over all but its channels."""
    return reduce_sum(grad_y, (0, 2, 3)) if len(fn.needs_grad) == 3 and fn.needs_grad[2] else None


class Conv2d(Function):
    def __init__(self, stride, padding):
        self.stride, self.padding = stride, padding

    def forward(self, x, weight, bias=None):
        out_hw = conv_output_size("conv2d", x.shape[2:], weight.shape[2:], self.stride, self.padding)
        image = batch_innermost(x)
        col = columns(image, weight.shape[2:], self.stride, self.padding, out_hw)
        self.col = col if self.needs_grad[1] else None  # only the weight gradient reads it
        self.weight, self.image_shape = weight, image.shape
        y = add_bias(matmul(weight.reshape(weight.shape[0], -1), col), bias)  # (O, oh*ow*N)
        return as_nchw(y.reshape(weight.shape[0], *out_hw, x.shape[0]))

    def backward(self, grad_y):
        grad = batch_innermost(grad_y)
        rows = grad.reshape(grad.shape[0], -1)  # (O, oh*ow*N)
        grad_x = None
        if self.needs_grad[0]:  # conv_transpose2d of grad_y: the weight (O, C, kh, kw) reads as (in, out, ...)
            col = matmul(self.weight.reshape(self.weight.shape[0], -1).T, rows)
            grad_x = as_nchw(image_of(col, self.image_shape, self.weight.shape[2:], self.stride,
                                      self.padding, grad.shape[1:3]))
        grad_w = weight_grad(self, rows, self.col.T, self.weight.shape) if self.needs_grad[1] else None
        return grad_x, grad_w, bias_grad(self, rows)

    def backward_graph(self, grad_y):
        # backward's two maps as recorded ops: the input gradient is conv_transpose2d of grad_y
        # with the weight, the weight gradient conv2d's weight-gradient op.
        x, weight = self.inputs[:2]
        grad_x = (ConvTranspose2d(self.stride, self.padding, self.image_shape[1:3])(grad_y, weight)
                  if self.needs_grad[0] else None)
        grad_w = (Conv2dGradWeight(self.stride, self.padding, weight.shape[2:], self.col)(x, grad_y)
                  if self.needs_grad[1] else None)
        return grad_x, grad_w, bias_grad_graph(self, grad_y)


class ConvTranspose2d(Function):
    def __init__(self, stride, padding, out_hw):
        self.stride, self.padding, self.out_hw = stride, padding, out_hw

    def forward(self, x, weight, bias=None):
        i, o = weight.shape[:2]
        rows = batch_innermost(x).reshape(i, -1)  # (I, h*w*N)
        self.rows = rows if self.needs_grad[1] else None  # only the weight gradient reads x
        self.weight, self.in_hw = weight, x.shape[2:]
        col = matmul(weight.reshape(i, -1).T, rows)  # (O*kh*kw, h*w*N)
        image = image_of(col, (o, *self.out_hw, x.shape[0]), weight.shape[2:], self.stride, self.padding,
                         self.in_hw)
        if bias is not None:
            add_bias(image.reshape(o, -1), bias)
        return as_nchw(image)

    def backward(self, grad_y):
        # The input gradient is conv2d(grad_y, weight): weight (I, O, kh, kw) reads as (out, in, ...).
        i, grad = self.weight.shape[0], batch_innermost(grad_y)
        col = columns(grad, self.weight.shape[2:], self.stride, self.padding, self.in_hw)
        grad_x = None
        if self.needs_grad[0]:
            grad_x = as_nchw(matmul(self.weight.reshape(i, -1), col).reshape(i, *self.in_hw, grad.shape[3]))
        grad_w = weight_grad(self, self.rows, col.T, self.weight.shape) if self.needs_grad[1] else None
        return grad_x, grad_w, bias_grad(self, grad.reshape(grad.shape[0], -1))

    def backward_graph(self, grad_y):
        # The input gradient is conv2d(grad_y, weight); the weight gradient is conv2d's weight
        # gradient of the conv that maps grad_y back to x, conv2d(grad_y, weight) -> x.
        x, weight = self.inputs[:2]
        grad_x = Conv2d(self.stride, self.padding)(grad_y, weight) if self.needs_grad[0] else None
        grad_w = (Conv2dGradWeight(self.stride, self.padding, weight.shape[2:])(grad_y, x)
                  if self.needs_grad[1] else None)
        return grad_x, grad_w, bias_grad_graph(self, grad_y)


class Conv2dGradWeight(Function):
    """conv2d's weight gradient as an op, for recorded gradients (Chainer's Convolution2DGradW):
    grad_w(x, grad_y) = grad_y's rows times x's columns, the GEMM of Conv2d.backward. It is
    bilinear: its gradient in x is the conv_transpose2d of grad_y with grad_w's cotangent, and
    in grad_y the conv2d of x with it, so its backward is the two convolutions again."""

    def __init__(self, stride, padding, kernel_hw, x_columns=None):
        self.stride, self.padding, self.kernel_hw = stride, padding, tuple(kernel_hw)
        self.x_columns = x_columns  # x's column matrix where a Conv2d kept it, for forward alone

    def forward(self, x, grad_y):
        grad = batch_innermost(grad_y)
        col = self.x_columns
        if col is None:
            col = columns(batch_innermost(x), self.kernel_hw, self.stride, self.padding, grad.shape[1:3])
        self.x_columns = None
        self.x = x if self.needs_grad[1] else None  # each input only for the other's gradient
        self.grad_y = grad_y if self.needs_grad[0] else None
        self.in_hw = x.shape[2:]
        return matmul(grad.reshape(grad.shape[0], -1), col.T).reshape(grad.shape[0], x.shape[1], *self.kernel_hw)

    def backward(self, grad_w):
        return tuple(None if g is None else g.data for g in self.gradients(self.x, self.grad_y, grad_w))

    def backward_graph(self, grad_w):
        return self.gradients(*self.inputs, grad_w)

    def gradients(self, x, grad_y, grad_w):
        """(x's gradient, grad_y's) as Tensors from the convolutions, recorded when grad mode is on."""
        grad_x = (ConvTranspose2d(self.stride, self.padding, self.in_hw)(grad_y, grad_w)
                  if self.needs_grad[0] else None)
        grad_grad_y = Conv2d(self.stride, self.padding)(x, grad_w) if self.needs_grad[1] else None
        return grad_x, grad_grad_y


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
