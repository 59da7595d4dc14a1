"""Elementwise activations. Each saves the cheapest thing its backward needs."""
from ..autograd import Function, applied
from ..backend import array_module, kernels
from ..kernels.gelu import INV_SQRT_2PI, KAPPA, SQRT_2_OVER_PI
from .math import clamp, exp, where


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

    def backward_graph(self, grad):
        # grad times the slope at x, a constant: 1 where x > 0, else negative_slope
        positive = self.positive if self.negative_slope < 0 else self.y > 0
        return grad * array_module(positive).where(positive, 1.0, self.negative_slope).astype(grad.dtype)


class Tanh(Function):
    def forward(self, x):
        self.y = array_module(x).tanh(x)
        return self.y

    def backward(self, grad):
        return kernels(array_module(grad)).tanh_backward(grad, self.y)

    def backward_graph(self, grad):
        y = tanh(self.inputs[0])
        return grad * (1 - y * y)


class Sigmoid(Function):
    def forward(self, x):
        self.y = kernels(array_module(x)).sigmoid(x)
        return self.y

    def backward(self, grad):
        return grad * self.y * (1 - self.y)

    def backward_graph(self, grad):
        s = sigmoid(self.inputs[0])
        return grad * s * (1 - s)


def leaky_relu(input, negative_slope=0.01, inplace=False):  # noqa: A002  (torch's names)
    return applied("leaky_relu", LeakyReLU(negative_slope), input, inplace)


def relu(input, inplace=False):  # noqa: A002
    return applied("relu", LeakyReLU(0.0), input, inplace)


def tanh(input):  # noqa: A002
    return Tanh()(input)


def sigmoid(input):  # noqa: A002
    return Sigmoid()(input)


# --- smooth activations: GELU, SiLU, ELU ----------------------------------------------------

class GELU(Function):
    """x * Phi(x), exactly (erf) or with torch's tanh approximation; saves x, as torch does."""

    def __init__(self, approximate):
        self.approximate = approximate

    def forward(self, x):
        self.x = x
        return kernels(array_module(x)).gelu(x, self.approximate)

    def backward(self, grad):
        return kernels(array_module(grad)).gelu_backward(grad, self.x, self.approximate)

    def backward_graph(self, grad):
        return grad * GELUSlope(self.approximate)(self.inputs[0])


class GELUSlope(Function):
    """GELU's derivative at x, as an op: its exact form needs erf, which no recorded op has (the
    kernel computes it); the derivative of the slope, GELU's curvature, is written in exp and
    tanh, as arrays in backward and as recorded ops in backward_graph."""

    def __init__(self, approximate):
        self.approximate = approximate

    def forward(self, x):
        xp = array_module(x)
        self.x = x
        return kernels(xp).gelu_backward(xp.ones_like(x), x, self.approximate)

    def backward(self, grad):
        xp = array_module(grad)
        return grad * self.curvature(self.x, xp.exp, xp.tanh)

    def backward_graph(self, grad):
        return grad * self.curvature(self.inputs[0], exp, tanh)

    def curvature(self, x, exp, tanh):
        """d^2 GELU / dx^2 at x (an array or a Tensor, with the exp and tanh that take it)."""
        if self.approximate == "none":  # phi(x) (2 - x^2)
            return exp(-0.5 * x * x) * INV_SQRT_2PI * (2 - x * x)
        # tanh form: with u = c (x + k x^3) and t = tanh(u), (1 - t^2) (u' + x (3 c k x - t u'^2))
        du = SQRT_2_OVER_PI * (1 + 3 * KAPPA * x * x)
        t = tanh(SQRT_2_OVER_PI * (x + KAPPA * x * x * x))
        return (1 - t * t) * (du + x * (3 * SQRT_2_OVER_PI * KAPPA * x - t * du * du))


class SiLU(Function):
    """x * sigmoid(x); saves x and sigmoid(x), from which the slope is s (1 + x (1 - s))."""

    def forward(self, x):
        self.x, self.s = x, kernels(array_module(x)).sigmoid(x)
        return x * self.s

    def backward(self, grad):
        return grad * self.s * (1 + self.x * (1 - self.s))

    def backward_graph(self, grad):
        x = self.inputs[0]
        s = sigmoid(x)
        return grad * s * (1 + x * (1 - s))


class ELU(Function):
    """x > 0 ? x : alpha (exp(x) - 1); saves x. The slope at 0 is alpha (the negative side's), as
    torch's."""

    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        xp = array_module(x)
        self.x = x
        negative = self.alpha * xp.expm1(xp.minimum(x, 0))  # exp of the positive side would overflow
        return xp.where(x > 0, x, negative.astype(x.dtype, copy=False))

    def backward(self, grad):
        xp = array_module(grad)
        slope = self.alpha * xp.exp(xp.minimum(self.x, 0))
        return xp.where(self.x > 0, grad, (grad * slope).astype(grad.dtype, copy=False))

    def backward_graph(self, grad):
        # exp of the negative side only (clamped at 0, where its gradient stops): no overflow
        slope = self.alpha * exp(clamp(self.inputs[0], max=0))
        return where(self.x > 0, grad, grad * slope)


def gelu(input, approximate="none"):  # noqa: A002
    return GELU(approximate)(input)


def silu(input, inplace=False):  # noqa: A002
    return applied("silu", SiLU(), input, inplace)


def elu(input, alpha=1.0, inplace=False):  # noqa: A002
    return applied("elu", ELU(alpha), input, inplace)
