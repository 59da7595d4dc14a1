"""avg_pool2d and max_pool2d, as torch.nn.functional's with ceil_mode=False.

The kernels (minigan.kernels.pooling) do the work on both backends; the
backward of each is a gather, so it is deterministic. Average pooling counts
the padding in its divisor (torch's count_include_pad=True); max pooling
sends each window's gradient to its first maximum in scan order, as torch
does on the CPU, and saves only that argmax (int32 per output pixel).

For recorded gradients (create_graph) each backward is an op of its own, linear in the output
gradient, whose backward is the pooling again: average pooling's is the average pooling with
the same window (the two are each other's transpose), max pooling's the gather of each
window's saved argmax pixel (MaxPool2dGather).
"""
from ..autograd import Function
from ..backend import array_module, kernels
from .conv import _check_4d, as_pair, conv_output_size


class AvgPool2d(Function):
    def __init__(self, kernel, stride, padding):
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x):
        self.x_shape = x.shape
        return kernels(array_module(x)).avg_pool2d(x, self.kernel, self.stride, self.padding)

    def backward(self, grad_y):
        return kernels(array_module(grad_y)).avg_pool2d_backward(grad_y, self.x_shape, self.kernel,
                                                                 self.stride, self.padding)

    def backward_graph(self, grad_y):
        return AvgPool2dGrad(self.kernel, self.stride, self.padding, self.x_shape)(grad_y)


class AvgPool2dGrad(Function):
    """avg_pool2d's input gradient as an op: its forward is AvgPool2d's backward, its backward the
    average pooling itself."""

    def __init__(self, kernel, stride, padding, x_shape):
        self.kernel, self.stride, self.padding, self.x_shape = kernel, stride, padding, x_shape

    def forward(self, grad_y):
        return AvgPool2d.backward(self, grad_y)  # it reads only the window and x_shape, which self has

    def backward(self, grad):
        return kernels(array_module(grad)).avg_pool2d(grad, self.kernel, self.stride, self.padding)

    def backward_graph(self, grad):
        return AvgPool2d(self.kernel, self.stride, self.padding)(grad)


class MaxPool2d(Function):
    def __init__(self, kernel, stride, padding):
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x):
        self.x_shape = x.shape
        y, self.argmax = kernels(array_module(x)).max_pool2d(x, self.kernel, self.stride, self.padding)
        return y

    def backward(self, grad_y):
        return kernels(array_module(grad_y)).max_pool2d_backward(grad_y, self.argmax, self.x_shape,
                                                                 self.kernel, self.stride, self.padding)

    def backward_graph(self, grad_y):
        return MaxPool2dGrad(self)(grad_y)


class AtArgmax(Function):
    """A linear map at the argmax positions of one MaxPool2d call. It copies them and the window
    (that call's saved arrays are freed after its backward), all that MaxPool2d.backward reads."""

    def __init__(self, pool):
        self.argmax, self.x_shape = pool.argmax, pool.x_shape
        self.kernel, self.stride, self.padding = pool.kernel, pool.stride, pool.padding


class MaxPool2dGrad(AtArgmax):
    """max_pool2d's input gradient as an op: its forward is MaxPool2d's backward (each window's
    gradient sent to its argmax pixel), its backward the gather of those pixels, its twin
    MaxPool2dGather."""

    def forward(self, grad_y):
        return MaxPool2d.backward(self, grad_y)

    def backward(self, grad):
        return gather_argmax(grad, self.argmax)

    def backward_graph(self, grad):
        return MaxPool2dGather(self)(grad)


class MaxPool2dGather(AtArgmax):
    """Each window's argmax pixel of an input of the pooled shape: MaxPool2dGrad's transpose,
    whose backward is MaxPool2dGrad."""

    def forward(self, x):
        return gather_argmax(x, self.argmax)

    def backward(self, grad_y):
        return MaxPool2d.backward(self, grad_y)

    def backward_graph(self, grad_y):
        return MaxPool2dGrad(self)(grad_y)


def gather_argmax(x, argmax):
    """x (N, C, H, W) at argmax (N, C, oh, ow), flat indices h * W + w within each plane."""
    n, c = x.shape[:2]
    planes = x.reshape(n * c, -1)
    return array_module(x).take_along_axis(planes, argmax.reshape(n * c, -1), axis=1).reshape(argmax.shape)


def _window(op, input, kernel_size, stride, padding, **unsupported):  # noqa: A002  (torch's names)
    """(kernel, stride, padding) pairs, after torch's checks; torch's other options at their defaults only."""
    for name, (value, default) in unsupported.items():
        if value != default:
            raise NotImplementedError(f"{op}: {name}={value!r} is not supported (only {name}={default!r})")
    kernel = as_pair(kernel_size, "kernel_size", op, 1)
    stride = kernel if stride is None else as_pair(stride, "stride", op, 1)
    padding = as_pair(padding, "padding", op, 0)
    _check_4d(op, "input", input)
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(f"{op}: padding {padding} must be at most half of kernel_size {kernel}")
    conv_output_size(op, input.shape[2:], kernel, stride, padding)
    return kernel, stride, padding


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,  # noqa: A002
               count_include_pad=True, divisor_override=None):
    """Means over kernel_size windows, stride defaulting to kernel_size; padding counts as zeros."""
    window = _window("avg_pool2d", input, kernel_size, stride, padding, ceil_mode=(ceil_mode, False),
                     count_include_pad=(count_include_pad, True), divisor_override=(divisor_override, None))
    return AvgPool2d(*window)(input)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
               return_indices=False):
    """Maxima over kernel_size windows, stride defaulting to kernel_size; padding is -inf."""
    window = _window("max_pool2d", input, kernel_size, stride, padding, dilation=(as_pair(dilation, "dilation",
                     "max_pool2d", 1), (1, 1)), ceil_mode=(ceil_mode, False),
                     return_indices=(return_indices, False))
    return MaxPool2d(*window)(input)
