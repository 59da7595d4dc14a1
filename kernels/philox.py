"""Counter-based random normals: Philox4x64-10 words through Box-Muller, the same stream on both backends.

The generator state is a uint64 array of 6, [key0, key1, counter0..counter3],
made on the host for both backends. The raw words are
numpy.random.Philox(key=state[:2], counter=state[2:])'s; kernels/cuda/philox.cu
documents the normals' formula. A draw of n values consumes ceil(n / 4) Philox
blocks and advances the counter by as many (with carry). The NumPy code below
is the CPU kernel and the reference the CUDA kernels are tested against.
"""
from typing import Protocol

import numpy

from . import _cuda

VALUES_PER_PHILOX_BLOCK = 4  # normals per Philox4x64 block: two Box-Muller pairs
TWO_PI = 6.283185307179586  # 2*pi rounded to double, as in kernels/cuda/philox.cu


class Contract(Protocol):
    def random_state(self, seed):
        """A new generator state on this backend: the key numpy.random.Philox(seed) derives from
        seed (through numpy.random.SeedSequence), counter 0, so the raw stream is Philox(seed)'s."""

    def random_normal(self, state, shape, dtype):
        """A new array of shape of standard normals in dtype, advancing state (a C-contiguous
        uint64 array of 6 from random_state) in place. On the GPU two launches that read the
        state only on the device, so a CUDA graph can capture them; the values equal the CPU's
        to within a few ulps (the math libraries differ)."""


def check_state(op, state, array_type):
    if not (isinstance(state, array_type) and state.dtype == numpy.uint64 and tuple(state.shape) == (6,)
            and state.flags.c_contiguous):
        raise ValueError(f"minigan.kernels.{op}: state must be a C-contiguous uint64 array of 6 from "
                         f"random_state, got {type(state).__name__} {getattr(state, 'dtype', '')} "
                         f"{tuple(getattr(state, 'shape', ()))}")


def blocks_for(size):
    return -(-size // VALUES_PER_PHILOX_BLOCK)


# ---------- CPU: NumPy's Philox and the Box-Muller formula, in float64, rounded once ----------

def random_state_cpu(seed):
    return numpy.concatenate([numpy.random.Philox(seed).state["state"]["key"], numpy.zeros(4, numpy.uint64)])


def draw_words(state, blocks):
    """The 4 * blocks uint64 words of the state's next blocks, advancing its counter in place by blocks."""
    philox = numpy.random.Philox(key=state[:2], counter=state[2:])
    words = philox.random_raw(VALUES_PER_PHILOX_BLOCK * blocks)
    state[2:] = philox.state["state"]["counter"]  # NumPy's counter after whole blocks: c + blocks
    return words


def random_normal_cpu(state, shape, dtype):
    dtype = _cuda.check_dtype("random_normal", dtype)
    check_state("random_normal", state, numpy.ndarray)
    out = numpy.empty(shape, dtype)
    blocks = blocks_for(out.size)
    if blocks:
        words = draw_words(state, blocks)
        uniform = ((words >> 11) + 1).astype(numpy.float64) * 2.0 ** -53  # (0, 1], top 53 bits
        radius = numpy.sqrt(-2.0 * numpy.log(uniform[0::2]))
        angle = TWO_PI * uniform[1::2]
        normals = numpy.empty(words.size)
        normals[0::2] = radius * numpy.cos(angle)
        normals[1::2] = radius * numpy.sin(angle)
        out.ravel()[:] = normals[:out.size]
    return out


# ---------- CUDA: kernels/cuda/philox.cu ----------

SOURCE = _cuda.Source("philox.cu", templates=("philox_normal",), plain=("philox_advance",))


def random_state_cuda(seed):
    return _cuda.get_cupy().asarray(random_state_cpu(seed))


def random_normal_cuda(state, shape, dtype):
    dtype = _cuda.check_dtype("random_normal", dtype)
    cp = _cuda.get_cupy()
    check_state("random_normal", state, cp.ndarray)
    out = cp.empty(shape, dtype=dtype)
    blocks = blocks_for(out.size)
    if blocks:
        SOURCE.launch("philox_normal", dtype, blocks, (state, out, numpy.int64(out.size)))
        SOURCE.kernel("philox_advance")((1,), (1,), (state, numpy.uint64(blocks)))
    return out
