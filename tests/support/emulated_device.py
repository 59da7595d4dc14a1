"""An emulated GPU for the whole engine: a stand-in CuPy whose kernels are the real CUDA sources.

minigan's cupy backend is three things: CuPy's array functions, the CUDA
kernels of kernels/cuda/*.cu (through kernels/_cuda.py), and the rule that a
training step never reads device memory back to the host. Without a GPU,
this module stands in for the first, runs the second on the CPU (through
tests/support/cuda_emulator.py), and counts every transfer, so the engine's cupy code
paths run end to end and their host syncs are visible:

- DeviceArray is a NumPy array "on the device". Every way CuPy would copy it
  back to the host (asnumpy, .get(), .item(), .tolist(), float/int/bool,
  printing) is counted in transfers["device_to_host"]. Mixing it with a host
  array in an arithmetic op raises TypeError, as CuPy does.
- The module's functions are NumPy's, returning DeviceArrays; asarray/array of
  a host object (array, list or Python number) counts transfers["host_to_device"].
- RawModule compiles the CUDA sources with the emulator.
- Streams and CUDA graphs: stream.begin_capture() ... end_capture() records
  every device operation (ufuncs, module functions, the array methods that
  copy or write, kernel launches) into a Graph whose launch() replays them on
  the arrays as they are then, with the scalars of the capture. As on a GPU,
  a capture executes nothing: arrays that existed before it get their
  contents back at its end, and arrays it allocated hold NaN until a replay
  fills them. During a capture, what CUDA or CuPy refuses raises
  CaptureUnsupported: host<->device copies, synchronizing, cuBLAS products
  (matmul and friends), work on another stream, capturing on the default stream.
  Events (stream.record, wait_event) note what waits for what; cupy.cuda.cublas
  binds a handle to a stream and, as CuPy's, refuses a capturing one.

What it cannot see: CuPy functions NumPy has and CuPy lacks (or that differ),
GPU memory and addresses (so not the memory-pool hazards of graphs),
concurrency between streams, performance.
"""
import collections
import contextlib
import functools
import sys
import types
import weakref

import numpy

transfers = collections.Counter()
# Device launches by what launched them: each kernel by its name, each CuPy function, ufunc or
# array method that runs on the device by its name (CuPy launches one kernel for each; cuBLAS's
# products count one too), a host-to-device copy as "memcpy", a graph replay as
# "cudaGraphLaunch". Views (reshape, transpose, basic indexing) and empty allocations launch
# nothing and are not counted. Counted when issued, eagerly or into a capture.
launches = collections.Counter()
ALLOCATES_ONLY = {"empty", "empty_like"}  # memory, no kernel
# The same launches by the engine code that issued them: "functional/batchnorm.py BatchNormTrain.forward".
launch_sites = collections.Counter()


class CaptureUnsupported(RuntimeError):
    """An operation CUDA stream capture (or CuPy during one) does not allow."""


class _Capture:
    """The state of the capture in progress: its stream, its recorded replays, the snapshot."""

    def __init__(self, stream):
        self.stream = stream
        self.replays = []
        self.snapshot = [(owner, owner.copy()) for owner in _live_owners()]


_capture = None  # the _Capture in progress, or None
_depth = 0  # > 0 while a recorded operation runs: what it calls is part of it
_current_streams = []  # the streams entered with `with stream:`, innermost last
_device_arrays = {}  # id -> weak reference of every live DeviceArray, views included


def _owner(array):
    """The array that owns array's memory (its last ndarray base)."""
    while isinstance(array.base, numpy.ndarray):
        array = array.base
    return array


def _live_owners():
    owners = {}
    for ref in list(_device_arrays.values()):
        array = ref()
        if array is None:
            continue
        owner = _owner(array)
        owners[id(owner)] = owner
    return list(owners.values())


def _refuse_during_capture(what):
    if _capture is not None:
        raise CaptureUnsupported(f"{what} during CUDA stream capture: CUDA or CuPy refuses it")


