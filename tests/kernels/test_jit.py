"""kernels/_jit.Kernel: every CPU kernel's parallel compile, and the serial one it runs at one thread."""
import numba
import numpy
import pytest

from minigan.kernels import _jit, convolution


@pytest.fixture
def numba_threads():
    """numba.set_num_threads for the test, the count restored after it."""
    before = numba.get_num_threads()
    yield numba.set_num_threads
    numba.set_num_threads(before)


def test_one_thread_runs_the_serial_compile_two_the_parallel_one(rng, numba_threads, monkeypatch):
    # A fresh Kernel of im2col's loop in im2col_cpu: its dispatchers have compiled nothing yet,
    # so what each call compiles (or loads from the cache) shows which one ran.
    kernel = _jit.Kernel(convolution._im2col.py_func, False)
    monkeypatch.setattr(convolution, "_im2col", kernel)
    x = rng.standard_normal((3, 9, 7, 5)).astype(numpy.float32)
    arguments = (x, 4, 4, (2, 2), (1, 1), (4, 3))
    numba_threads(1)
    serial = convolution.im2col_cpu(*arguments)
    assert kernel.serial.signatures and not kernel.parallel.signatures
    if numba.config.NUMBA_NUM_THREADS < 2:  # Numba's pool has one thread per core by default
        pytest.skip("the parallel compile runs only with 2 threads or more: this machine gives Numba one")
    numba_threads(2)
    parallel = convolution.im2col_cpu(*arguments)
    assert kernel.parallel.signatures
    numpy.testing.assert_array_equal(parallel, serial)  # the same bits either way
    numpy.testing.assert_array_equal(serial, convolution.im2col_reference(*arguments))


def test_the_serial_compile_is_a_twin_of_its_own_name():
    # Numba's on-disk cache keys a function by its name, not by its options: a serial compile of
    # the very same function would load the parallel one from the cache (numba issue 6845).
    kernel = _jit.Kernel(convolution._col2im.py_func, False)
    assert kernel.parallel.targetoptions.get("parallel")
    assert not kernel.serial.targetoptions.get("parallel")
    assert kernel.serial.py_func.__qualname__ != kernel.parallel.py_func.__qualname__
    assert kernel.serial.py_func.__code__ is kernel.parallel.py_func.__code__
