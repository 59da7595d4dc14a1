"""Matrix products: every convolution's GEMM goes through matmul.

On the CPU, matmul is BLAS (NumPy). On the GPU it runs on the engine the
caller names (ops pass minigan's config.matmul): "cublas", cuBLAS through
CuPy; "exact" or "tf32", gemm below (kernels/cuda/gemm.cu, gemm_tf32.cu),
which also run inside CUDA graph capture, where CuPy refuses cuBLAS. gemm is
a GPU kernel only: on the CPU BLAS is both faster and the reference.
"""
from typing import Protocol

import numpy

from . import _cuda

MATMUL_ENGINES = ("cublas", "exact", "tf32")


class Contract(Protocol):
    def matmul(self, a, b, engine="cublas", out=None, accumulate=False):
        """a @ b of 2-D arrays (the convolutions' products). engine picks the GPU's
        (MATMUL_ENGINES); the CPU has one, BLAS, and ignores it.

        With out, a C-contiguous (M, N) array of a's dtype, the product is written
        there, or with accumulate added to out's values (out + a @ b, in that order of
        rounding), and out is returned: so a weight gradient lands in the optimizer's
        buffer, or is added to the one there, with no launch of its own.
        """


def _check_out(a, b, out):
    shape = (a.shape[0], b.shape[1])
    if tuple(out.shape) != shape or out.dtype != a.dtype or not out.flags.c_contiguous:
        raise ValueError(f"minigan.kernels.matmul: out must be a C-contiguous {shape} array of {a.dtype} "
                         f"for a {tuple(a.shape)} @ {tuple(b.shape)} product, got "
                         f"{'a' if out.flags.c_contiguous else 'a non-contiguous'} {out.dtype} "
                         f"{tuple(out.shape)} array")


def matmul_cpu(a, b, engine="cublas", out=None, accumulate=False):
    # K = 1 is an outer product (a 1-channel conv's input gradient): OpenBLAS's K=1 GEMM takes
    # 2-3x as long as the broadcast product, whose bits are the same.
    product = numpy.multiply if a.shape[1] == 1 else numpy.matmul
    if out is None:
        return product(a, b)
    _check_out(a, b, out)
    if accumulate:
        out += product(a, b)
    else:
        product(a, b, out=out)
    return out


# ---------- CUDA: kernels/cuda/gemm.cu (exact) and gemm_tf32.cu (tensor cores) ----------

EXACT = _cuda.Source("gemm.cu", templates=("gemm", "gemm_sum_slices", "gemv"))
TF32 = _cuda.Source("gemm_tf32.cu", plain=("gemm_tf32",))
GEMM_TILE = 64  # C tile per block, both kernels: GEMM_TILE_M/N in gemm.cu, GEMM_TF32_TILE_M/N in gemm_tf32.cu
GEMM_TILE_K = 16  # K tile of both kernels (GEMM_TILE_K, GEMM_TF32_TILE_K): slices of K are multiples of it
GEMM_THREADS = (16, 16)  # the exact kernel's block (GEMM_THREADS_X, GEMM_THREADS_Y), 4x4 outputs each
GEMM_TF32_THREADS = 256  # the tensor-core kernel's block: 8 warps (GEMM_TF32_THREADS)
GEMV_THREADS = 256  # the GEMV's block, outputs x lanes (GEMV_THREADS)
GEMV_LANES = {True: 256, False: 8}  # lanes per output at most, by whether the matrix walks k contiguously
MAX_GRID_Y = 65535  # CUDA's limit on gridDim.y, which counts the row tiles of C
# Split-K. A product of few C tiles and a long K leaves most of the GPU idle (DCGAN-32's first
# layer weight gradient, 64x48 by K = 32768 at batch 128, is one tile). It is cut into slices
# of K, one block each, until about SPLIT_K_BLOCKS blocks run, each slice at least
# SPLIT_K_MIN_DEPTH deep; the slices' partial products are then added in a fixed order. The
# slice count is a function of the shape alone (not of the GPU's SM count), so a product's
# bits are the same on every GPU.
SPLIT_K_BLOCKS = 264  # two blocks per SM of a 132-SM H100/H200
SPLIT_K_MIN_DEPTH = 256
SPLIT_K_MAX_SLICES = 128


