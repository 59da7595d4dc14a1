"""The Numba decorators of the CPU kernels: parallel (or serial), cached on disk where a cache can be written.

Numba caches compiled kernels beside the source (kernels/__pycache__), else in
the user's cache directory, or in NUMBA_CACHE_DIR when that is set. If none of
them can be written (a read-only site-packages and home, as in some
containers), `cache=True` would make the import itself fail; the kernels are
then compiled without a cache (a few seconds more per process) and a warning
says how to get one back.
"""
import os
import tempfile
import types
import warnings
from pathlib import Path

import numba
from numba.misc.appdirs import AppDirs

# Numba's default OpenMP pool keeps its threads spinning between parallel
# regions, where they fight the BLAS pool (and torch's) for the cores: on a
# 2-core machine a DCGAN step at 2 threads took ~4x longer than with Numba's
# own workqueue pool, whose threads sleep. NUMBA_THREADING_LAYER overrides
# this. (workqueue does not allow two Python threads to launch parallel
# kernels at once.) The layer is picked at the first parallel launch.
# (GNU OpenMP told to sleep, OMP_WAIT_POLICY=PASSIVE, launches faster, but that policy is
# process-wide, and torch's CPU wheel loads the same libgomp.so.1: it would slow torch.)
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"


def _writable(directory):
    try:
        os.makedirs(directory, exist_ok=True)
        tempfile.TemporaryFile(dir=directory).close()
        return True
    except OSError:
        return False


def _cache_directories():
    """Where Numba would write this package's cache, in its own order of preference."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return [os.environ["NUMBA_CACHE_DIR"]]
    return [Path(__file__).with_name("__pycache__"), AppDirs(appname="numba", appauthor=False).user_cache_dir]


CACHE = any(_writable(d) for d in _cache_directories())
if not CACHE:
    # One line: warn_explicit at line 0 has no source line for Python to echo below it.
    directories = ", ".join(map(str, _cache_directories()))
    warnings.warn_explicit(f"minigan: no writable Numba cache directory ({directories}); the CPU kernels are "
                           f"compiled anew in each process. Set NUMBA_CACHE_DIR to a writable directory to "
                           f"cache them.", RuntimeWarning, __file__, 0, module=__name__)


def jit(function=None, *, reassociate=False):
    """A Kernel (numba.njit(parallel=True), and serial at one thread), cached where possible: the
    decorator of every CPU kernel.

    jit(reassociate=True) lets LLVM reorder the sums of a reduction loop into SIMD lanes
    (fastmath 'reassoc'): the order is then fixed by the compiled code instead of the
    source, still the same for any thread count, and the loop runs ~10x faster."""
    if function is None:
        return lambda f: jit(f, reassociate=reassociate)
    return Kernel(function, {"reassoc"} if reassociate else False)


class Kernel:
    """A CPU kernel: Numba's parallel compile of a function, and its serial compile (made on
    first use) for when Numba has one thread. A parallel launch hands the loop to a pool thread
    and waits for it, even with one thread: on this project's 2-core VM each launch costs
    ~100-150 us of handoffs, ~75 launches per DCGAN step, which the serial compile, run by
    the caller, does not pay (a 1-thread DCGAN step 3-4% faster)."""

    def __init__(self, function, fastmath):
        self.py_func, self._fastmath = function, fastmath
        self.parallel = numba.njit(parallel=True, cache=CACHE, fastmath=fastmath)(function)
        self._serial = None

    def __call__(self, *args):
        return (self.serial if numba.get_num_threads() == 1 else self.parallel)(*args)

    @property
    def serial(self):
        if self._serial is None:
            # A twin of its own name: Numba's cache keys a function by name, not by its options.
            twin = types.FunctionType(self.py_func.__code__, self.py_func.__globals__,
                                      self.py_func.__name__ + "_serial", self.py_func.__defaults__,
                                      self.py_func.__closure__)
            twin.__qualname__ = self.py_func.__qualname__ + "_serial"
            self._serial = numba.njit(cache=CACHE, fastmath=self._fastmath)(twin)
        return self._serial


def jit_serial(function):
    """numba.njit, cached where possible, on one thread: for kernels whose work per call (a loss over a
    batch) costs less than waking the parallel pool, which takes tens of microseconds, and far
    more on a busy machine."""
    return numba.njit(cache=CACHE)(function)
