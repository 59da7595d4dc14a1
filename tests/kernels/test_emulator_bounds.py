"""Out-of-bounds accesses fail loudly on the emulated GPU, every time, naming the kernel, the
array and the index: each array argument sits between guard zones, and every load and store of
the kernel code is checked against them (tests/support/cuda_emulator.py, Guards).

The two GEMM slips below once passed the suite: the TF32 tile load read one column past the end
of A (a value then multiplied by zero, so only a NaN there showed it), and the FP32 GEMM's store
wrote one column past the end of C (corrupting the test process's heap instead of failing). The
tile loads now live in kernels/cuda/async_copy.cuh (stage_tile), which both GEMMs include.
"""
import numpy
import pytest

from support.cuda_emulator import EmulatedModule, OutOfBounds
from minigan.kernels import _cuda

TF32_LOAD_PAST_END = ("async_copy.cuh", "const bool valid = row < r_end && col < c_end;",
                      "const bool valid = row < r_end && col <= c_end;")
FP32_STORE_PAST_END = ("gemm.cu", "if (col < n) out[(long long)row * n + col] = accumulate",
                       "if (col <= n) out[(long long)row * n + col] = accumulate")


def module(tmp_path, slip, source, expression=None):
    """The emulated module of kernels/cuda/source with the slip made (in source, or in the
    header it includes, inlined)."""
    file, original, replacement = slip
    code = (_cuda.CUDA_DIR / source).read_text()
    if file != source:
        include = f'#include "{file}"'
        assert code.count(include) == 1, f"{source} no longer includes {file}: the slip no longer applies"
        code = code.replace(include, (_cuda.CUDA_DIR / file).read_text())
    assert code.count(original) == 1, f"{file} changed: the slip no longer applies"
    return EmulatedModule(code.replace(original, replacement), tmp_path, [str(_cuda.CUDA_DIR)],
                          (expression,) if expression else ())


def gemm_arguments(m, n, k):
    rng = numpy.random.default_rng(0)
    a, b = rng.standard_normal((m, k), dtype=numpy.float32), rng.standard_normal((k, n), dtype=numpy.float32)
    c = numpy.zeros((m, n), numpy.float32)
    k_slice = -(-k // 16) * 16  # all of K in one slice (kernels/gemm.py k_slices)
    return (a, b, c, *map(numpy.int32, (m, n, k, 0, 0, k_slice, 0))), ((n + 63) // 64, (m + 63) // 64)


@pytest.mark.parametrize("m, n, k", [(5, 7, 3), (65, 3, 17), (1, 1, 1)])
def test_the_tf32_tile_load_past_the_end_fails_naming_the_array(tmp_path, m, n, k):
    kernel = module(tmp_path, TF32_LOAD_PAST_END, "gemm_tf32.cu").get_function("gemm_tf32")
    args, grid = gemm_arguments(m, n, k)
    for _ in range(2):  # every time, not by what lies past the array
        # A's last row and B's last row both read one past their end; whichever the threads reach first.
        with pytest.raises(OutOfBounds, match=rf"gemm_tf32: out-of-bounds read of argument (0 \(a\), {m * k} "
                                              rf"float32 elements, at index {m * k}|1 \(b\), {k * n} float32 "
                                              rf"elements, at index {k * n}) "):
            kernel(grid, (256, 1, 1), args)


@pytest.mark.parametrize("m, n, k", [(5, 7, 3), (65, 3, 17), (1, 1, 1)])
def test_the_fp32_store_past_the_end_fails_naming_the_array(tmp_path, m, n, k):
    kernel = module(tmp_path, FP32_STORE_PAST_END, "gemm.cu", "gemm<float>").get_function("gemm<float>")
    args, grid = gemm_arguments(m, n, k)
    for _ in range(2):
        with pytest.raises(OutOfBounds, match=rf"gemm<float>: out-of-bounds write of argument 2 \(c\), {m * n} "
                                              rf"float32 elements, at index {m * n} "):
            kernel(grid, (16, 16, 1), args)


def test_accesses_before_the_start_are_caught(tmp_path):
    code = '''extern "C" __global__ void shift(const float* x, float* y, long long size, long long by) {
        for (long long k = threadIdx.x; k < size; k += blockDim.x) y[k + by] = x[k - by];
    }'''
    kernel = EmulatedModule(code, tmp_path, []).get_function("shift")
    x, y = numpy.arange(8, dtype=numpy.float32), numpy.zeros(8, numpy.float32)
    kernel((1,), (8,), (x, y, numpy.int64(8), numpy.int64(0)))
    numpy.testing.assert_array_equal(y, x)  # in bounds: the results come back
    with pytest.raises(OutOfBounds, match=r"shift: out-of-bounds read of argument 0 \(x\), 8 float32 elements, "
                                          r"at index -1 .* by thread \(0, 0, 0\) of block \(0, 0, 0\)"):
        kernel((1,), (8,), (x, y, numpy.int64(8), numpy.int64(1)))
    with pytest.raises(OutOfBounds, match=r"shift: out-of-bounds write of argument 1 \(y\), 8 float32 elements, "
                                          r"at index -1 "):
        kernel((1,), (8,), (x, y, numpy.int64(8), numpy.int64(-1)))
