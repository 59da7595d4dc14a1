"""GPU kernels: CUDA C++ in kernels/cuda/*.cu, compiled once per process by CuPy (NVRTC).

Device helpers shared by several .cu files (block_sum, REDUCE_THREADS) live
in kernels/cuda/common.cuh, found through an -I option for kernels/cuda.

The table minigan.backend.kernels(cupy) returns. im2col, col2im and
adam_update have exactly the signatures and semantics of kernels/cpu.py
(col layout in kernels/reference.py). The other functions are fused kernels
for the GPU; each docstring states its contract.

Every kernel comes in a float32 (`NAME_f32`) and a float64 (`NAME_f64`)
variant, picked by dtype; any other dtype raises TypeError. (The one
exception is the tensor-core GEMM, gemm_tf32_f32: TF32 has no double form.) Kernels are looked
up only through `_kernel("FILE.cu", "NAME", dtype)` with literal strings, so
tests/test_cuda_sources.py can check every looked-up name against the sources
without a GPU.

All kernels are deterministic: no atomics. col2im is a gather that sums in
the array's dtype in the CPU kernel's order (so it equals kernels/cpu.py to
the bit); the per-channel reductions sum in double over a fixed
shared-memory tree. CuPy compiles with -ftz=true, so float32 denormals flush
to zero.

Importing this module does not need CuPy; calling a kernel does
(minigan.backend.require_cupy says what to install).
"""
import contextlib
import functools
import hashlib
import math
from pathlib import Path

import numpy

from . import cpu  # the generator state is made on the host, as there

CUDA_DIR = Path(__file__).with_name("cuda")
BLOCK = 256  # threads per block; equals REDUCE_THREADS in kernels/cuda/common.cuh
BLOCKS_PER_SM = 32  # grid-stride kernels launch at most this many blocks per SM
_SUFFIX = {numpy.dtype(numpy.float32): "f32", numpy.dtype(numpy.float64): "f64"}
_INT_MAX = 2**31 - 1
NVRTC_OPTIONS = ("--std=c++14", "-I" + str(CUDA_DIR))  # headers (*.cuh) are found through -I


@functools.cache
def _cupy():
    from ..backend import require_cupy
    return require_cupy()


@functools.cache
def _module(source):
    # CuPy's on-disk kernel cache keys on the code and options, not on the
    # files the code #includes: name each header's hash in the code, so an
    # edited header is recompiled rather than served stale from the cache.
    headers = "".join(f"// {header.name} sha1 {hashlib.sha1(header.read_bytes()).hexdigest()}\n"
                      for header in sorted(CUDA_DIR.glob("*.cuh")))
    return _cupy().RawModule(code=(CUDA_DIR / source).read_text() + "\n" + headers,
                             options=NVRTC_OPTIONS)


@functools.cache
def _function(source, name, device_id):
    return _module(source).get_function(name)


def _check_dtype(op, dtype):
    dtype = numpy.dtype(dtype)
    if dtype not in _SUFFIX:
        raise TypeError(f"minigan.kernels.gpu.{op}: the CUDA kernels take float32 or float64 "
                        f"arrays, got {dtype}")
    return dtype


def _kernel(source, name, dtype):
    """Kernel NAME_f32 or NAME_f64 of kernels/cuda/SOURCE, for the current device."""
    cp = _cupy()
    return _function(source, f"{name}_{_SUFFIX[numpy.dtype(dtype)]}", cp.cuda.runtime.getDevice())


@functools.cache
def _max_blocks(device_id):
    return _cupy().cuda.Device(device_id).attributes["MultiProcessorCount"] * BLOCKS_PER_SM