def _refill(old, new):
    """A replayed operation's new result into the arrays the captured one returned."""
    if isinstance(old, numpy.ndarray):
        if old is not new:
            numpy.copyto(old.view(numpy.ndarray), numpy.asarray(new).view(numpy.ndarray))
    elif isinstance(old, (tuple, list)):
        for o, n in zip(old, new):
            _refill(o, n)


def _owners(objects):
    return {id(_owner(o)) for o in objects if isinstance(o, numpy.ndarray)}


def _arrays(result):
    if isinstance(result, numpy.ndarray):
        return [result]
    if isinstance(result, (tuple, list)):
        return [a for r in result for a in _arrays(r)]
    return []


def _count_launch(name, result, inputs, writes):
    """One launch of name, unless it only made a view of an input, allocated, or did nothing."""
    if not writes:
        made = _owners(_arrays(result)) - _owners(inputs)
        if not made or name in ALLOCATES_ONLY:
            return
    launches[name] += 1
    launch_sites[_issuer()] += 1


def _issuer():
    """The innermost minigan frame above the kernel wrappers (kernels/) and this module."""
    frame = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename.replace("\\", "/")
        if "/minigan/" in path and "/minigan/kernels/" not in path:
            owner = frame.f_locals.get("self")  # a method: its class's name (co_qualname is 3.11+)
            name = frame.f_code.co_name if owner is None else f"{type(owner).__name__}.{frame.f_code.co_name}"
            return f"{path.rsplit('/minigan/', 1)[1]} {name}"
        frame = frame.f_back
    return "outside minigan"


def _recorded(run, name="kernel", inputs=(), writes=True):
    """run() now; during a capture, also on every replay of the graph. A top-level call is
    counted in launches (see _count_launch; inputs and writes tell views from launches)."""
    global _depth
    if _capture is not None and _depth == 0:
        current = _current_streams[-1] if _current_streams else _null_stream
        if current is not _capture.stream:
            raise CaptureUnsupported("work on another stream than the capturing one (the default "
                                     "stream here) during CUDA stream capture")
    _depth += 1
    try:
        result = run()
    finally:
        _depth -= 1
    if _depth == 0:
        _count_launch(name, result, inputs, writes)
        if _capture is not None:
            _capture.replays.append(lambda: _refill(result, run()))
    return result


def _host(array):
    return array.view(numpy.ndarray)


def _to_host(method):
    @functools.wraps(method)
    def counted(self, *args, **kwargs):
        _refuse_during_capture(f"reading a device array to the host ({method.__name__})")
        transfers["device_to_host"] += 1
        return method(_host(self), *args, **kwargs)
    return counted


# cuBLAS runs these in CuPy, and CuPy refuses cuBLAS during stream capture.
_CUBLAS = {"matmul", "dot", "vdot", "inner", "tensordot", "einsum", "kron"}


def _refuse_cublas_during_capture(name):
    if name in _CUBLAS:
        _refuse_during_capture(f"{name} (cuBLAS)")


def _cublas_call(name, function):
    """cupy.cublas.name (one cuBLAS launch, writing its out=), refused during a capture as CuPy's."""
    @functools.wraps(function)
    def wrapped(*args, **kwargs):
        _refuse_during_capture(f"cupy.cublas.{name} (cuBLAS)")
        return _recorded(lambda: _on_device(function(*args, **kwargs)), f"cublas.{name}",
                         (*args, *kwargs.values()), writes=True)
    return wrapped


WRITING_METHODS = {"__setitem__", "fill"}


