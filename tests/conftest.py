"""Shared fixtures: one `xp` fixture for both backends, tensor factories, and the torch oracle.

Every test that takes `xp` runs twice: on NumPy (CPU) and on CuPy (GPU). The
CuPy run carries the `gpu` marker (deselect with `-m "not gpu"`) and skips,
saying why, where CuPy or an NVIDIA GPU is absent.

`device_xp` is the cupy backend only, twice: emulated on the CPU (the CUDA
sources run by tests/support/cuda_emulator.py, host<->device transfers counted by
tests/support/emulated_device.py), and real CuPy (marked gpu). `emulated_gpu` is
the cuda kernel table alone on the emulator.
"""
import collections
import contextlib
import shutil
import subprocess
from pathlib import Path

import numpy
import pytest

from support import cuda_emulator
from support import emulated_device
from minigan import Tensor, backend

TESTS = Path(__file__).resolve().parent
TORCH_REASON = "PyTorch is the test oracle: pip install torch==2.13.0"


@pytest.fixture(params=[pytest.param("numpy", id="numpy"),
                        pytest.param("cupy", id="cupy", marks=pytest.mark.gpu)])
def xp(request):
    """The array module under test: numpy, or cupy when CuPy and a GPU are there."""
    if request.param == "numpy":
        return numpy
    try:
        return backend.require_cupy()
    except RuntimeError as error:  # require_cupy says what is missing
        pytest.skip(str(error))


@pytest.fixture
def rng(request):
    """A NumPy generator seeded from the test's id, so each test draws its own fixed data."""
    seed = sum(request.node.nodeid.encode()) * 7919 % 2 ** 32
    return numpy.random.default_rng(seed)


@pytest.fixture
def tensor(xp):
    """make(array, requires_grad=False, dtype=None): a minigan Tensor on xp from a NumPy array or list."""
    def make(array, requires_grad=False, dtype=None):
        if dtype is None and not isinstance(array, numpy.ndarray):
            dtype = numpy.float32  # Python numbers and lists: float32, as Tensor() makes them
        array = numpy.asarray(array, dtype=dtype)
        return Tensor(xp.asarray(array), requires_grad=requires_grad)
    return make


@pytest.fixture
def torch():
    """PyTorch, for tests that compare against it; they skip (saying why) where it is absent."""
    return pytest.importorskip("torch", reason=TORCH_REASON)


@pytest.fixture
def one_kernel_thread():
    """Numba's kernels on one thread for the test, which runs their serial compiles
    (kernels/_jit.Kernel). Gradient checks launch them hundreds of times on tiny arrays, where
    waking a thread pool costs more than the work (milliseconds on a busy 2-core machine); the
    parallel launches are tested elsewhere (tests/ops/test_op_parity.py)."""
    numba = pytest.importorskip("numba")
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(previous)


@pytest.fixture(scope="session")
def nvrtc_options():
    """The options kernels/_cuda.py must give NVRTC: C++14, and kernels/cuda for the headers."""
    return ("--std=c++14", "-I" + str(Path(__file__).resolve().parents[1] / "kernels" / "cuda"))


def _need_gxx():
    if shutil.which("g++") is None:
        pytest.skip("g++ is not on PATH (needed to run the CUDA sources on the CPU)")


@pytest.fixture(scope="session")
def fake_cupy(tmp_path_factory, nvrtc_options):
    """The CuPy the CUDA kernels see under the emulator (tests/support/cuda_emulator.py)."""
    _need_gxx()
    return cuda_emulator.FakeCupy(tmp_path_factory.mktemp("cuda_emulator"), nvrtc_options)


@contextlib.contextmanager
def _gpu_kernels_on(cupy_module, monkeypatch):
    """The cuda kernel table launching on cupy_module, one block per SM so grid-stride loops wrap."""
    from minigan.kernels import _cuda, table

    caches = (_cuda.get_cupy, _cuda._module, _cuda._function, _cuda._max_blocks)

    def clear():
        for cached in caches:
            cached.cache_clear()

    clear()
    monkeypatch.setattr(_cuda, "get_cupy", lambda: cupy_module)
    monkeypatch.setattr(_cuda, "BLOCKS_PER_SM", 1)
    try:
        yield table.cuda
    finally:
        clear()  # no fake module may stay cached for a real GPU


@pytest.fixture
def emulated_gpu(fake_cupy, monkeypatch):
    """The cuda kernel table (minigan.kernels.table.cuda) with its kernels run by the CUDA emulator."""
    with _gpu_kernels_on(fake_cupy, monkeypatch) as module:
        yield module


@pytest.fixture(scope="session")
def emulated_cupy_module(fake_cupy):
    return emulated_device.EmulatedCupy(fake_cupy)


@pytest.fixture
def emulated_cupy(emulated_cupy_module, monkeypatch):
    """The cupy backend on the emulated GPU: the whole engine takes its cupy code paths,
    the CUDA kernels run under the emulator, and host<->device transfers
    are counted in emulated_device.transfers (reset here)."""
    monkeypatch.setattr(backend, "cupy", emulated_cupy_module)
    emulated_device.transfers.clear()
    with _gpu_kernels_on(emulated_cupy_module, monkeypatch):
        yield emulated_cupy_module


@pytest.fixture(params=[pytest.param("emulated", id="emulated-cupy"),
                        pytest.param("cupy", id="cupy", marks=pytest.mark.gpu)])
def device_xp(request):
    """The cupy backend twice: on the emulated GPU (see emulated_cupy), and real CuPy on a GPU."""
    if request.param == "emulated":
        return request.getfixturevalue("emulated_cupy")
    try:
        return backend.require_cupy()
    except RuntimeError as error:  # require_cupy says what is missing
        pytest.skip(str(error))


@pytest.fixture
def tmpfs(tmp_path):
    """mount(name, size, *options): a fresh tmpfs at tmp_path/name, unmounted afterwards."""
    mounted = []

    def mount(name, size, *options):
        point = tmp_path / name
        point.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join([f"size={size}", *options]),
                                 "tmpfs", str(point)], capture_output=True, text=True)
        if result.returncode:
            pytest.skip(f"mounting a tmpfs is not permitted here (run as root): {result.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], check=True)


# The fast op checks run first, so that a wrong op fails in seconds; then the rest of
# tests/ops, then everything else, each in its collected order.
FIRST = ("ops/test_op_parity.py", "ops/test_op_gradcheck.py", "ops/test_op_errors.py", "ops/")


def pytest_collection_modifyitems(items):
    def rank(item):
        path = Path(item.path).resolve()
        where = path.relative_to(TESTS).as_posix() if path.is_relative_to(TESTS) else ""
        return next((index for index, prefix in enumerate(FIRST) if where.startswith(prefix)), len(FIRST))
    items.sort(key=rank)


def pytest_terminal_summary(terminalreporter):
    """Skips as one line per reason (hundreds of GPU cases share one), instead of one per test site."""
    reasons = collections.Counter()
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    if reasons:
        terminalreporter.section("skipped, by reason")
        for reason, count in reasons.most_common():
            terminalreporter.line(f"{count:5d}  {reason}")
