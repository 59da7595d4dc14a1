"""The CUDA plumbing every kernel family shares: CuPy (optional), compiled sources, launches, checks.

Each family declares its source once, `SOURCE = Source("family.cu", templates=(...))`:
the kernels named in templates are `template <typename T> __global__` functions,
instantiated for float and double through NVRTC name expressions (`name<float>`),
the others plain `extern "C"` kernels. A launch is then one line,
`SOURCE.launch("name", dtype, size, args)`. Device helpers shared by several
.cu files live in kernels/cuda/*.cuh, found through an -I option.

All kernels are deterministic: no atomics. CuPy compiles with -ftz=true, so
float32 denormals flush to zero. Importing this module does not need CuPy;
launching a kernel does (require_cupy says what to install).
"""
import functools
import hashlib
from pathlib import Path

import numpy

try:
    import cupy
    import cupy.cublas  # noqa: F401  (cupy.cublas.gemm: kernels/gemm.py's products into out=, with beta)
except ImportError:  # the GPU backend is an optional extra
    cupy = None

CUDA_DIR = Path(__file__).resolve().with_name("cuda")
NVRTC_OPTIONS = ("--std=c++14", "-I" + str(CUDA_DIR))  # headers (*.cuh) are found through -I
BLOCK = 256  # threads per block; equals REDUCE_THREADS in kernels/cuda/common.cuh
BLOCKS_PER_SM = 32  # grid-stride kernels launch at most this many blocks per SM
INT_MAX = 2**31 - 1
MAX_GRID_Y = 65535  # CUDA's limit on gridDim.y
C_TYPES = {numpy.dtype(numpy.float32): "float", numpy.dtype(numpy.float64): "double"}
CUDA_INSTALL_HINT = ("install the GPU extra with `pip install -e .[cuda12]` (or `.[cuda13]` for a CUDA 13 driver) "
                     "on a machine with an NVIDIA GPU")


class BackendUnavailable(RuntimeError):
    """The cupy backend was asked for where CuPy or a GPU is missing."""


def require_cupy(module=cupy):
    """module (the installed CuPy by default), once it is known to reach a GPU."""
    if module is None:
        raise BackendUnavailable(f"the cupy backend needs CuPy, which is not installed: {CUDA_INSTALL_HINT}")
    try:
        module.cuda.runtime.getDeviceCount()
    except Exception as error:  # CuPy raises its own CUDARuntimeError without a driver
        raise BackendUnavailable(f"the cupy backend needs an NVIDIA GPU, but CUDA reports: {error}; "
                                 f"{CUDA_INSTALL_HINT}") from None
    return module


@functools.cache
def get_cupy():
    """The CuPy the kernels launch on (tests put an emulated one here)."""
    return require_cupy()


def device_id():
    return get_cupy().cuda.runtime.getDevice()


SOURCES = []  # every Source, in the order the families declare them