def _recorded_method(method):
    @functools.wraps(method)
    def wrapped(self, *args, **kwargs):
        _refuse_cublas_during_capture(method.__name__)
        return _recorded(lambda: _on_device(method(self, *args, **kwargs)), method.__name__,
                         (self, *args, *kwargs.values()), writes=method.__name__ in WRITING_METHODS)
    return wrapped


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

    # The methods that copy or write device memory: recorded during a capture.
    __getitem__ = _recorded_method(numpy.ndarray.__getitem__)
    __setitem__ = _recorded_method(numpy.ndarray.__setitem__)
    astype = _recorded_method(numpy.ndarray.astype)
    copy = _recorded_method(numpy.ndarray.copy)
    repeat = _recorded_method(numpy.ndarray.repeat)
    reshape = _recorded_method(numpy.ndarray.reshape)
    ravel = _recorded_method(numpy.ndarray.ravel)
    flatten = _recorded_method(numpy.ndarray.flatten)
    fill = _recorded_method(numpy.ndarray.fill)
    take = _recorded_method(numpy.ndarray.take)
    dot = _recorded_method(numpy.ndarray.dot)
    # Reductions: one kernel each in CuPy (NumPy's mean would count its sum and division).
    sum = _recorded_method(numpy.ndarray.sum)
    mean = _recorded_method(numpy.ndarray.mean)
    max = _recorded_method(numpy.ndarray.max)
    min = _recorded_method(numpy.ndarray.min)
    var = _recorded_method(numpy.ndarray.var)

    def __array_finalize__(self, obj):
        key = id(self)
        _device_arrays[key] = weakref.ref(self, lambda _, key=key: _device_arrays.pop(key, None))

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        arrays = inputs + tuple(kwargs.get("out", ()))
        if any(type(a) is numpy.ndarray and a.ndim for a in arrays):
            shapes = ", ".join(f"{type(a).__name__} {a.shape}" for a in arrays if hasattr(a, "shape"))
            raise TypeError(f"{ufunc.__name__}: a device array meets a host array ({shapes}); "
                            f"CuPy refuses this")
        _refuse_cublas_during_capture(ufunc.__name__)
        inputs = tuple(_host(a) if isinstance(a, DeviceArray) else a for a in inputs)
        out = kwargs.get("out")
        if out:
            kwargs["out"] = tuple(_host(a) if isinstance(a, DeviceArray) else a for a in out)

        def run():
            result = getattr(ufunc, method)(*inputs, **kwargs)
            if out:  # in place (`a += b`): the same array object, as CuPy returns it
                return out[0] if len(out) == 1 else out
            return _on_device(result)
        return _recorded(run, ufunc.__name__, inputs, writes=bool(out))


def _on_device(result):
    """NumPy's result as CuPy gives it: arrays on the device, and 0-d arrays for scalars."""
    if isinstance(result, DeviceArray):
        return result
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
        _refuse_cublas_during_capture(function.__name__)
        return _recorded(lambda: _on_device(function(*args, **kwargs)), function.__name__,
                         (*args, *kwargs.values()), writes=False)
    return wrapped


def _upload(function):
    @functools.wraps(function)
    def wrapped(obj, *args, **kwargs):
        if not isinstance(obj, DeviceArray):  # a host object: NumPy array, list or Python scalar
            _refuse_during_capture("a host-to-device copy")
            transfers["host_to_device"] += 1
        copies = not isinstance(obj, DeviceArray)
        return _recorded(lambda: _on_device(function(obj, *args, **kwargs)),
                         "memcpy" if copies else function.__name__, (obj,), writes=copies)
    return wrapped


def asnumpy(array):
    if isinstance(array, DeviceArray):
        _refuse_during_capture("a device-to-host copy (asnumpy)")
        transfers["device_to_host"] += 1
        return _host(array).copy()
    return numpy.asarray(array)


# --- streams and graphs -------------------------------------------------------

class Stream:
    """A CUDA stream: `with stream:` makes it current; it can capture a Graph."""

    def __init__(self, null=False, non_blocking=False):
        self.ptr = 0 if null else id(self)
        self.non_blocking = non_blocking
        self.waited_for = []  # the events wait_event was given, in order

    def record(self, event=None):
        """An Event marking the work queued here so far (the emulator runs it at once)."""
        event = event or Event()
        event.stream = self
        return event

    def wait_event(self, event):
        self.waited_for.append(event)

    def __enter__(self):
        _current_streams.append(self)
        return self

    def __exit__(self, *exc):
        _current_streams.pop()

    def begin_capture(self, mode=None):
        global _capture
        if self.ptr == 0:
            raise RuntimeError("cannot capture on the default (legacy) stream")
        if _capture is not None:
            raise CaptureUnsupported("a capture is already in progress")
        _capture = _Capture(self)

    def end_capture(self):
        global _capture
        if _capture is None or _capture.stream is not self:
            raise RuntimeError("end_capture on a stream that is not capturing")
        capture, _capture = _capture, None
        before = {id(owner) for owner, _ in capture.snapshot}
        for owner, contents in capture.snapshot:  # a capture executes nothing
            owner[...] = contents
        for owner in _live_owners():  # what the capture allocated is uninitialized memory
            if id(owner) not in before and owner.dtype.kind == "f":
                owner.fill(numpy.nan)
        return Graph(capture.replays)

    def is_capturing(self):
        return _capture is not None and _capture.stream is self

    def synchronize(self):
        _refuse_during_capture("synchronizing a stream")


