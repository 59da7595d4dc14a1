"""Elementwise math with torch's gradients at the edges: exp, log, sqrt, abs, pow, clamp,
maximum/minimum (ties share the gradient), where, and the comparisons (no gradient)."""
import numbers

from ..autograd import Function, Tensor, no_grad
from ..backend import array_module, is_array
from .broadcast import sum_to
from .shape import sum_to_size


class Exp(Function):
    def forward(self, a):
        self.y = array_module(a).exp(a)
        return self.y

    def backward(self, grad):
        return grad * self.y

    def backward_graph(self, grad):
        return grad * exp(self.inputs[0])


class Log(Function):
    def forward(self, a):
        self.a = a
        return array_module(a).log(a)

    def backward(self, grad):
        return grad / self.a

    def backward_graph(self, grad):
        return grad / self.inputs[0]


class Sqrt(Function):
    def forward(self, a):
        self.y = array_module(a).sqrt(a)
        return self.y

    def backward(self, grad):
        return grad / (2 * self.y)

    def backward_graph(self, grad):
        return grad / (2 * sqrt(self.inputs[0]))


class Abs(Function):
    def forward(self, a):
        self.a = a
        return array_module(a).abs(a)

    def backward(self, grad):
        return grad * array_module(grad).sign(self.a)  # 0 at 0, as torch

    def backward_graph(self, grad):
        return grad * array_module(self.a).sign(self.a)