class Source:
    """One kernels/cuda/*.cu file and the kernels the engine launches from it.

    templates: kernels written `template <typename T> __global__`, launched for
    float32 and float64 arrays; plain: `extern "C"` kernels, launched as they are.
    Every source is listed in SOURCES, so tests can check the declared names
    against the .cu files.
    """

    def __init__(self, file, templates=(), plain=()):
        self.file, self.templates, self.plain = file, tuple(templates), tuple(plain)
        self.name_expressions = tuple(f"{name}<{t}>" for name in self.templates for t in C_TYPES.values())
        SOURCES.append(self)

    def kernel(self, name, dtype=None):
        """Kernel name, instantiated for dtype when it is a template, for the current device."""
        if dtype is None:
            assert name in self.plain, f"{self.file}: {name} is not a declared plain kernel"
            return _function(self, name, device_id())
        assert name in self.templates, f"{self.file}: {name} is not a declared template kernel"
        return _function(self, f"{name}<{C_TYPES[numpy.dtype(dtype)]}>", device_id())

    def launch(self, name, dtype, size, args):
        """Run grid-stride kernel name<dtype> over size elements (nothing to do for size 0)."""
        if size:
            blocks = min(-(-size // BLOCK), _max_blocks(device_id()))
            self.kernel(name, dtype)((blocks,), (BLOCK,), args)

    def launch_rows(self, name, dtype, rows, row_size, args):
        """Run row kernel name<dtype> over a rows x row_size array: gridDim.y blocks stride over the
        rows, so each block works out its row's indices once; blockDim.x * gridDim.x threads stride
        over the row."""
        if rows and row_size:
            grid_rows = min(rows, MAX_GRID_Y)
            blocks = min(-(-row_size // BLOCK), max(1, _max_blocks(device_id()) // grid_rows))
            self.kernel(name, dtype)((blocks, grid_rows), (BLOCK,), args)

    def launch_per_channel(self, name, dtype, channels, args):
        """Run reduction kernel name<dtype>: one block of BLOCK threads per channel."""
        if channels:
            self.kernel(name, dtype)((channels,), (BLOCK,), args)


@functools.cache
def _module(source):
    # CuPy's on-disk kernel cache keys on the code and options, not on the
    # files the code #includes: name each header's hash in the code, so an
    # edited header is recompiled rather than served stale from the cache.
    headers = "".join(f"// {header.name} sha1 {hashlib.sha1(header.read_bytes()).hexdigest()}\n"
                      for header in sorted(CUDA_DIR.glob("*.cuh")))
    return get_cupy().RawModule(code=(CUDA_DIR / source.file).read_text() + "\n" + headers,
                                options=NVRTC_OPTIONS, name_expressions=source.name_expressions)


@functools.cache
def _function(source, name, device):
    return _module(source).get_function(name)


@functools.cache
def _max_blocks(device):
    return get_cupy().cuda.Device(device).attributes["MultiProcessorCount"] * BLOCKS_PER_SM


# ---------- argument checks and conversions shared by the launch wrappers ----------

def check_dtype(op, dtype):
    dtype = numpy.dtype(dtype)
    if dtype not in C_TYPES:
        raise TypeError(f"minigan.kernels.{op}: the kernels take float32 or float64 arrays, got {dtype}")
    return dtype


def check_int(op, **sizes):
    """Sizes the kernels index with a 32-bit int must fit in one."""
    for name, value in sizes.items():
        if value > INT_MAX:
            raise ValueError(f"minigan.kernels.{op}: {name} = {value} does not fit in the "
                             f"kernel's 32-bit int (max {INT_MAX})")


def i32(*values):
    return [numpy.int32(v) for v in values]


def per_channel(op, name, a, channels, dtype):
    """a as a contiguous (C,) device array of dtype (None stays None)."""
    if a is None:
        return None
    if tuple(a.shape) != (channels,):
        raise ValueError(f"minigan.kernels.{op}: {name} must have shape ({channels},), got {tuple(a.shape)}")
    if a.dtype != dtype:
        raise TypeError(f"minigan.kernels.{op}: {name} is {a.dtype}, expected {dtype}")
    return get_cupy().ascontiguousarray(a)


def check_like(op, x, /, **like_x):
    """Check that x is float32 or float64 and that each of like_x (by name) has x's shape and dtype."""
    check_dtype(op, x.dtype)
    for name, a in like_x.items():
        if tuple(a.shape) != tuple(x.shape):
            raise ValueError(f"minigan.kernels.{op}: {name} has shape {tuple(a.shape)}, "
                             f"expected {tuple(x.shape)}")
        if a.dtype != x.dtype:
            raise TypeError(f"minigan.kernels.{op}: {name} is {a.dtype}, expected {x.dtype}")


def contiguous(op, x, /, **like_x):
    """[x, *like_x.values()] as contiguous device arrays, after check_like."""
    check_like(op, x, **like_x)
    return [get_cupy().ascontiguousarray(a) for a in (x, *like_x.values())]