def k_slices(m, n, k):
    """(slices, k_slice): how gemm cuts K for an (M, N, K) product; (1, K rounded up to the K
    tile) when it does not."""
    tiles = -(-m // GEMM_TILE) * -(-n // GEMM_TILE)
    slices = 1
    if tiles < SPLIT_K_BLOCKS:
        slices = max(1, min(-(-SPLIT_K_BLOCKS // tiles), k // SPLIT_K_MIN_DEPTH, SPLIT_K_MAX_SLICES))
    k_slice = -(-k // slices // GEMM_TILE_K) * GEMM_TILE_K or GEMM_TILE_K
    return -(-k // k_slice) if k else 1, k_slice


def matmul_cuda(a, b, engine="cublas", out=None, accumulate=False):
    # On gemm, a transposed view of a C-contiguous array (F-contiguous) is read
    # through gemm's transpose flag, without a copy.
    if engine not in MATMUL_ENGINES:
        raise ValueError(f"minigan.kernels.matmul: engine must be one of {MATMUL_ENGINES}, got {engine!r}")
    if out is not None:
        _check_out(a, b, out)
    if engine == "cublas":
        if out is None:
            return a @ b
        # cuBLAS's own beta: out = a @ b + beta * out, one launch (cupy.cublas.gemm).
        return _cuda.get_cupy().cublas.gemm("N", "N", a, b, out=out, beta=1.0 if accumulate else 0.0)
    trans_a, trans_b = (not x.flags.c_contiguous and x.flags.f_contiguous for x in (a, b))
    return gemm(a.T if trans_a else a, b.T if trans_b else b, trans_a, trans_b, tf32=engine == "tf32",
                out=out, accumulate=accumulate)


def gemm(a, b, trans_a=False, trans_b=False, tf32=False, out=None, accumulate=False):
    """op(a) @ op(b) as a new C-contiguous (M, N) device array; op transposes where its flag is set.
    With out (a C-contiguous (M, N) device array of their dtype, checked by matmul) the product
    is written there instead, or with accumulate added to out's values, and out is returned.

    a and b are 2-D arrays as stored, of one float dtype: a is (M, K), or
    (K, M) with trans_a; b is (K, N), or (N, K) with trans_b. So x.T @ y is
    gemm(x, y, trans_a=True), with no copy of x (a non-contiguous a or b is
    copied first).

    Exact (tf32=False): every product is summed in the dtype with fused
    multiply-adds from zero, in a fixed order that depends on the shape alone:
    each output in ascending k, or, for a tall K (k_slices), each slice of K
    so and the slices in ascending order; when M or N is 1, a GEMV whose lanes
    each sum every lanes-th k and then meet in a fixed tree. Deterministic,
    and independent of the flags and the GPU. tf32=True (float32 only,
    compute capability 8.0 or newer): tensor cores, each input rounded to
    TF32 (10 mantissa bits), products accumulated in float32, split-K as the
    exact kernel; deterministic too.
    """
    op = "gemm"
    dtype = _cuda.check_dtype(op, a.dtype)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"minigan.kernels.{op}: a and b must be 2-D, got shapes {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    if b.dtype != dtype:
        raise TypeError(f"minigan.kernels.{op}: a is {a.dtype} {tuple(a.shape)} but b is {b.dtype} "
                        f"{tuple(b.shape)}; both must have one dtype")
    (m, k), (k_b, n) = (a.shape[::-1] if trans_a else a.shape), (b.shape[::-1] if trans_b else b.shape)
    if k != k_b:
        raise ValueError(f"minigan.kernels.{op}: op(a) is {(m, k)} (a {tuple(a.shape)}, trans_a={trans_a}) "
                         f"but op(b) is {(k_b, n)} (b {tuple(b.shape)}, trans_b={trans_b}): inner "
                         f"dimensions {k} and {k_b} differ")
    if tf32 and dtype != numpy.float32:
        raise TypeError(f"minigan.kernels.{op}: tf32 is a float32 mode, got {dtype} arrays "
                        f"{tuple(a.shape)} and {tuple(b.shape)}")
    _cuda.check_int(op, M=m, N=n, K=k)
    tiles_m = -(-m // GEMM_TILE)
    if tiles_m > MAX_GRID_Y:
        raise ValueError(f"minigan.kernels.{op}: M = {m} needs {tiles_m} row tiles of {GEMM_TILE}, "
                         f"more than the grid's y limit {MAX_GRID_Y}")
    cp = _cuda.get_cupy()
    c = cp.empty((m, n), dtype=dtype) if out is None else out
    if not (m and n):
        return c
    a, b = cp.ascontiguousarray(a), cp.ascontiguousarray(b)
    if tf32:
        capability = cp.cuda.Device().compute_capability
        if int(capability) < 80:
            raise RuntimeError(f"minigan.kernels.{op}: tf32 needs tensor cores with TF32 "
                               f"(compute capability 8.0 or newer), this GPU is {capability}")
    elif (m == 1 or n == 1) and k:
        _gemv(a, b, c, m, n, k, trans_a, trans_b, accumulate)
        return c
    slices, k_slice = k_slices(m, n, k)
    partial = c if slices == 1 else cp.empty((slices, m, n), dtype=dtype)
    grid = (-(-n // GEMM_TILE), tiles_m, slices)
    args = (a, b, partial, *_cuda.i32(m, n, k, trans_a, trans_b, k_slice, accumulate and slices == 1))
    if tf32:
        TF32.kernel("gemm_tf32")(grid, (GEMM_TF32_THREADS,), args)
    else:
        EXACT.kernel("gemm", dtype)(grid, GEMM_THREADS, args)
    if slices > 1:
        EXACT.launch("gemm_sum_slices", dtype, m * n,
                     (partial, c, numpy.int32(slices), numpy.int64(m * n), numpy.int32(accumulate)))
    return c


def _gemv(a, b, c, m, n, k, trans_a, trans_b, accumulate):
    """c = op(a) @ op(b) (c + op(a) @ op(b) with accumulate) when M or N is 1: the vector is the
    side that is 1 (contiguous either way), the matrix the other, read through its strides."""
    if m == 1:  # c (1, N): op(B)'s (k, i) is B[k, i], or B[i, k] stored transposed
        vector, matrix, length, strides = a, b, n, ((1, k) if trans_b else (n, 1))
    else:  # c (M, 1): op(A)'s (i, k) is A[i, k], or A[k, i] stored transposed
        vector, matrix, length, strides = b, a, m, ((m, 1) if trans_a else (1, k))
    lanes = min(GEMV_LANES[strides[0] == 1], 1 << (k.bit_length() - 1))  # a power of two, at most K
    outputs = GEMV_THREADS // lanes
    EXACT.kernel("gemv", c.dtype)((-(-length // outputs),), (outputs, lanes),
                                  (vector, matrix, c, *_cuda.i32(length, k), *map(numpy.int64, strides),
                                   numpy.int32(accumulate)))