def _launch(kernel, size, args):
    """Run a grid-stride kernel over size elements (nothing to do for size 0)."""
    if size:
        blocks = min(-(-size // BLOCK), _max_blocks(_cupy().cuda.runtime.getDevice()))
        kernel((blocks,), (BLOCK,), args)


def _launch_per_channel(kernel, channels, args):
    """Run a reduction kernel: one block of BLOCK threads per channel."""
    if channels:
        kernel((channels,), (BLOCK,), args)


def _check_int(op, **sizes):
    for name, value in sizes.items():
        if value > _INT_MAX:
            raise ValueError(f"minigan.kernels.gpu.{op}: {name} = {value} does not fit in the "
                             f"kernel's 32-bit int (max {_INT_MAX})")


def _i32(*values):
    return [numpy.int32(v) for v in values]


def _layout(op, x):
    """(N, C, plane) of an (N, C, *spatial) array; plane = prod(spatial), 1 for (N, C)."""
    if x.ndim < 2:
        raise ValueError(f"minigan.kernels.gpu.{op}: expected an (N, C, ...) array, got shape {x.shape}")
    n, c, plane = x.shape[0], x.shape[1], math.prod(x.shape[2:])
    _check_int(op, **{"N*C": n * c, "spatial size": plane, "N*spatial size": n * plane})
    return n, c, plane


def _per_channel(op, cp, name, a, channels, dtype):
    """a as a contiguous (C,) device array of dtype."""
    if a is None:
        return None
    if tuple(a.shape) != (channels,):
        raise ValueError(f"minigan.kernels.gpu.{op}: {name} must have shape ({channels},), "
                         f"got {tuple(a.shape)}")
    if a.dtype != dtype:
        raise TypeError(f"minigan.kernels.gpu.{op}: {name} is {a.dtype}, expected {dtype}")
    return cp.ascontiguousarray(a)


def _like(op, cp, name, a, reference):
    """a as a contiguous device array with reference's shape and dtype."""
    if tuple(a.shape) != tuple(reference.shape):
        raise ValueError(f"minigan.kernels.gpu.{op}: {name} has shape {tuple(a.shape)}, "
                         f"expected {tuple(reference.shape)}")
    if a.dtype != reference.dtype:
        raise TypeError(f"minigan.kernels.gpu.{op}: {name} is {a.dtype}, expected {reference.dtype}")
    return cp.ascontiguousarray(a)


# ---------- the kernels every backend has (signatures of kernels/cpu.py) ----------

def im2col(x, kh, kw, stride, padding, out_hw):
    """col (C*kh*kw, N*oh*ow) of x (N, C, H, W), as kernels/reference.py im2col."""
    dtype = _check_dtype("im2col", x.dtype)
    cp = _cupy()
    x = cp.ascontiguousarray(x)
    n, c, h, w = x.shape
    (sh, sw), (ph, pw), (oh, ow) = stride, padding, out_hw
    _check_int("im2col", rows=c * kh * kw, columns=n * oh * ow, **{"N*C": n * c, "H*W": h * w})
    col = cp.empty((c * kh * kw, n * oh * ow), dtype=dtype)
    _launch(_kernel("im2col.cu", "im2col", dtype), col.size,
            (x, col, *_i32(n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow)))
    return col


def col2im(col, x_shape, kh, kw, stride, padding, out_hw):
    """x of shape x_shape where each pixel sums the col entries that map to it (a gather)."""
    dtype = _check_dtype("col2im", col.dtype)
    cp = _cupy()
    n, c, h, w = x_shape
    (sh, sw), (ph, pw), (oh, ow) = stride, padding, out_hw
    if tuple(col.shape) != (c * kh * kw, n * oh * ow):
        raise ValueError(f"minigan.kernels.gpu.col2im: col has shape {tuple(col.shape)}, expected "
                         f"{(c * kh * kw, n * oh * ow)} for x {tuple(x_shape)}, kernel {(kh, kw)}, "
                         f"output {tuple(out_hw)}")
    _check_int("col2im", rows=c * kh * kw, columns=n * oh * ow, **{"N*C": n * c, "H*W": h * w})
    col = cp.ascontiguousarray(col)
    x = cp.empty(tuple(x_shape), dtype=dtype)
    _launch(_kernel("im2col.cu", "col2im", dtype), x.size,
            (col, x, *_i32(n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow)))
    return x


def adam_update(param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay):
    """One fused, in-place Adam step (PyTorch's formula, bias correction in the step size).

    param, exp_avg and exp_avg_sq are updated in place, so they must be
    C-contiguous; all four arrays share param's dtype and size. The arithmetic
    is done in double, as on the CPU. step is this step's number: an int, or a
    0-d int64 device array holding it, which the kernel reads when it runs (so a
    CUDA graph replay uses the current step, not the captured one).
    """
    op = "adam_update"
    dtype = _check_dtype(op, param.dtype)
    cp = _cupy()
    for name, a in (("param", param), ("grad", grad), ("exp_avg", exp_avg), ("exp_avg_sq", exp_avg_sq)):
        if a.dtype != dtype or a.size != param.size:
            raise ValueError(f"minigan.kernels.gpu.{op}: {name} is {a.dtype} {tuple(a.shape)}, "
                             f"expected {dtype} with {param.size} elements like param")
        if name != "grad" and not a.flags.c_contiguous:
            raise ValueError(f"minigan.kernels.gpu.{op}: {name} is updated in place and must "
                             f"be C-contiguous")
    grad = cp.ascontiguousarray(grad)
    hyper = [numpy.float64(v) for v in (lr, beta1, beta2, eps, weight_decay)]
    if isinstance(step, cp.ndarray):
        if step.shape != () or step.dtype != numpy.int64:
            raise ValueError(f"minigan.kernels.gpu.{op}: a device step must be a 0-d int64 array, "
                             f"got {step.dtype} {tuple(step.shape)}")
        _launch(_kernel("adam.cu", "adam_update_counted", dtype), param.size,
                (param, grad, exp_avg, exp_avg_sq, step, numpy.int64(param.size), *hyper))
        return
    corrections = [numpy.float64(1 - beta1 ** step), numpy.float64(math.sqrt(1 - beta2 ** step))]
    _launch(_kernel("adam.cu", "adam_update", dtype), param.size,
            (param, grad, exp_avg, exp_avg_sq, numpy.int64(param.size), *hyper, *corrections))


# ---------- fused activations and loss ----------

def bias_leaky_relu(x, bias=None, negative_slope=0.01):
    """leaky_relu(x + bias[c], negative_slope) for x (N, C, *spatial); ReLU is slope 0.

    bias (C,) or None (then x may have any shape). Returns a new array; the
    arithmetic is the CPU ops' (add in x.dtype, then multiply by the slope
    rounded to x.dtype).
    """
    dtype = _check_dtype("bias_leaky_relu", x.dtype)
    cp = _cupy()
    x = cp.ascontiguousarray(x)
    channels, plane = 1, 1
    if bias is not None:
        _, channels, plane = _layout("bias_leaky_relu", x)
        bias = _per_channel("bias_leaky_relu", cp, "bias", bias, channels, dtype)
    y = cp.empty_like(x)
    _launch(_kernel("activation.cu", "bias_leaky_relu", dtype), x.size,
            (x, x if bias is None else bias, y, numpy.int64(x.size), *_i32(channels, plane),
             numpy.int32(bias is not None), dtype.type(negative_slope)))
    return y


def bias_leaky_relu_backward(grad, y, negative_slope=0.01, bias_grad=False):
    """Gradients of y = bias_leaky_relu(x, bias, negative_slope), from its output y.

    Returns grad_x = grad * (y > 0 ? 1 : negative_slope), or with bias_grad
    (grad_x, grad_bias) where grad_bias (C,) sums grad_x over all axes but 1
    (one pass, one block per channel). Reading y instead of x is exact only
    for negative_slope >= 0, so a negative slope raises ValueError.
    """
    op = "bias_leaky_relu_backward"
    dtype = _check_dtype(op, grad.dtype)
    if negative_slope < 0:
        raise ValueError(f"minigan.kernels.gpu.{op}: negative_slope must be >= 0 to recover the "
                         f"sign of the input from the output y, got {negative_slope}")
    cp = _cupy()
    grad = cp.ascontiguousarray(grad)
    y = _like(op, cp, "y", y, grad)
    grad_x = cp.empty_like(grad)
    slope = dtype.type(negative_slope)
    if not bias_grad:
        _launch(_kernel("activation.cu", "bias_leaky_relu_backward", dtype), grad.size,
                (grad, y, grad_x, numpy.int64(grad.size), slope))
        return grad_x
    n, channels, plane = _layout(op, grad)
    grad_bias = cp.zeros(channels, dtype=dtype)
    if grad.size:
        _launch_per_channel(_kernel("activation.cu", "bias_leaky_relu_backward_bias", dtype), channels,
                            (grad, y, grad_x, grad_bias, *_i32(n, channels, plane), slope))
    return grad_x, grad_bias


def sigmoid(x):
    """1 / (1 + exp(-x)) elementwise, in x.dtype, without overflow (exp only sees -|x|)."""
    dtype = _check_dtype("sigmoid", x.dtype)
    cp = _cupy()
    x = cp.ascontiguousarray(x)
    y = cp.empty_like(x)
    _launch(_kernel("activation.cu", "sigmoid", dtype), x.size, (x, y, numpy.int64(x.size)))
    return y


def bce_with_logits_terms(x, target):
    """Elementwise max(x, 0) - x*t + log1p(exp(-|x|)), the BCE-with-logits loss before its mean.

    Numerically stable for any x.
    """
    op = "bce_with_logits_terms"
    dtype = _check_dtype(op, x.dtype)
    cp = _cupy()
    x = cp.ascontiguousarray(x)
    target = _like(op, cp, "target", target, x)
    terms = cp.empty_like(x)
    _launch(_kernel("activation.cu", "bce_with_logits", dtype), x.size,
            (x, target, terms, numpy.int64(x.size)))
    return terms


def bce_with_logits_backward(x, target, grad=1.0, divisor=1):
    """grad * (sigmoid(x) - target) / divisor, elementwise, in x.dtype.

    grad is the upstream gradient of the mean loss: a number or a 1-element
    array (kept on the device, so no host sync). For the mean loss pass
    divisor = x.size, which is the CPU op's `grad * (sigmoid(x) - t) / n`.
    """
    op = "bce_with_logits_backward"
    dtype = _check_dtype(op, x.dtype)
    cp = _cupy()
    x = cp.ascontiguousarray(x)
    target = _like(op, cp, "target", target, x)
    grad = cp.ascontiguousarray(cp.asarray(grad, dtype=dtype).reshape(-1))
    if grad.size != 1:
        raise ValueError(f"minigan.kernels.gpu.{op}: grad must be a number or a 1-element array, "
                         f"got shape {tuple(grad.shape)}")
    grad_x = cp.empty_like(x)
    _launch(_kernel("activation.cu", "bce_with_logits_backward", dtype), x.size,
            (x, target, grad, dtype.type(divisor), grad_x, numpy.int64(x.size)))
    return grad_x


# ---------- batch normalization ----------

def batch_norm_stats(x):
    """(mean, var) per channel of x (N, C, *spatial) over all axes but 1, in one pass.

    var is the biased (population) variance, as x.var(axis=(0, 2, 3)). Both are
    (C,) arrays of x.dtype, summed in double around a shift (x[0, c, 0, 0]) so
    the variance does not cancel when the mean is large. x must not be empty.
    """
    op = "batch_norm_stats"
    dtype = _check_dtype(op, x.dtype)
    cp = _cupy()
    x = cp.ascontiguousarray(x)
    n, channels, plane = _layout(op, x)
    if n * plane == 0:
        raise ValueError(f"minigan.kernels.gpu.{op}: no values per channel in shape {x.shape}")
    mean, var = cp.empty(channels, dtype=dtype), cp.empty(channels, dtype=dtype)
    _launch_per_channel(_kernel("batchnorm.cu", "batch_norm_stats", dtype), channels,
                        (x, mean, var, *_i32(n, channels, plane)))
    return mean, var


def batch_norm_forward_apply(x, mean, inv_std, weight=None, bias=None):
    """(y, x_hat): x_hat = (x - mean[c]) * inv_std[c], y = x_hat * weight[c] + bias[c].

    mean, inv_std, weight and bias are (C,) arrays of x.dtype; weight and bias
    may be None (then y equals x_hat but is a separate array). One pass.
    """
    op = "batch_norm_forward_apply"
    dtype = _check_dtype(op, x.dtype)
    cp = _cupy()
    x = cp.ascontiguousarray(x)
    _, channels, plane = _layout(op, x)
    mean, inv_std, weight, bias = (_per_channel(op, cp, name, a, channels, dtype) for name, a in
                                   (("mean", mean), ("inv_std", inv_std), ("weight", weight),
                                    ("bias", bias)))
    x_hat, y = cp.empty_like(x), cp.empty_like(x)
    _launch(_kernel("batchnorm.cu", "batch_norm_forward_apply", dtype), x.size,
            (x, mean, inv_std, x if weight is None else weight, x if bias is None else bias, x_hat, y,
             numpy.int64(x.size), *_i32(channels, plane, weight is not None, bias is not None)))
    return y, x_hat


def batch_norm_backward_reductions(grad_y, x_hat):
    """(sum_dy, sum_dy_xhat) per channel: sums of grad_y and of grad_y * x_hat over all axes but 1.

    These are batchnorm's bias and weight gradients, (C,) arrays of
    grad_y.dtype, summed in double in one pass, one block per channel.
    """
    op = "batch_norm_backward_reductions"
    dtype = _check_dtype(op, grad_y.dtype)
    cp = _cupy()
    grad_y = cp.ascontiguousarray(grad_y)
    x_hat = _like(op, cp, "x_hat", x_hat, grad_y)
    n, channels, plane = _layout(op, grad_y)
    sum_dy, sum_dy_xhat = cp.zeros(channels, dtype=dtype), cp.zeros(channels, dtype=dtype)
    if grad_y.size:
        _launch_per_channel(_kernel("batchnorm.cu", "batch_norm_backward_reduce", dtype), channels,
                            (grad_y, x_hat, sum_dy, sum_dy_xhat, *_i32(n, channels, plane)))
    return sum_dy, sum_dy_xhat


def batch_norm_backward_apply(grad_y, x_hat, scale, mean_dy, mean_dy_xhat):
    """grad_x = scale[c] * (grad_y - mean_dy[c] - x_hat * mean_dy_xhat[c]).

    The compact training-mode input gradient of minigan/functional/batchnorm.py,
    with scale = weight * inv_std (or inv_std), mean_dy = sum_dy / count and
    mean_dy_xhat = sum_dy_xhat / count, count = N * prod(spatial). All three
    are (C,) arrays of grad_y.dtype. For evaluation mode pass zeros for both means.
    """
    op = "batch_norm_backward_apply"
    dtype = _check_dtype(op, grad_y.dtype)
    cp = _cupy()
    grad_y = cp.ascontiguousarray(grad_y)
    x_hat = _like(op, cp, "x_hat", x_hat, grad_y)
    _, channels, plane = _layout(op, grad_y)
    scale, mean_dy, mean_dy_xhat = (_per_channel(op, cp, name, a, channels, dtype) for name, a in
                                    (("scale", scale), ("mean_dy", mean_dy),
                                     ("mean_dy_xhat", mean_dy_xhat)))
    grad_x = cp.empty_like(grad_y)
    _launch(_kernel("batchnorm.cu", "batch_norm_backward_apply", dtype), grad_y.size,
            (grad_y, x_hat, scale, mean_dy, mean_dy_xhat, grad_x, numpy.int64(grad_y.size),
             *_i32(channels, plane)))
    return grad_x


# ---------- counter-based random numbers ----------

def random_state(seed):
    """kernels/cpu.py random_state(seed) (the key and counter of numpy.random.Philox(seed)), on the device."""
    return _cupy().asarray(cpu.random_state(seed))


def random_normal(state, shape, dtype):
    """A new array of shape of standard normals in dtype, advancing state in place.

    state is a C-contiguous device uint64 array of 6 from random_state. The
    values are the Box-Muller normals of kernels/cuda/philox.cu (the formula is
    there); a draw of n values consumes ceil(n / 4) Philox blocks and advances
    the counter by as many. Two launches that read the state only on the
    device, so a CUDA graph can capture them. The same stream as kernels/cpu.py
    random_normal, to within a few ulps (the math libraries differ).
    """
    op = "random_normal"
    dtype = _check_dtype(op, dtype)
    cp = _cupy()
    if not (isinstance(state, cp.ndarray) and state.dtype == numpy.uint64 and tuple(state.shape) == (6,)
            and state.flags.c_contiguous):
        raise ValueError(f"minigan.kernels.gpu.{op}: state must be a C-contiguous device uint64 "
                         f"array of 6 from random_state, got {type(state).__name__} "
                         f"{getattr(state, 'dtype', '')} {tuple(getattr(state, 'shape', ()))}")
    out = cp.empty(shape, dtype=dtype)
    blocks = -(-out.size // cpu.VALUES_PER_PHILOX_BLOCK)
    if blocks:
        _launch(_kernel("philox.cu", "philox_normal", dtype), blocks, (state, out, numpy.int64(out.size)))
        _kernel("philox.cu", "philox_advance", dtype)((1,), (1,), (state, numpy.uint64(blocks)))
    return out


# ---------- matrix products ----------

# matmul's engine (using_matmul): "cublas", cuBLAS through CuPy; "exact" or "tf32", gemm below
# (kernels/cuda/gemm.cu, gemm_tf32.cu), which also run inside CUDA graph capture, where CuPy
# refuses cuBLAS.
MATMUL_ENGINES = ("cublas", "exact", "tf32")
_matmul_engine = "cublas"


@contextlib.contextmanager
def using_matmul(engine):
    """Within the block, matmul (every convolution's product on the GPU) runs on engine."""
    global _matmul_engine
    if engine not in MATMUL_ENGINES:
        raise ValueError(f"minigan.kernels.gpu.using_matmul: engine must be one of {MATMUL_ENGINES}, "
                         f"got {engine!r}")
    previous, _matmul_engine = _matmul_engine, engine
    try:
        yield
    finally:
        _matmul_engine = previous


def matmul(a, b):
    """a @ b of 2-D arrays, as kernels/cpu.py matmul (the convolutions' products), on the
    engine using_matmul chose (cuBLAS outside any such block).

    On gemm, a transposed view of a C-contiguous array (F-contiguous) is read
    through gemm's transpose flag, without a copy.
    """
    if _matmul_engine == "cublas":
        return a @ b
    trans_a, trans_b = (not x.flags.c_contiguous and x.flags.f_contiguous for x in (a, b))
    return gemm(a.T if trans_a else a, b.T if trans_b else b, trans_a, trans_b,
                tf32=_matmul_engine == "tf32")


GEMM_TILE = 64  # C tile per block, both kernels: GEMM_TILE_M/N in gemm.cu, GEMM_TF32_TILE_M/N in gemm_tf32.cu
GEMM_THREADS = (16, 16)  # the exact kernel's block (GEMM_THREADS_X, GEMM_THREADS_Y), 4x4 outputs each
GEMM_TF32_THREADS = 128  # the tensor-core kernel's block: 4 warps (GEMM_TF32_THREADS)
_MAX_GRID_Y = 65535  # CUDA's limit on gridDim.y, which counts the row tiles of C


def gemm(a, b, trans_a=False, trans_b=False, tf32=False):
    """op(a) @ op(b) as a new C-contiguous (M, N) array; op transposes where its flag is set.

    a and b are 2-D arrays as stored, of one float dtype: a is (M, K), or
    (K, M) with trans_a; b is (K, N), or (N, K) with trans_b. So x.T @ y is
    gemm(x, y, trans_a=True), with no copy of x (a non-contiguous a or b is
    copied first).

    Exact (tf32=False): each output sums its K products in the dtype with one
    fused multiply-add per k, in ascending k, from zero: deterministic, and
    independent of the flags and the tiling. tf32=True (float32 only, compute
    capability 8.0 or newer): tensor cores, each input rounded to TF32 (10
    mantissa bits), products accumulated in float32; deterministic too.
    """
    op = "gemm"
    dtype = _check_dtype(op, a.dtype)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"minigan.kernels.gpu.{op}: a and b must be 2-D, got shapes {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    if b.dtype != dtype:
        raise TypeError(f"minigan.kernels.gpu.{op}: a is {a.dtype} {tuple(a.shape)} but b is {b.dtype} "
                        f"{tuple(b.shape)}; both must have one dtype")
    (m, k), (k_b, n) = (a.shape[::-1] if trans_a else a.shape), (b.shape[::-1] if trans_b else b.shape)
    if k != k_b:
        raise ValueError(f"minigan.kernels.gpu.{op}: op(a) is {(m, k)} (a {tuple(a.shape)}, trans_a={trans_a}) "
                         f"but op(b) is {(k_b, n)} (b {tuple(b.shape)}, trans_b={trans_b}): inner "
                         f"dimensions {k} and {k_b} differ")
    if tf32 and dtype != numpy.float32:
        raise TypeError(f"minigan.kernels.gpu.{op}: tf32 is a float32 mode, got {dtype} arrays "
                        f"{tuple(a.shape)} and {tuple(b.shape)}")
    _check_int(op, M=m, N=n, K=k)
    tiles_m = -(-m // GEMM_TILE)
    if tiles_m > _MAX_GRID_Y:
        raise ValueError(f"minigan.kernels.gpu.{op}: M = {m} needs {tiles_m} row tiles of {GEMM_TILE}, "
                         f"more than the grid's y limit {_MAX_GRID_Y}")
    cp = _cupy()
    c = cp.empty((m, n), dtype=dtype)
    if m and n:
        grid = (-(-n // GEMM_TILE), tiles_m)
        args = (cp.ascontiguousarray(a), cp.ascontiguousarray(b), c, *_i32(m, n, k, trans_a, trans_b))
        if tf32:
            capability = cp.cuda.Device().compute_capability
            if int(capability) < 80:
                raise RuntimeError(f"minigan.kernels.gpu.{op}: tf32 needs tensor cores with TF32 "
                                   f"(compute capability 8.0 or newer), this GPU is {capability}")
            _kernel("gemm_tf32.cu", "gemm_tf32", dtype)(grid, (GEMM_TF32_THREADS,), args)
        else:
            _kernel("gemm.cu", "gemm", dtype)(grid, GEMM_THREADS, args)
    return c
