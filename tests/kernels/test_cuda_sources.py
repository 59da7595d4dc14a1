"""The CUDA sources, checked without a GPU.

Every kernels/cuda/*.cu compiles with nvcc for sm_90, with every template kernel a
family launches instantiated, and every kernel a family declares (its _cuda.Source) is
defined in the file it names, as a template or an `extern "C"` kernel as declared; every
kernel a source defines is declared. So a syntax error or a misspelt kernel name fails
on CPU-only CI. Shared device helpers live in kernels/cuda/*.cuh headers (no kernels
there), which every loader finds: nvcc next to the .cu, NVRTC and the emulator by -I.
The kernels themselves run under the emulator in the family tests (test_<family>.py).
"""
import re
import shutil
import subprocess

import numpy
import pytest

from support import cuda_emulator
from minigan.kernels import _cuda, table

CUDA_DIR = _cuda.CUDA_DIR
SOURCES = sorted(CUDA_DIR.glob("*.cu"))
HEADERS = sorted(CUDA_DIR.glob("*.cuh"))
INCLUDE = "-I" + str(CUDA_DIR)  # as kernels/_cuda.py passes it to CuPy
DECLARED = {source.file: source for source in _cuda.SOURCES}  # every family module is imported by table

PTX_ENTRY = re.compile(r"\.entry\s+(\w+)\s*\(")
LOCAL_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def code(path):
    return path.read_text()


def test_every_source_is_declared_once():
    assert table.FAMILIES and SOURCES, f"no families or no .cu files in {CUDA_DIR}"
    assert len(DECLARED) == len(_cuda.SOURCES), "two families declare one .cu file"
    assert sorted(DECLARED) == [s.name for s in SOURCES], "declared sources and kernels/cuda/*.cu differ"


def test_local_includes_are_kernel_free_headers():
    """Every #include "..." names a .cuh in kernels/cuda that defines no kernel, so the
    kernel-name checks below, which read only the .cu files, see every kernel."""
    for source in SOURCES + HEADERS:
        for name in LOCAL_INCLUDE.findall(cuda_emulator.strip_comments(code(source))):
            assert name.endswith(".cuh") and (CUDA_DIR / name).is_file(), \
                f"{source.name} includes {name!r}: not a header in {CUDA_DIR}"
    for header in HEADERS:
        text = code(header)
        assert not cuda_emulator.defined_kernels(text) | cuda_emulator.defined_templates(text), \
            f"{header.name} defines kernels; keep them in .cu files"


@pytest.mark.parametrize("file", sorted(DECLARED))
def test_declared_kernels_are_the_defined_ones(file):
    source, text = DECLARED[file], code(CUDA_DIR / file)
    assert set(source.templates) == cuda_emulator.defined_templates(text), \
        f"{file}: declared templates {source.templates}, defined {cuda_emulator.defined_templates(text)}"
    assert set(source.plain) == cuda_emulator.defined_kernels(text), \
        f"{file}: declared plain kernels {source.plain}, defined {cuda_emulator.defined_kernels(text)}"


@pytest.mark.parametrize("file", sorted(DECLARED))
def test_nvcc_compiles(file, tmp_path):
    """nvcc compiles the source with every name expression instantiated; the PTX entry points, demangled, are then exactly the declared kernels: the
    ground truth for the regexes the other tests use."""
    demangler = shutil.which("cu++filt") or shutil.which("c++filt")  # CUDA's, or binutils'
    if shutil.which("nvcc") is None or demangler is None:
        pytest.skip("nvcc, or cu++filt and c++filt, are not on PATH")
    source = DECLARED[file]
    # Taking a template kernel's address instantiates it, as NVRTC does for a name expression.
    wrapper = tmp_path / f"instantiate_{file}"
    addresses = ", ".join(f"(void*)&{expression}" for expression in source.name_expressions)
    wrapper.write_text(f'#include "{CUDA_DIR / file}"\nvoid* const instantiated[] = {{{addresses}}};\n')
    ptx = tmp_path / "instantiated.ptx"
    result = subprocess.run(["nvcc", "--ptx", "-arch=sm_90", INCLUDE, "-o", str(ptx), str(wrapper)],
                            capture_output=True, text=True)
    assert result.returncode == 0, f"nvcc failed instantiating {file}:\n{result.stdout}{result.stderr}"
    entries = PTX_ENTRY.findall(ptx.read_text())
    demangled = subprocess.run([demangler, *entries], capture_output=True, text=True).stdout.split("\n")
    names = {d.split("(")[0].removeprefix("void ") for d in demangled if d}
    assert names == set(source.plain) | set(source.name_expressions)


