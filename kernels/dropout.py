"""Dropout masks drawn from the Philox stream of kernels/philox.py, the same on both backends.

A mask element k takes word k of the stream (word k % 4 of its block k // 4), as
the uniform u = (w >> 11) * 2^-53 in [0, 1), and is kept when u < 1 - p:
mask = 1 / (1 - p) (rounded to the mask's dtype) where kept, else 0, so that
dropout is x * mask and its backward grad * mask. A mask of n elements consumes
ceil(n / 4) Philox blocks and advances the state's counter by as many; the
masks are bit-identical on the CPU and the GPU for equal states (no float math
differs: the comparison is exact). kernels/cuda/dropout.cu documents the CUDA side.
"""
from typing import Protocol

import numba
import numpy

from . import _cuda, philox
from ._jit import jit

UNIFORM_SCALE = 2.0 ** -53  # a word's top 53 bits times this: a uniform in [0, 1), exactly


class Contract(Protocol):
    def dropout_mask(self, state, shape, p, dtype):
        """A new array of shape in dtype: 1 / (1 - p) for the elements kept (probability 1 - p
        each, independently), 0 for the others; advances state (a uint64 array of 6 from
        random_state) in place by ceil(size / 4) blocks. 0 <= p < 1. On the GPU two launches
        that read the state only on the device, so a CUDA graph can capture them."""


def _check(state, shape, p, dtype, array_type):
    """(dtype, keep probability, kept value, size) after the checks every backend makes."""
    dtype = _cuda.check_dtype("dropout_mask", dtype)
    philox.check_state("dropout_mask", state, array_type)
    if not 0 <= p < 1:
        raise ValueError(f"minigan.kernels.dropout_mask: p must be in [0, 1), got {p}")
    keep = 1.0 - p
    size = 1
    for n in shape:
        size *= n
    return dtype, keep, dtype.type(1.0 / keep), size


# ---------- the plain NumPy reference ----------

def dropout_mask_reference(state, shape, p, dtype):
    dtype, keep, scale, size = _check(state, shape, p, dtype, numpy.ndarray)
    words = philox.draw_words(state, philox.blocks_for(size))[:size]
    uniform = (words >> 11).astype(numpy.float64) * UNIFORM_SCALE
    return numpy.where(uniform < keep, scale, dtype.type(0)).astype(dtype).reshape(shape)


# ---------- CPU: NumPy's Philox words, thresholded by a Numba kernel ----------

@jit
def _threshold(words, keep, scale, zero, mask):
    for k in numba.prange(mask.size):
        mask[k] = scale if numpy.float64(words[k] >> numpy.uint64(11)) * UNIFORM_SCALE < keep else zero


def dropout_mask_cpu(state, shape, p, dtype):
    dtype, keep, scale, size = _check(state, shape, p, dtype, numpy.ndarray)
    mask = numpy.empty(shape, dtype)
    if size:
        words = philox.draw_words(state, philox.blocks_for(size))
        _threshold(words, keep, scale, dtype.type(0), mask.reshape(-1))
    return mask


# ---------- CUDA: kernels/cuda/dropout.cu, then philox.cu's counter advance ----------

SOURCE = _cuda.Source("dropout.cu", templates=("dropout_mask",))


def dropout_mask_cuda(state, shape, p, dtype):
    cp = _cuda.get_cupy()
    dtype, keep, scale, size = _check(state, shape, p, dtype, cp.ndarray)
    mask = cp.empty(shape, dtype=dtype)
    if size:
        blocks = philox.blocks_for(size)
        SOURCE.launch("dropout_mask", dtype, blocks, (state, mask, numpy.int64(size), numpy.float64(keep), scale))
        philox.SOURCE.kernel("philox_advance")((1,), (1,), (state, numpy.uint64(blocks)))
    return mask
