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
    def matmul(self, a, b, engine="cublas"):
        """a @ b of 2-D arrays (the convolutions' products). engine picks the GPU's
        (MATMUL_ENGINES); the CPU has one, BLAS, and ignores it."""


def matmul_cpu(a, b, engine="cublas"):
    return a @ b


# ---------- CUDA: kernels/cuda/gemm.cu (exact) and gemm_tf32.cu (tensor cores) ----------

EXACT = _cuda.Source("gemm.cu", templates=("gemm",))
TF32 = _cuda.Source("gemm_tf32.cu", plain=("gemm_tf32",))
GEMM_TILE = 64  # C tile per block, both kernels: GEMM_TILE_M/N in gemm.cu, GEMM_TF32_TILE_M/N in gemm_tf32.cu
GEMM_THREADS = (16, 16)  # the exact kernel's block (GEMM_THREADS_X, GEMM_THREADS_Y), 4x4 outputs each
GEMM_TF32_THREADS = 128  # the tensor-core kernel's block: 4 warps (GEMM_TF32_THREADS)
MAX_GRID_Y = 65535  # CUDA's limit on gridDim.y, which counts the row tiles of C


def matmul_cuda(a, b, engine="cublas"):
    # On gemm, a transposed view of a C-contiguous array (F-contiguous) is read
    # through gemm's transpose flag, without a copy.
    if engine not in MATMUL_ENGINES:
        raise ValueError(f"minigan.kernels.matmul: engine must be one of {MATMUL_ENGINES}, got {engine!r}")
    if engine == "cublas":
        return a @ b
    trans_a, trans_b = (not x.flags.c_contiguous and x.flags.f_contiguous for x in (a, b))
    return gemm(a.T if trans_a else a, b.T if trans_b else b, trans_a, trans_b, tf32=engine == "tf32")


def gemm(a, b, trans_a=False, trans_b=False, tf32=False):
    """op(a) @ op(b) as a new C-contiguous (M, N) device array; op transposes where its flag is set.

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
    c = cp.empty((m, n), dtype=dtype)
    if m and n:
        grid = (-(-n // GEMM_TILE), tiles_m)
        args = (cp.ascontiguousarray(a), cp.ascontiguousarray(b), c, *_cuda.i32(m, n, k, trans_a, trans_b))
        if tf32:
            capability = cp.cuda.Device().compute_capability
            if int(capability) < 80:
                raise RuntimeError(f"minigan.kernels.{op}: tf32 needs tensor cores with TF32 "
                                   f"(compute capability 8.0 or newer), this GPU is {capability}")
            TF32.kernel("gemm_tf32")(grid, (GEMM_TF32_THREADS,), args)
        else:
            EXACT.kernel("gemm", dtype)(grid, GEMM_THREADS, args)
    return c
