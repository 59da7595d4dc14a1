"""Making tensors from data, as torch.tensor and torch.from_numpy do."""
import numpy

from . import backend
from .autograd import Tensor


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of data: Python floats become float32, ints int64 and bools
    bool (torch's defaults); arrays keep their dtype unless dtype is given."""
    if backend.is_array(data):
        array = data.astype(dtype or data.dtype, copy=True)
    else:
        array = numpy.array(data, dtype=dtype)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"tensor: cannot make a tensor of {type(data).__name__} {data!r:.60}; give an "
                            f"array, a number or a (nested) list of numbers")
        if dtype is None and array.dtype == numpy.float64:
            array = array.astype(numpy.float32)
    if requires_grad and array.dtype.kind != "f":
        raise RuntimeError(f"tensor: only floating-point tensors can require gradients, got {array.dtype}")
    return Tensor(array, requires_grad=requires_grad)


def from_numpy(array):
    """A tensor sharing array's memory and dtype."""
    if not isinstance(array, numpy.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)
