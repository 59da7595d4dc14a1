"""Backends: which array module an array belongs to, and that backend's hot kernels.

Ops never import numpy or cupy: they ask array_module() for the module of
their inputs and kernels() for the im2col/col2im/... of that module. The CPU
kernels are Numba-jitted (minigan.kernels.cpu); the GPU ones are CUDA
(minigan.kernels.gpu). Adding a backend adds kernels, not ops.
"""
import numpy

try:
    import cupy
except ImportError:  # the GPU backend is an optional extra
    cupy = None

CUDA_INSTALL_HINT = "install the GPU extra with `pip install -e .[cuda]` on a machine with an NVIDIA GPU"


class BackendUnavailable(RuntimeError):
    """The cupy backend was asked for where CuPy or a GPU is missing."""


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
    return numpy.asarray(data, dtype=numpy.float32)


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
    if cupy is None:
        raise BackendUnavailable(f"the cupy backend needs CuPy, which is not installed: {CUDA_INSTALL_HINT}")
    try:
        cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # CuPy raises its own CUDARuntimeError without a driver
        raise BackendUnavailable(f"the cupy backend needs an NVIDIA GPU, but CUDA reports: {error}; "
                           f"{CUDA_INSTALL_HINT}") from None
    return cupy


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
    """The hot-kernel table of backend xp (the module `minigan.kernels.<cpu|gpu>`)."""
    if xp is numpy:
        from .kernels import cpu
        return cpu
    from .kernels import gpu
    return gpu
