"""Shared fixtures: one `xp` fixture for both backends, tensor factories, and the torch oracle.

Every test that takes `xp` runs twice: on NumPy (CPU) and on CuPy (GPU). The
CuPy run carries the `gpu` marker (deselect with `-m "not gpu"`) and skips,
saying why, where CuPy or an NVIDIA GPU is absent.
"""
import shutil
from pathlib import Path

import numpy
import pytest

import cuda_emulator
from minigan import Tensor, backend

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


def away_from_zero(rng, shape, low=0.1, high=2.0):
    """Values with |v| in [low, high) and random signs: no ReLU/LeakyReLU kink within reach."""
    magnitude = rng.uniform(low, high, size=shape)
    return magnitude * rng.choice([-1.0, 1.0], size=shape)


@pytest.fixture
def nonzero():
    """away_from_zero(rng, shape, low, high): inputs kept away from the activation kinks at 0."""
    return away_from_zero


@pytest.fixture(scope="session")
def fake_cupy(tmp_path_factory):
    """The CuPy that kernels/gpu.py sees under the CUDA emulator (tests/cuda_emulator.py)."""
    if shutil.which("g++") is None:
        pytest.skip("g++ is not on PATH (needed to run the CUDA sources on the CPU)")
    # The options kernels/gpu.py must pass: C++14, and kernels/cuda for the headers.
    options = ("--std=c++14", "-I" + str(Path(__file__).resolve().parents[1] / "kernels" / "cuda"))
    return cuda_emulator.FakeCupy(tmp_path_factory.mktemp("cuda_emulator"), options)


@pytest.fixture
def emulated_gpu(fake_cupy, monkeypatch):
    """kernels/gpu.py on the emulator, one block per SM so grid-stride loops wrap."""
    from minigan.kernels import gpu as module

    caches = (module._cupy, module._module, module._function, module._max_blocks)

    def clear():
        for cached in caches:
            cached.cache_clear()

    clear()
    monkeypatch.setattr(module, "_cupy", lambda: fake_cupy)
    monkeypatch.setattr(module, "BLOCKS_PER_SM", 1)
    yield module
    clear()  # no fake module may stay cached for a real GPU
