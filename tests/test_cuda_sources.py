"""The CUDA sources, checked without a GPU.

Every kernels/cuda/*.cu compiles with nvcc for sm_90 (as .ci/nvcc_check.sh
does), and every kernel kernels/gpu.py looks up is defined as an
`extern "C" __global__` function of the file it names, in both its f32 and
f64 variants (F32_ONLY lists the one float32-only kernel). So a syntax error or a misspelt kernel name fails on CPU-only CI.
Shared device helpers live in kernels/cuda/*.cuh headers (no kernels there),
which every loader finds: nvcc next to the .cu, NVRTC and the emulator by -I.
Then the kernels run on the CPU under a small CUDA emulator (tests/support/cuda_emulator.py), driven by
kernels/gpu.py itself, and are compared with kernels/cpu.py and reference.py.
"""
import ast
import inspect
import re
import shutil
import subprocess
from pathlib import Path

import numpy
import pytest

from support import cuda_emulator
from cuda_emulator import strip_comments

ROOT = Path(__file__).resolve().parents[1]
CUDA_DIR = ROOT / "kernels" / "cuda"
GPU_PY = ROOT / "kernels" / "gpu.py"
SOURCES = sorted(CUDA_DIR.glob("*.cu"))
HEADERS = sorted(CUDA_DIR.glob("*.cuh"))
INCLUDE = "-I" + str(CUDA_DIR)  # as kernels/gpu.py passes it to CuPy
SUFFIXES = ("f32", "f64")
# The only kernels with a float32 variant alone, as (file, name) of their lookup:
# TF32 tensor cores multiply float32 inputs, there is no double form.
F32_ONLY = {("gemm_tf32.cu", "gemm_tf32")}

PTX_ENTRY = re.compile(r"\.entry\s+(\w+)\s*\(")
LOCAL_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def defined_kernels(source):
    return cuda_emulator.defined_kernels(source.read_text())


