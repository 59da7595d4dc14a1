"""tensor[key]: ints, slices, None, Ellipsis, and integer or boolean arrays (NumPy's and torch's
indexing rules, which agree), with the gradient scattered back and added up where an element is
picked more than once."""
import math

from ..autograd import Function, unwrap
from ..backend import array_module

_BASIC = (int, slice, type(None), type(Ellipsis))


def _is_basic(key):
    """Whether key picks each element at most once (no integer or boolean arrays, no lists)."""
    parts = key if isinstance(key, tuple) else (key,)
    return all(isinstance(part, _BASIC) and not isinstance(part, bool) for part in parts)


class GetItem(Function):
    def __init__(self, key):
        self.key = key

    def forward(self, a):
        self.in_shape = a.shape
        try:
            return a[self.key]
        except IndexError as error:
            raise IndexError(f"indexing a tensor of shape {a.shape}: {error}") from None

    def backward(self, grad):
        return _scattered(grad, self.key, self.in_shape)

    def backward_graph(self, grad):
        return ScatterItem(self.key, self.in_shape)(grad)


class ScatterItem(Function):
    """GetItem's gradient as an op, for recorded gradients: values added into zeros of shape at key."""

    def __init__(self, key, shape):
        self.key, self.shape = key, shape

    def forward(self, values):
        return _scattered(values, self.key, self.shape)

    def backward(self, grad):
        return grad[self.key]

    def backward_graph(self, grad):
        return GetItem(self.key)(grad)


def _scattered(values, key, shape):
    xp = array_module(values)
    if _is_basic(key):  # a view: each picked element once, so writing suffices
        scattered = xp.zeros(shape, values.dtype)
        scattered[key] = values
        return scattered
    # Integer arrays may pick an element several times: add up (a scatter-add, here bincount
    # over the flat position of every picked element).
    size = math.prod(shape)
    positions = xp.arange(size).reshape(shape)[key]
    summed = xp.bincount(positions.reshape(-1), weights=values.reshape(-1), minlength=size)
    return summed.astype(values.dtype).reshape(shape)


def getitem(input, key):
    """input[key], where key's integer or boolean arrays may be Tensors."""
    if isinstance(key, tuple):
        key = tuple(unwrap(part) for part in key)
    else:
        key = unwrap(key)
    return GetItem(key)(input)
