"""The cupy backend against the numpy backend, one test per case, dtype and matmul engine.

Both backends get the same inputs and the same random upstream gradient; the output, every
input's gradient and every state updated in place agree to a relative error of 1e-10 in float64
and 1e-5 in float32 (relative to the largest magnitude of the NumPy value). `device_xp` runs
this on the emulated GPU (the CUDA sources under tests/support/cuda_emulator.py) and on real
CuPy where there is a GPU. Ops whose products go through kernels.matmul run once more on
minigan's own GEMM (kernels/cuda/gemm.cu) instead of cuBLAS.
"""
import contextlib

import numpy
import pytest

from support.device_reads import is_emulated
from minigan.config import using_config
from minigan.kernels.gemm import EXACT

from .opspec import DEVICE, assert_same_run, params, run_minigan, upstream_gradients
from .specs import OPS

CASES = [pytest.param(*p.values, engine, id=f"{p.id}-{engine}")
         for p in params(OPS, DEVICE) for engine in p.values[0].op.matmul]


@contextlib.contextmanager
def matmul_engine(xp, engine, dtype):
    """The GPU's products on engine within the block; on the emulator, the own GEMM must run."""
    if engine == "cublas":
        yield
        return
    emulated = is_emulated(xp)
    launches = EXACT.kernel("gemm", dtype).launches if emulated else None
    with using_config("matmul", engine):
        yield
    if emulated:
        assert EXACT.kernel("gemm", dtype).launches > launches, "the own GEMM ran"


@pytest.mark.parametrize("case, dtype, engine", CASES)
def test_device_matches_numpy(device_xp, rng, case, dtype, engine):
    arrays = case.draw(rng)
    upstream = upstream_gradients(rng, dtype)
    expected = run_minigan(case, arrays, numpy, dtype, upstream)
    with matmul_engine(device_xp, engine, dtype):
        actual = run_minigan(case, arrays, device_xp, dtype, upstream)
    assert_same_run(actual, expected, case.op.tolerance(DEVICE, dtype))
