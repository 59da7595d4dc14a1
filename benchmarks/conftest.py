"""pytest-benchmark setup: one thread count for minigan and PyTorch, and the frameworks to run.

    pytest benchmarks/ --benchmark-only [--benchmark-group-by=group]

Threads come from MINIGAN_BENCH_THREADS (default: Numba's default, the core
count). PyTorch is optional: without it the torch cases skip, saying why.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import workloads  # noqa: E402


def pytest_report_header(config):
    import numba
    threads = int(os.environ.get("MINIGAN_BENCH_THREADS", numba.config.NUMBA_NUM_THREADS))
    done = harness.set_threads(threads)
    return [f"minigan benchmarks: {harness.machine_name('numpy', threads)}, threads {done}"]


@pytest.fixture(scope="session")
def frameworks():
    """{'minigan': Minigan, 'torch': Torch or the reason it is missing} on the CPU."""
    found = {"minigan": workloads.Minigan("numpy")}
    try:
        found["torch"] = workloads.Torch("numpy")
    except ImportError as error:
        found["torch"] = str(error)
    return found


@pytest.fixture(params=["minigan", "torch"])
def framework(request, frameworks):
    fw = frameworks[request.param]
    if isinstance(fw, str):
        pytest.skip(fw)
    return fw
