"""An emulated GPU for the whole engine: a stand-in CuPy whose kernels are the real CUDA sources.

minigan's cupy backend is three things: CuPy's array functions, the CUDA
kernels of kernels/cuda/*.cu (through kernels/gpu.py), and the rule that a
training step never reads device memory back to the host. Without a GPU,
this module stands in for the first, runs the second on the CPU (through
tests/cuda_emulator.py), and counts every transfer, so the engine's cupy code
paths run end to end and their host syncs are visible:

- DeviceArray is a NumPy array "on the device". Every way CuPy would copy it
  back to the host (asnumpy, .get(), .item(), .tolist(), float/int/bool,
  printing) is counted in transfers["device_to_host"]. Mixing it with a host
  array in an arithmetic op raises TypeError, as CuPy does.
- The module's functions are NumPy's, returning DeviceArrays; asarray/array of
  a host array counts transfers["host_to_device"].
- RawModule compiles the CUDA sources with the emulator.

What it cannot see: CuPy functions NumPy has and CuPy lacks (or that differ),
GPU memory, performance.
"""
import collections
import functools
import types

import numpy

import cuda_emulator

transfers = collections.Counter()


def _host(array):
    return array.view(numpy.ndarray)


def _to_host(method):
    @functools.wraps(method)
    def counted(self, *args, **kwargs):
        transfers["device_to_host"] += 1
        return method(_host(self), *args, **kwargs)
    return counted


class DeviceArray(numpy.ndarray):
    """A NumPy array standing in for a cupy.ndarray."""

    get = _to_host(numpy.ndarray.copy)
    item = _to_host(numpy.ndarray.item)
    tolist = _to_host(numpy.ndarray.tolist)
    __float__ = _to_host(numpy.ndarray.__float__)
    __int__ = _to_host(numpy.ndarray.__int__)
    __index__ = _to_host(numpy.ndarray.__index__)
    __bool__ = _to_host(numpy.ndarray.__bool__)
    __repr__ = _to_host(numpy.ndarray.__repr__)
    __str__ = _to_host(numpy.ndarray.__str__)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        arrays = inputs + tuple(kwargs.get("out", ()))
        if any(type(a) is numpy.ndarray and a.ndim for a in arrays):
            shapes = ", ".join(f"{type(a).__name__} {a.shape}" for a in arrays if hasattr(a, "shape"))
            raise TypeError(f"{ufunc.__name__}: a device array meets a host array ({shapes}); "
                            f"CuPy refuses this")
        inputs = tuple(_host(a) if isinstance(a, DeviceArray) else a for a in inputs)
        out = kwargs.get("out")
        if out:
            kwargs["out"] = tuple(_host(a) if isinstance(a, DeviceArray) else a for a in out)
        result = getattr(ufunc, method)(*inputs, **kwargs)
        if out:  # in place (`a += b`): the same array object, as CuPy returns it
            return out[0] if len(out) == 1 else out
        return _on_device(result)


def _on_device(result):
    """NumPy's result as CuPy gives it: arrays on the device, and 0-d arrays for scalars."""
    if isinstance(result, numpy.ndarray):
        return result.view(DeviceArray)
    if isinstance(result, numpy.generic):
        return numpy.asarray(result).view(DeviceArray)
    if isinstance(result, (tuple, list)):
        return type(result)(_on_device(r) for r in result)
    return result


def _returning_device_arrays(function):
    @functools.wraps(function)
    def wrapped(*args, **kwargs):
        return _on_device(function(*args, **kwargs))
    return wrapped


def _upload(function):
    @functools.wraps(function)
    def wrapped(obj, *args, **kwargs):
        if type(obj) is numpy.ndarray or isinstance(obj, (list, tuple)):
            transfers["host_to_device"] += 1
        return _on_device(function(obj, *args, **kwargs))
    return wrapped


def asnumpy(array):
    if isinstance(array, DeviceArray):
        transfers["device_to_host"] += 1
        return _host(array).copy()
    return numpy.asarray(array)


class EmulatedCupy(types.ModuleType):
    """A module named 'cupy': NumPy's functions on DeviceArrays, and the emulated RawModule."""

    def __init__(self, build_dir, nvrtc_options):
        super().__init__("cupy")
        emulator = cuda_emulator.FakeCupy(build_dir, nvrtc_options)
        self.RawModule = emulator.RawModule
        self.ndarray = DeviceArray
        self.asnumpy = asnumpy
        self.asarray = _upload(numpy.asarray)
        self.array = _upload(numpy.array)
        self.cuda = types.SimpleNamespace(
            runtime=types.SimpleNamespace(getDevice=lambda: 0, getDeviceCount=lambda: 1),
            Device=emulator.cuda.Device)

    def __getattr__(self, name):
        value = getattr(numpy, name)
        if callable(value) and not isinstance(value, type):
            value = _returning_device_arrays(value)
        setattr(self, name, value)
        return value
