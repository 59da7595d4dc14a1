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
        xp = array_module(grad)
        if _is_basic(self.key):  # a view: each picked element once, so writing suffices
            grad_input = xp.zeros(self.in_shape, grad.dtype)
            grad_input[self.key] = grad
            return grad_input
        # Integer arrays may pick an element several times: add up (a scatter-add, here bincount
        # over the flat position of every picked element).
        size = math.prod(self.in_shape)
        positions = xp.arange(size).reshape(self.in_shape)[self.key]
        summed = xp.bincount(positions.reshape(-1), weights=grad.reshape(-1), minlength=size)
        return summed.astype(grad.dtype).reshape(self.in_shape)


def getitem(input, key):
    """input[key], where key's integer or boolean arrays may be Tensors."""
    if isinstance(key, tuple):
        key = tuple(unwrap(part) for part in key)
    else:
        key = unwrap(key)
    return GetItem(key)(input)
