"""softmax and log_softmax along one dim, as torch.nn.functional's, numerically stable.

Both subtract the maximum along dim before exp, so no logit overflows, and save only their
output for backward: softmax's gradient is y * (g - sum(g * y)), log_softmax's g - exp(y) * sum(g).
They are array ops; cross_entropy does not go through them but through one kernel that fuses
log_softmax with the loss (kernels/cross_entropy.py, which says what that saves).
dtype, as torch's, casts the input first (the gradient is cast back to the input's dtype).
"""
from ..autograd import Function
from ..backend import array_module
from .dims import normalize_dim


class Softmax(Function):
    def __init__(self, dim, dtype):
        self.dim, self.dtype = dim, dtype

    def forward(self, x):
        self.x_dtype = x.dtype
        x = x if self.dtype is None else x.astype(self.dtype)
        e = array_module(x).exp(x - x.max(axis=self.dim, keepdims=True))
        self.y = e / e.sum(axis=self.dim, keepdims=True)
        return self.y

    def backward(self, grad):
        return (self.y * (grad - (grad * self.y).sum(axis=self.dim, keepdims=True))).astype(self.x_dtype, copy=False)

    def backward_graph(self, grad):
        y = Softmax(self.dim, self.dtype)(self.inputs[0])
        return cast(y * (grad - (grad * y).sum(self.dim, keepdim=True)), self.x_dtype)


class LogSoftmax(Function):
    def __init__(self, dim, dtype):
        self.dim, self.dtype = dim, dtype

    def forward(self, x):
        self.x_dtype = x.dtype
        x = x if self.dtype is None else x.astype(self.dtype)
        xp = array_module(x)
        shifted = x - x.max(axis=self.dim, keepdims=True)
        self.y = shifted - xp.log(xp.exp(shifted).sum(axis=self.dim, keepdims=True))
        return self.y

    def backward(self, grad):
        xp = array_module(grad)
        return (grad - xp.exp(self.y) * grad.sum(axis=self.dim, keepdims=True)).astype(self.x_dtype, copy=False)

    def backward_graph(self, grad):
        y = LogSoftmax(self.dim, self.dtype)(self.inputs[0])
        return cast(grad - y.exp() * grad.sum(self.dim, keepdim=True), self.x_dtype)


class Cast(Function):
    """a as dtype, for the recorded gradients of softmax and log_softmax with a dtype: their
    gradient goes back in the input's dtype."""

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, a):
        self.in_dtype = a.dtype
        return a.astype(self.dtype)

    def backward(self, grad):
        return grad.astype(self.in_dtype)

    def backward_graph(self, grad):
        return cast(grad, self.in_dtype)


def cast(a, dtype):
    return a if a.dtype == dtype else Cast(dtype)(a)


def check_dim(op, input, dim):  # noqa: A002  (torch's names)
    """dim as a non-negative int, after checking it names one of input's dimensions."""
    if dim is None:
        raise TypeError(f"{op}: give dim, the dimension to normalise over (torch's implicit choice of "
                        f"dim is deprecated), for input of shape {tuple(input.shape)}")
    return normalize_dim(op, dim, tuple(input.shape))


def softmax(input, dim=None, dtype=None):  # noqa: A002
    """exp(x) / sum(exp(x)) along dim."""
    return Softmax(check_dim("softmax", input, dim), dtype)(input)


def log_softmax(input, dim=None, dtype=None):  # noqa: A002
    """x - log(sum(exp(x))) along dim."""
    return LogSoftmax(check_dim("log_softmax", input, dim), dtype)(input)
