"""Reductions with torch's dim/keepdim: sum, mean, var, std, max, min, argmax, argmin, logsumexp.

A reduced dim is an int, or a tuple of ints where torch takes one (sum, mean, var, std,
logsumexp); the gradient of max/min follows torch's rule for ties: shared evenly among the tied
elements for the reduction of everything, given to the returned index for max(dim)/min(dim).
"""
import collections
import math

from ..autograd import Function, Tensor, no_grad
from ..backend import array_module, is_array
from .dims import normalize_dim, normalize_dims
from .math import exp, maximum, minimum, sqrt, where
from .shape import expand, reshape


def _kept_shape(shape, dims):
    """shape with each of dims set to 1: the shape of a reduction with keepdim=True."""
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


def _count(shape, dims):
    return math.prod(shape[d] for d in dims)


class Sum(Function):
    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, a):
        self.in_shape = a.shape
        return a.sum(axis=self.dims, keepdims=self.keepdim)

    def backward(self, grad):
        xp = array_module(grad)
        grad = grad.reshape(_kept_shape(self.in_shape, self.dims))
        return xp.asarray(xp.broadcast_to(grad, self.in_shape), order="C")  # ascontiguousarray makes 0-d 1-d

    def backward_graph(self, grad):
        return expand(reshape(grad, _kept_shape(self.in_shape, self.dims)), self.in_shape)


class ExtremeOfAll(Function):
    """max() or min() of every element, a 0-d tensor; the gradient is shared evenly among the
    elements equal to it, as torch's."""

    def __init__(self, name):
        self.name = name  # "max" or "min"

    def forward(self, a):
        if a.size == 0:
            raise RuntimeError(f"{self.name}(): the tensor of shape {a.shape} is empty; give a dim "
                               f"to reduce, as torch asks")
        self.a = a
        self.y = getattr(a, self.name)()
        return self.y

    def backward(self, grad):
        return grad * self.share()

    def backward_graph(self, grad):
        return grad * self.share()

    def share(self):
        """Each element's share of the gradient: 1/count where it equals the extreme, else 0."""
        reached = self.a == self.y
        return reached / reached.sum(dtype=self.a.dtype)


class ExtremeAlong(Function):
    """The values of max(dim) or min(dim); self.indices (kept dim) says where they are, the first
    one among ties, and gets the whole gradient, as torch's."""

    def __init__(self, name, dim, keepdim):
        self.name, self.dim, self.keepdim = name, dim, keepdim

    def forward(self, a):
        if a.ndim and a.shape[self.dim] == 0:
            raise IndexError(f"{self.name}(): dim {self.dim} of the tensor of shape {a.shape} is empty")
        xp = array_module(a)
        self.in_shape = a.shape
        self.indices = getattr(a, "arg" + self.name)(axis=self.dim, keepdims=True)
        values = xp.take_along_axis(a, self.indices, axis=self.dim)
        return values if self.keepdim else values.squeeze(self.dim)

    def backward(self, grad):
        return array_module(grad).where(self.picked(), grad.reshape(self.indices.shape), 0)

    def backward_graph(self, grad):
        return where(self.picked(), reshape(grad, self.indices.shape), 0)

    def picked(self):
        """A bool mask of the input's shape, true at the returned indices."""
        along = [1] * len(self.in_shape)  # positions 0..n-1 along dim, broadcast over the rest
        along[self.dim] = self.in_shape[self.dim]
        positions = array_module(self.indices).arange(self.in_shape[self.dim]).reshape(along)
        return positions == self.indices


class ArgExtreme(Function):
    """argmax or argmin: int64 positions, the first one among ties; no gradient (see argmax)."""

    def __init__(self, name, dim, keepdim):
        self.name, self.dim, self.keepdim = name, dim, keepdim

    def forward(self, a):
        if a.size == 0:
            raise RuntimeError(f"{self.name}(): the tensor of shape {a.shape} is empty")
        find = getattr(array_module(a), self.name)
        if self.dim is None:  # a position in the flattened tensor
            index = find(a)
            return index.reshape((1,) * a.ndim) if self.keepdim else index
        return find(a, axis=self.dim, keepdims=self.keepdim)