@pytest.mark.parametrize("file", sorted(DECLARED))
def test_nvrtc_compiles(file):
    """The same source through NVRTC with its name expressions, as cupy.RawModule compiles it
    (needs CuPy and NVRTC, no GPU)."""
    try:
        from cupy_backends.cuda.libs import nvrtc
        nvrtc.getVersion()
    except Exception as error:  # no CuPy, or no NVRTC library
        pytest.skip(f"NVRTC is not available: {error}")
    program = nvrtc.createProgram(code(CUDA_DIR / file), file, (), ())
    try:
        for expression in DECLARED[file].name_expressions:
            nvrtc.addNameExpression(program, expression)
        nvrtc.compileProgram(program, ["--std=c++14", INCLUDE, "-arch=compute_90", "-ftz=true"])
        for expression in DECLARED[file].name_expressions:
            assert nvrtc.getLoweredName(program, expression)
    except Exception as error:
        pytest.fail(f"NVRTC failed on {file}: {error}\n{nvrtc.getProgramLog(program)}")
    finally:
        nvrtc.destroyProgram(program)


def test_undeclared_kernels_are_refused():
    with pytest.raises(AssertionError, match="not a declared template kernel"):
        DECLARED["activation.cu"].kernel("bias_leaky_relu", numpy.float32)
    with pytest.raises(AssertionError, match="not a declared plain kernel"):
        DECLARED["philox.cu"].kernel("philox_normal")


def test_unsupported_dtype_is_a_type_error():
    with pytest.raises(TypeError, match="float32 or float64"):
        table.cuda.im2col(numpy.zeros((1, 1, 3, 3), dtype=numpy.int64), 2, 2, (1, 1), (0, 0), (2, 2))
    with pytest.raises(TypeError, match="float32 or float64"):
        table.cuda.batch_norm_stats(numpy.zeros((2, 9), dtype=numpy.float16), 1e-5)


def test_reduce_threads_matches_block():
    found = 0
    for source in SOURCES + HEADERS:
        for value in re.findall(r"#define\s+REDUCE_THREADS\s+(\d+)", code(source)):
            found += 1
            assert int(value) == _cuda.BLOCK, f"{source.name}: REDUCE_THREADS {value} != _cuda.BLOCK"
    assert found, "REDUCE_THREADS is defined nowhere in kernels/cuda"


def test_emulator_runs_3d_grids_and_blocks(tmp_path):
    """The emulator's own indexing: every (block, thread) of a 3-D launch runs exactly once."""
    if shutil.which("g++") is None:
        pytest.skip("g++ is not on PATH (needed to run the CUDA sources on the CPU)")
    source = r'''
extern "C" __global__ void tag(int* out) {
    const int block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    const int thread = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    out[block * blockDim.x * blockDim.y * blockDim.z + thread] += block * 1000 + thread;
}'''
    kernel = cuda_emulator.EmulatedModule(source, tmp_path, []).get_function("tag")
    grid, block = (3, 2, 2), (4, 3, 2)
    out = numpy.zeros(12 * 24, dtype=numpy.int32)
    kernel(grid, block, (out,))
    expected = numpy.add.outer(numpy.arange(12) * 1000, numpy.arange(24)).ravel()
    numpy.testing.assert_array_equal(out, expected)


def test_emulator_instantiates_name_expressions(tmp_path):
    """As CuPy's RawModule: a template kernel by its name expression, next to extern "C" ones."""
    if shutil.which("g++") is None:
        pytest.skip("g++ is not on PATH (needed to run the CUDA sources on the CPU)")
    source = r'''
template <typename T> __global__ void fill(T* out, T value) { out[threadIdx.x] = value; }
extern "C" __global__ void count(int* out) { out[threadIdx.x] = threadIdx.x; }'''
    module = cuda_emulator.EmulatedModule(source, tmp_path, [], ("fill<float>", "fill<double>"))
    for dtype, expression in ((numpy.float32, "fill<float>"), (numpy.float64, "fill<double>")):
        out = numpy.zeros(4, dtype)
        module.get_function(expression)((1,), (4,), (out, dtype(2.5)))
        numpy.testing.assert_array_equal(out, numpy.full(4, 2.5))
    with pytest.raises(AssertionError, match="argument 0 is Pf8, the kernel takes Pf4"):
        module.get_function("fill<float>")((1,), (4,), (numpy.zeros(4), numpy.float64(1)))
    out = numpy.zeros(3, numpy.int32)
    module.get_function("count")((1,), (3,), (out,))
    numpy.testing.assert_array_equal(out, [0, 1, 2])