def lookups():
    """(file, name) of every _kernel("file", "name", dtype) call in kernels/gpu.py."""
    calls = []
    for node in ast.walk(ast.parse(GPU_PY.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_kernel":
            args = node.args[:2]
            # A computed name would slip past this check: only literal strings are allowed.
            assert len(args) == 2 and all(isinstance(a, ast.Constant) and isinstance(a.value, str)
                                          for a in args), \
                f"kernels/gpu.py line {node.lineno}: call _kernel with two literal strings"
            calls.append((args[0].value, args[1].value))
    return calls


def suffixes(file, name):
    return ("f32",) if (file, name) in F32_ONLY else SUFFIXES


def test_there_are_cuda_sources():
    assert SOURCES, f"no .cu files in {CUDA_DIR}"


def test_local_includes_are_kernel_free_headers():
    """Every #include "..." names a .cuh in kernels/cuda that defines no kernel, so the
    kernel-name checks below, which read only the .cu files, see every kernel."""
    for source in SOURCES + HEADERS:
        for name in LOCAL_INCLUDE.findall(strip_comments(source.read_text())):
            assert name.endswith(".cuh") and (CUDA_DIR / name).is_file(), \
                f"{source.name} includes {name!r}: not a header in {CUDA_DIR}"
    for header in HEADERS:
        assert not defined_kernels(header), f"{header.name} defines kernels; keep them in .cu files"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_nvcc_compiles(source, tmp_path):
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc is not on PATH")
    ptx = tmp_path / (source.stem + ".ptx")
    result = subprocess.run(["nvcc", "--ptx", "-arch=sm_90", "-o", str(ptx), str(source)],
                            capture_output=True, text=True)
    assert result.returncode == 0, f"nvcc failed on {source.name}:\n{result.stdout}{result.stderr}"
    # The PTX entry points are the ground truth for the regex the other tests use.
    assert set(PTX_ENTRY.findall(ptx.read_text())) == defined_kernels(source)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_nvrtc_compiles(source):
    """The same source through NVRTC, as cupy.RawModule compiles it (needs CuPy and NVRTC, no GPU)."""
    try:
        from cupy_backends.cuda.libs import nvrtc
        nvrtc.getVersion()
    except Exception as error:  # no CuPy, or no NVRTC library
        pytest.skip(f"NVRTC is not available: {error}")
    program = nvrtc.createProgram(source.read_text(), source.name, (), ())
    try:
        nvrtc.compileProgram(program, ["--std=c++14", INCLUDE, "-arch=compute_90", "-ftz=true"])
    except Exception as error:
        pytest.fail(f"NVRTC failed on {source.name}: {error}\n{nvrtc.getProgramLog(program)}")
    finally:
        nvrtc.destroyProgram(program)


def test_every_looked_up_kernel_exists():
    calls = lookups()
    assert calls, "found no _kernel(...) lookups in kernels/gpu.py"
    missing = []
    for file, name in calls:
        source = CUDA_DIR / file
        defined = defined_kernels(source) if source.is_file() else set()
        missing += [f"{file}: {name}_{s}" for s in suffixes(file, name) if f"{name}_{s}" not in defined]
    assert not missing, "kernels/gpu.py looks up kernels the sources do not define:\n" + "\n".join(missing)


def test_every_kernel_is_looked_up():
    used = {(file, f"{name}_{s}") for file, name in lookups() for s in suffixes(file, name)}
    unused = [f"{source.name}: {kernel}" for source in SOURCES for kernel in sorted(defined_kernels(source))
              if (source.name, kernel) not in used]
    assert not unused, "kernels defined but never looked up by kernels/gpu.py:\n" + "\n".join(unused)


def test_f32_only_kernels_are_looked_up():
    """F32_ONLY names only real lookups, so it cannot excuse a missing f64 variant of another kernel."""
    stale = F32_ONLY - set(lookups())
    assert not stale, f"F32_ONLY lists kernels kernels/gpu.py never looks up: {sorted(stale)}"


def test_gpu_table_matches_cpu_signatures():
    from minigan.kernels import cpu, gpu  # importing gpu must not need CuPy
    for name in ("im2col", "col2im", "adam_update"):
        assert inspect.signature(getattr(gpu, name)) == inspect.signature(getattr(cpu, name)), name


def test_unsupported_dtype_is_a_type_error():
    from minigan.kernels import gpu
    with pytest.raises(TypeError, match="float32 or float64"):
        gpu.im2col(numpy.zeros((1, 1, 3, 3), dtype=numpy.int64), 2, 2, (1, 1), (0, 0), (2, 2))
    with pytest.raises(TypeError, match="float32 or float64"):
        gpu.batch_norm_stats(numpy.zeros((2, 1, 3, 3), dtype=numpy.float16))


# ---------- the kernels themselves, run on the CPU by the emulator (tests/support/cuda_emulator.py) ----------

DTYPES = [numpy.float32, numpy.float64]


def test_reduce_threads_matches_block():
    from minigan.kernels import gpu as module
    found = 0
    for source in SOURCES + HEADERS:
        for value in re.findall(r"#define\s+REDUCE_THREADS\s+(\d+)", source.read_text()):
            found += 1
            assert int(value) == module.BLOCK, f"{source.name}: REDUCE_THREADS {value} != gpu.BLOCK"
    assert found, "REDUCE_THREADS is defined nowhere in kernels/cuda"


CONV_CASES = [  # (N, C, H, W), kernel, stride, padding
    ((2, 3, 7, 6), (3, 3), (1, 1), (1, 1)),
    ((2, 2, 8, 8), (4, 4), (2, 2), (1, 1)),
    ((1, 3, 9, 7), (3, 2), (2, 3), (0, 2)),
    ((3, 1, 4, 4), (4, 4), (1, 1), (0, 0)),
    ((2, 2, 5, 5), (1, 1), (3, 3), (2, 2)),
]


@pytest.mark.parametrize("shape, kernel, stride, padding", CONV_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_emulated_im2col_col2im(emulated_gpu, shape, kernel, stride, padding, dtype):
    from minigan.kernels import cpu, reference
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    out_hw = tuple((s + 2 * p - k) // st + 1 for s, k, st, p in zip(shape[2:], kernel, stride, padding))
    col = emulated_gpu.im2col(x, *kernel, stride, padding, out_hw)
    assert col.dtype == dtype
    numpy.testing.assert_array_equal(col, reference.im2col(x, *kernel, stride, padding, out_hw))
    grad_col = rng.standard_normal(col.shape).astype(dtype)
    back = emulated_gpu.col2im(grad_col, shape, *kernel, stride, padding, out_hw)
    assert back.dtype == dtype
    # Same gather, same order, same accumulator as the Numba kernel: equal to the bit.
    numpy.testing.assert_array_equal(back, cpu.col2im(grad_col, shape, *kernel, stride, padding, out_hw))
    numpy.testing.assert_allclose(back, reference.col2im(grad_col, shape, *kernel, stride, padding, out_hw),
                                  rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("step_on_device", [False, True], ids=["host-step", "device-step"])
def test_emulated_adam_update(emulated_gpu, dtype, weight_decay, step_on_device):
    """adam_update (bias corrections from the host) and adam_update_counted (the step read
    from device memory, for CUDA graphs) against the CPU kernel."""
    from minigan.kernels import cpu
    rng = numpy.random.default_rng(1)
    start = [rng.standard_normal((37, 29)).astype(dtype), numpy.zeros((37, 29), dtype),
             numpy.zeros((37, 29), dtype)]  # param, exp_avg, exp_avg_sq
    states = [[a.copy() for a in start] for _ in range(2)]
    for step in range(1, 4):
        grad = rng.standard_normal((37, 29)).astype(dtype)
        device_step = numpy.array(step, dtype=numpy.int64) if step_on_device else step
        for kernels, state in zip((emulated_gpu, cpu), states):
            kernels.adam_update(state[0], grad, state[1], state[2], device_step if kernels is emulated_gpu
                                else step, 2e-4, 0.5, 0.999, 1e-8, weight_decay)
    for got, expected in zip(*states):
        numpy.testing.assert_allclose(got, expected, rtol=1e-6 if dtype == numpy.float32 else 1e-13)


def leaky(v, slope):
    return numpy.where(v > 0, v, v * v.dtype.type(slope))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("slope", [0.0, 0.2])
@pytest.mark.parametrize("shape", [(3, 4, 13, 11), (37, 5)])
def test_emulated_bias_leaky_relu(emulated_gpu, dtype, slope, shape):
    rng = numpy.random.default_rng(2)
    x = rng.standard_normal(shape).astype(dtype)
    bias = rng.standard_normal(shape[1]).astype(dtype)
    per_channel = bias.reshape(1, -1, *[1] * (len(shape) - 2))
    y = emulated_gpu.bias_leaky_relu(x, bias, slope)
    numpy.testing.assert_array_equal(y, leaky(x + per_channel, slope))
    numpy.testing.assert_array_equal(emulated_gpu.bias_leaky_relu(x, None, slope), leaky(x, slope))
    grad = rng.standard_normal(shape).astype(dtype)
    expected = numpy.where(x + per_channel > 0, grad, grad * dtype(slope))
    numpy.testing.assert_array_equal(emulated_gpu.bias_leaky_relu_backward(grad, y, slope), expected)
    grad_x, grad_bias = emulated_gpu.bias_leaky_relu_backward(grad, y, slope, bias_grad=True)
    numpy.testing.assert_array_equal(grad_x, expected)
    axes = (0,) + tuple(range(2, len(shape)))
    numpy.testing.assert_allclose(grad_bias, expected.astype(numpy.float64).sum(axis=axes), rtol=1e-6)
    with pytest.raises(ValueError, match="negative_slope"):
        emulated_gpu.bias_leaky_relu_backward(grad, y, -0.1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_emulated_sigmoid_and_bce_with_logits(emulated_gpu, dtype):
    rng = numpy.random.default_rng(3)
    x = numpy.concatenate([rng.standard_normal(600) * 4, [-800, -100, -20, 0, 20, 100, 800]]).astype(dtype)
    t = rng.uniform(size=x.shape).astype(dtype)
    x64, t64 = x.astype(numpy.float64), t.astype(numpy.float64)
    with numpy.errstate(over="ignore"):  # exp(800) is inf in float64 too: 1 / (1 + inf) = 0, right
        sigmoid = 1 / (1 + numpy.exp(-x64))
        expected = numpy.log(1 + numpy.exp(x64)) - x64 * t64
    expected = numpy.where(numpy.isinf(expected), x64 * (1 - t64), expected)  # softplus(x) = x, large x
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == numpy.float32 else dict(rtol=1e-12, atol=1e-14)
    y = emulated_gpu.sigmoid(x)
    assert y.dtype == dtype
    numpy.testing.assert_allclose(y, sigmoid, **tol)
    terms = emulated_gpu.bce_with_logits_terms(x, t)
    assert numpy.isfinite(terms).all()
    numpy.testing.assert_allclose(terms, expected, **tol)
    grad = numpy.asarray(0.5, dtype=dtype)
    numpy.testing.assert_allclose(emulated_gpu.bce_with_logits_backward(x, t, grad, x.size),
                                  0.5 * (sigmoid - t64) / x.size, **tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(8, 3, 9, 7), (50, 6)])
def test_emulated_batch_norm(emulated_gpu, dtype, shape):
    rng = numpy.random.default_rng(4)
    axes = (0,) + tuple(range(2, len(shape)))
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == numpy.float32 else dict(rtol=1e-11, atol=1e-11)
    # A large mean: one-pass sums of squares would cancel here without the shift.
    x = (rng.standard_normal(shape) * 0.5 + 1000).astype(dtype)
    mean, var = emulated_gpu.batch_norm_stats(x)
    x64 = x.astype(numpy.float64)
    numpy.testing.assert_allclose(mean, x64.mean(axis=axes), rtol=1e-6 if dtype == numpy.float32 else 1e-14)
    numpy.testing.assert_allclose(var, x64.var(axis=axes), rtol=1e-5 if dtype == numpy.float32 else 1e-10)

    c = shape[1]
    per_channel = (1, c) + (1,) * (len(shape) - 2)
    inv_std = (1 / numpy.sqrt(var + dtype(1e-5))).astype(dtype)
    weight, bias = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)
    y, x_hat = emulated_gpu.batch_norm_forward_apply(x, mean, inv_std, weight, bias)
    expected_x_hat = (x - mean.reshape(per_channel)) * inv_std.reshape(per_channel)
    numpy.testing.assert_allclose(x_hat, expected_x_hat, **tol)
    numpy.testing.assert_allclose(y, expected_x_hat * weight.reshape(per_channel) + bias.reshape(per_channel),
                                  **tol)
    y_plain, _ = emulated_gpu.batch_norm_forward_apply(x, mean, inv_std)
    numpy.testing.assert_allclose(y_plain, expected_x_hat, **tol)

    grad_y = rng.standard_normal(shape).astype(dtype)
    sum_dy, sum_dy_xhat = emulated_gpu.batch_norm_backward_reductions(grad_y, x_hat)
    numpy.testing.assert_allclose(sum_dy, grad_y.astype(numpy.float64).sum(axis=axes), **tol)
    numpy.testing.assert_allclose(sum_dy_xhat, (grad_y.astype(numpy.float64) * x_hat).sum(axis=axes), **tol)
    count = x.size // c
    scale = weight * inv_std
    grad_x = emulated_gpu.batch_norm_backward_apply(grad_y, x_hat, scale, sum_dy / count, sum_dy_xhat / count)
    expected = scale.reshape(per_channel) * (grad_y - (sum_dy / count).reshape(per_channel)
                                             - x_hat * (sum_dy_xhat / count).reshape(per_channel))
    numpy.testing.assert_allclose(grad_x, expected, **tol)


def test_emulator_runs_3d_grids_and_blocks(tmp_path):
    """The emulator's own indexing: every (block, thread) of a 3-D launch runs exactly once."""
    if shutil.which("g++") is None:
        pytest.skip("g++ is not on PATH (needed to run the CUDA sources on the CPU)")
    code = r'''
extern "C" __global__ void tag(int* out) {
    const int block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    const int thread = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    out[block * blockDim.x * blockDim.y * blockDim.z + thread] += block * 1000 + thread;
}'''
    kernel = cuda_emulator.EmulatedModule(code, tmp_path, []).get_function("tag")
    grid, block = (3, 2, 2), (4, 3, 2)
    out = numpy.zeros(12 * 24, dtype=numpy.int32)
    kernel(grid, block, (out,))
    expected = numpy.add.outer(numpy.arange(12) * 1000, numpy.arange(24)).ravel()
    numpy.testing.assert_array_equal(out, expected)