class LogSumExp(Function):
    """log(sum(exp(a))) over dims, shifted by the maximum so that exp cannot overflow; its gradient
    is softmax(a) along dims."""

    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, a):
        xp = array_module(a)
        shift = a.max(axis=self.dims, keepdims=True)
        shift = xp.where(xp.isfinite(shift), shift, 0)  # all -inf: log(0) = -inf, not nan
        self.a = a
        self.y = xp.log(xp.exp(a - shift).sum(axis=self.dims, keepdims=True)) + shift
        return self.y if self.keepdim else self.y.reshape(
            tuple(n for i, n in enumerate(a.shape) if i not in self.dims))

    def backward(self, grad):
        return grad.reshape(self.y.shape) * array_module(grad).exp(self.a - self.y)

    def backward_graph(self, grad):
        a = self.inputs[0]
        return reshape(grad, self.y.shape) * exp(a - logsumexp(a, self.dims, keepdim=True))


def sum(input, dim=None, keepdim=False):  # noqa: A001  (torch's name)
    return Sum(normalize_dims("sum", dim, input.shape), keepdim)(input)


def mean(input, dim=None, keepdim=False):
    dims = normalize_dims("mean", dim, input.shape)
    return sum(input, dims, keepdim) / _count(input.shape, dims)


def _correction(op, unbiased, correction):
    if unbiased is not None and correction is not None:
        raise ValueError(f"{op}: give unbiased or correction, not both (unbiased={unbiased}, "
                         f"correction={correction})")
    if correction is not None:
        return correction
    return 0 if unbiased is False else 1


def _variance(op, input, dim, unbiased, keepdim, correction):
    if isinstance(dim, bool):  # torch's overload var(input, unbiased)
        dim, unbiased = None, dim
    dims = normalize_dims(op, dim, input.shape)
    divisor = _count(input.shape, dims) - _correction(op, unbiased, correction)
    centered = input - mean(input, dims, keepdim=True)
    return sum(centered * centered, dims, keepdim) / (divisor if divisor > 0 else 0)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """torch.var: the sum of squared deviations over (count - correction); correction=1 (unbiased)
    by default, unbiased=False is correction=0. var(input, False) is var(input, unbiased=False)."""
    return _variance("var", input, dim, unbiased, keepdim, correction)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return sqrt(_variance("std", input, dim, unbiased, keepdim, correction))


ValuesIndices = {name: collections.namedtuple(name, ["values", "indices"]) for name in ("max", "min")}


def _extreme(name, input, dim, keepdim):
    if dim is None:
        return ExtremeOfAll(name)(input)
    if isinstance(dim, Tensor) or is_array(dim):  # torch.max(a, b): the elementwise maximum
        return (maximum if name == "max" else minimum)(input, dim)
    function = ExtremeAlong(name, normalize_dim(name, dim, input.shape), keepdim)
    values = function(input)
    indices = function.indices if keepdim else function.indices.reshape(values.shape)
    return ValuesIndices[name](values, Tensor(indices))


def max(input, dim=None, keepdim=False):  # noqa: A001  (torch's name)
    """The largest element (a 0-d tensor), or with dim (values, indices) along it, or with a tensor
    as dim, the elementwise maximum: torch.max's three forms."""
    return _extreme("max", input, dim, keepdim)


def min(input, dim=None, keepdim=False):  # noqa: A001  (torch's name)
    return _extreme("min", input, dim, keepdim)


def _arg_extreme(name, input, dim, keepdim):
    dim = None if dim is None else normalize_dim(name, dim, input.shape)
    with no_grad():  # positions carry no gradient
        return ArgExtreme(name, dim, keepdim)(input)


def argmax(input, dim=None, keepdim=False):
    return _arg_extreme("argmax", input, dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    return _arg_extreme("argmin", input, dim, keepdim)


def logsumexp(input, dim, keepdim=False):
    return LogSumExp(normalize_dims("logsumexp", dim, input.shape), keepdim)(input)
