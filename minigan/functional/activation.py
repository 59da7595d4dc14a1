"""Elementwise activations. Each saves the cheapest thing its backward needs."""
from ..autograd import Function
from ..backend import array_module, kernels


class LeakyReLU(Function):
    """One fused pass each way; saves its output, whose sign is the input's for slopes >= 0."""

    def __init__(self, negative_slope):
        self.negative_slope = negative_slope

    def forward(self, x):
        xp = array_module(x)
        if self.negative_slope < 0:  # the output's sign no longer tells the input's: keep a mask
            self.positive = x > 0
            return xp.where(self.positive, x, x * x.dtype.type(self.negative_slope))
        self.y = kernels(xp).leaky_relu(x, self.negative_slope)
        return self.y

    def backward(self, grad):
        if self.negative_slope < 0:
            return array_module(grad).where(self.positive, grad, grad * grad.dtype.type(self.negative_slope))
        return kernels(array_module(grad)).leaky_relu_backward(grad, self.y, self.negative_slope)


class Tanh(Function):
    def forward(self, x):
        self.y = array_module(x).tanh(x)
        return self.y

    def backward(self, grad):
        return grad * (1 - self.y * self.y)


class Sigmoid(Function):
    def forward(self, x):
        self.y = kernels(array_module(x)).sigmoid(x)
        return self.y

    def backward(self, grad):
        return grad * self.y * (1 - self.y)


def leaky_relu(input, negative_slope=0.01):  # noqa: A002  (torch's names)
    return LeakyReLU(negative_slope)(input)


def relu(input):  # noqa: A002
    return LeakyReLU(0.0)(input)


def tanh(input):  # noqa: A002
    return Tanh()(input)


def sigmoid(input):  # noqa: A002
    return Sigmoid()(input)
