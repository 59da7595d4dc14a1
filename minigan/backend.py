"""Backends: which array module an array belongs to, and that backend's hot kernels.

Ops never import numpy or cupy: they ask array_module() for the module of
their inputs and kernels() for the im2col/col2im/... of that module: the
table minigan.kernels.table.cpu (Numba) or .cuda (CUDA). Adding a backend adds
kernels, not ops.
"""
import numpy

from .kernels import _cuda
from .kernels._cuda import CUDA_INSTALL_HINT, BackendUnavailable  # noqa: F401  (part of this module's API)

cupy = _cuda.cupy  # None where the optional GPU extra is not installed


def array_module(array):
    if cupy is not None and isinstance(array, cupy.ndarray):
        return cupy
    return numpy


def device_of(array):
    return "cuda" if array_module(array) is not numpy else "cpu"


def is_array(data):
    return isinstance(data, numpy.ndarray) or (cupy is not None and isinstance(data, cupy.ndarray))


def as_array(data):
    """The array behind data; Python scalars and lists become float32 NumPy arrays."""
    if is_array(data):
        return data
    if isinstance(data, numpy.generic):
        return numpy.asarray(data)
    array = numpy.asarray(data)
    if array.dtype.kind not in "biuf":  # None or a string would become NaN or fail later
        raise TypeError(f"cannot make an array of {type(data).__name__} {data!r:.60}; "
                        f"give an array, a number or a (nested) list of numbers")
    return array.astype(numpy.float32)


def to_numpy(array):
    return array if array_module(array) is numpy else cupy.asnumpy(array)


def to_device(array, device):
    """array on 'cpu' (NumPy) or 'cuda' (CuPy)."""
    if device in (None, "cpu"):
        return to_numpy(array)
    if str(device).startswith("cuda"):
        require_cupy()
        return cupy.asarray(array)
    raise ValueError(f"unknown device {device!r}: use 'cpu' or 'cuda'")


def require_cupy():
    """cupy, once it is known to reach a GPU; else BackendUnavailable saying what to install."""
    return _cuda.require_cupy(cupy)


def check_compatible(op_name, arrays):
    """arrays, after checking they share one backend and one float dtype.

    Python scalars are turned into 0-d arrays of the tensors' dtype, so `x * 2`
    keeps x's dtype.
    """
    tensors = [a for a in arrays if is_array(a)]
    modules = {array_module(a).__name__ for a in tensors}
    if len(modules) > 1:
        shapes = ", ".join(f"{array_module(a).__name__} {a.shape}" for a in tensors)
        raise TypeError(f"{op_name}: inputs mix NumPy and CuPy arrays ({shapes}); "
                        f"move them to one device with .to(device)")
    floats = {a.dtype for a in tensors if a.dtype.kind == "f"}
    if len(floats) > 1:
        dtypes = ", ".join(f"{a.dtype} {a.shape}" for a in tensors)
        raise TypeError(f"{op_name}: inputs mix dtypes ({dtypes}); convert them to one "
                        f"dtype first (e.g. module.to(dtype=...))")
    if len(tensors) == sum(a is not None for a in arrays):
        return arrays
    xp = array_module(tensors[0]) if tensors else numpy
    dtype = floats.pop() if floats else numpy.float32
    return [a if a is None or is_array(a) else xp.asarray(a, dtype=dtype) for a in arrays]


def kernels(xp):
    """The hot-kernel table of backend xp: minigan.kernels.table.cpu or .cuda."""
    from .kernels import table  # here, not above: Numba loads (~0.5 s) at the first kernel, not with minigan
    return table.cpu if xp is numpy else table.cuda