_null_stream = Stream(null=True)
Stream.null = _null_stream


class Event:
    """cupy.cuda.Event: recorded on a stream, waited for by others."""

    stream = None


class Cublas:
    """The part of cupy.cuda.cublas that binds a handle to a stream. As CuPy's setStream, it
    refuses to bind to a stream that is capturing (CuPy's products call it on every call, with
    the current stream: that is where they refuse cuBLAS during a capture)."""

    HANDLE = 1

    def __init__(self):
        self.streams = {}  # handle -> the stream pointer bound

    def setStream(self, handle, stream):  # noqa: N802  (CuPy's name)
        if _capture is not None and _capture.stream.ptr == stream:
            raise NotImplementedError("calling cuBLAS API during stream capture is currently unsupported")
        self.streams[handle] = stream

    def getStream(self, handle):  # noqa: N802
        return self.streams.get(handle, 0)


class Graph:
    """The operations of one capture; launch() runs them again, in order."""

    def __init__(self, replays):
        self.replays = replays
        self.launches = 0

    def launch(self, stream=None):
        _refuse_during_capture("launching a graph")
        for replay in self.replays:
            replay()
        self.launches += 1
        launches["cudaGraphLaunch"] += 1


class MemoryPool:
    """Stands in for cupy.cuda.MemoryPool: the emulator has no device memory to pool."""

    def malloc(self, size):
        raise AssertionError("the emulated device allocates through NumPy, not a memory pool")


@contextlib.contextmanager
def using_allocator(allocator=None):
    yield


class _RecordedKernel:
    """An emulated kernel whose launches are recorded during a capture."""

    def __init__(self, function):
        self.function = function

    def __call__(self, grid, block, args):
        _recorded(lambda: self.function(grid, block, args), self.function.name)

    def __getattr__(self, name):  # launches, name, signature
        return getattr(self.function, name)


class _RecordedModule:
    def __init__(self, module):
        self.module = module

    def get_function(self, name):
        return _RecordedKernel(self.module.get_function(name))


class EmulatedCupy(types.ModuleType):
    """A module named 'cupy': NumPy's functions on DeviceArrays, the emulated RawModule,
    streams and graphs."""

    def __init__(self, emulator):
        """emulator: the cuda_emulator.FakeCupy whose compiled kernels this module launches."""
        super().__init__("cupy")
        self.RawModule = lambda code, options=(), name_expressions=(): _RecordedModule(
            emulator.RawModule(code, options, name_expressions))
        self.ndarray = DeviceArray
        self.asnumpy = asnumpy
        self.cublas = types.SimpleNamespace(gemm=_cublas_call("gemm", emulator.cublas.gemm))
        self.asarray = _upload(numpy.asarray)
        self.array = _upload(numpy.array)
        self.cuda = types.SimpleNamespace(
            runtime=types.SimpleNamespace(getDevice=lambda: 0, getDeviceCount=lambda: 1),
            Device=emulator.cuda.Device, Stream=Stream, Graph=Graph, MemoryPool=MemoryPool,
            using_allocator=using_allocator, Event=Event, cublas=Cublas(),
            get_cublas_handle=lambda: Cublas.HANDLE,
            get_current_stream=lambda: _current_streams[-1] if _current_streams else _null_stream)

    def __getattr__(self, name):
        value = getattr(numpy, name)
        if callable(value) and not isinstance(value, type):
            value = _returning_device_arrays(value)
        setattr(self, name, value)
        return value