class Pow(Function):
    """a ** b, either side a tensor or a number (then a 0-d array). As torch, the base's gradient
    is 0 where the exponent is 0, and the exponent's where the base is 0 and the exponent >= 0
    (instead of the 0 * inf = nan of the plain formulas)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        self.y = a ** b
        return self.y

    def backward(self, grad):
        xp = array_module(grad)
        a, b = self.a, self.b
        grad_a = grad_b = None
        if self.needs_grad[0]:  # b * a ** (b - 1), without 0 * 0 ** -1 where b is 0
            grad_a = sum_to(grad * b * a ** xp.where(b == 0, 1, b - 1), a.shape)
        if self.needs_grad[1]:  # y * log(a), without 0 * log(0) where a is 0 and b >= 0
            grad_b = sum_to(grad * self.y * xp.log(xp.where((a == 0) & (b >= 0), 1, a)), b.shape)
        return grad_a, grad_b

    def backward_graph(self, grad):
        xp = array_module(self.a)
        a, b = self.inputs
        grad_a = grad_b = None
        if self.needs_grad[0]:
            exponent = where(self.b == 0, 1, b - 1) if self.needs_grad[1] else xp.where(self.b == 0, 1, self.b - 1)
            grad_a = sum_to_size(grad * b * a ** exponent, self.a.shape)
        if self.needs_grad[1]:
            base = where((self.a == 0) & (self.b >= 0), 1, a) if self.needs_grad[0] else \
                xp.where((self.a == 0) & (self.b >= 0), 1, self.a)
            grad_b = sum_to_size(grad * a ** b * log(base), self.b.shape)
        return grad_a, grad_b


class Clamp(Function):
    """min(max(a, min), max) for numbers min and max (either None); as torch, the gradient passes
    where min <= a <= max, bounds included, and everything is max where min > max."""

    def __init__(self, min, max):  # noqa: A002  (torch's names)
        self.min, self.max = min, max

    def forward(self, a):
        xp = array_module(a)
        self.a = a
        y = a if self.min is None else xp.maximum(a, self.min)
        return y if self.max is None else xp.minimum(y, self.max)

    def backward(self, grad):
        return array_module(grad).where(self.inside(), grad, 0)

    def backward_graph(self, grad):
        return where(self.inside(), grad, 0)

    def inside(self):
        """Where the gradient passes: min <= a <= max."""
        inside = True
        if self.min is not None:
            inside = self.a >= self.min
        if self.max is not None:
            inside = inside & (self.a <= self.max)
        return inside


class Extremum(Function):
    """maximum(a, b) or minimum(a, b) elementwise, broadcasting; where a == b each side gets half
    the gradient, as torch."""

    def __init__(self, name):
        self.name = name  # "maximum" or "minimum"

    def forward(self, a, b):
        self.a, self.b = a, b
        return getattr(array_module(a), self.name)(a, b)

    def backward(self, grad):
        xp = array_module(grad)
        a_wins = self.a > self.b if self.name == "maximum" else self.a < self.b
        tie, half = self.a == self.b, grad / 2
        grad_a = sum_to(xp.where(tie, half, xp.where(a_wins, grad, 0)), self.a.shape)
        grad_b = sum_to(xp.where(tie, half, xp.where(a_wins, 0, grad)), self.b.shape)
        return grad_a, grad_b

    def backward_graph(self, grad):
        # grad times each side's constant share: 1 where it wins, 1/2 at ties, 0 where it loses
        xp = array_module(self.a)
        a_wins = self.a > self.b if self.name == "maximum" else self.a < self.b
        share = xp.where(self.a == self.b, 0.5, xp.where(a_wins, 1.0, 0.0)).astype(grad.dtype)
        return sum_to_size(grad * share, self.a.shape), sum_to_size(grad * (1 - share), self.b.shape)


class Where(Function):
    """condition ? a : b elementwise, broadcasting all three; condition gets no gradient."""

    def forward(self, condition, a, b):
        if condition.dtype.kind != "b":
            raise TypeError(f"where: the condition must be a bool tensor (a comparison's result), "
                            f"got {condition.dtype} of shape {condition.shape}")
        self.condition, self.shapes = condition, (a.shape, b.shape)
        return array_module(a).where(condition, a, b)

    def backward(self, grad):
        xp = array_module(grad)
        return (None, sum_to(xp.where(self.condition, grad, 0), self.shapes[0]),
                sum_to(xp.where(self.condition, 0, grad), self.shapes[1]))

    def backward_graph(self, grad):
        return (None, sum_to_size(where(self.condition, grad, 0), self.shapes[0]),
                sum_to_size(where(self.condition, 0, grad), self.shapes[1]))


class Comparison(Function):
    """a < b, a == b, ...: a bool tensor that carries no gradient (see _comparison)."""

    def __init__(self, name):
        self.name = name  # the array module's ufunc: "less", "equal", ...

    def forward(self, a, b):
        return getattr(array_module(a), self.name)(a, b)


def exp(input):
    return Exp()(input)


def log(input):
    return Log()(input)


def sqrt(input):
    return Sqrt()(input)


def abs(input):  # noqa: A001  (torch's name)
    return Abs()(input)


def pow(input, exponent):  # noqa: A001  (torch's name)
    return Pow()(input, exponent)


def clamp(input, min=None, max=None):  # noqa: A002  (torch's names)
    if min is None and max is None:
        raise ValueError(f"clamp: at least one of min and max must not be None (input of shape {input.shape})")
    for name, bound in (("min", min), ("max", max)):
        if bound is not None and not isinstance(bound, numbers.Real):
            raise TypeError(f"clamp: {name} must be a number, got {type(bound).__name__}; for a tensor "
                            f"bound use maximum/minimum")
    return Clamp(min, max)(input)


def maximum(input, other):
    return Extremum("maximum")(input, other)


def minimum(input, other):
    return Extremum("minimum")(input, other)


def where(condition, input, other):
    return Where()(condition, input, other)


def _is_operand(value):
    return isinstance(value, (Tensor, numbers.Number)) or is_array(value)


def _comparison(name, ufunc):
    """torch's comparison `name` (eq, lt, ...): input <ufunc> other as a bool Tensor, recorded for
    no backward, since a comparison has no gradient; NotImplemented for an `other` that is no
    number or tensor, so that `tensor == None` is False, as in torch."""
    def compare(input, other):
        if not _is_operand(other):
            return NotImplemented
        with no_grad():
            return Comparison(ufunc)(input, other)
    compare.__name__ = compare.__qualname__ = name
    return compare


eq, ne = _comparison("eq", "equal"), _comparison("ne", "not_equal")
lt, le = _comparison("lt", "less"), _comparison("le", "less_equal")
gt, ge = _comparison("gt", "greater"), _comparison("ge", "greater_equal")
