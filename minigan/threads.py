"""The CPU thread count, as torch.set_num_threads / get_num_threads set it for torch.

minigan's CPU work runs in two thread pools: Numba's (im2col, col2im, batchnorm, the
activations, Adam) and the BLAS under NumPy (every GEMM). One call sets both, so that a
script written for torch gets the same thread budget on minigan.
"""
import numba
from threadpoolctl import threadpool_limits


def set_num_threads(n):
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))  # Numba cannot exceed its launch size
    threadpool_limits(limits=n, user_api="blas")


def get_num_threads():
    return numba.get_num_threads()
