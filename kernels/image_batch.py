"""The training batch: uint8 images gathered by index, scaled to [-1, 1] and laid out
batch-innermost, in one pass (on the GPU one launch, where indexing, converting, scaling
and the layout copy take five).

The result is the (C, H, W, B) buffer of minigan/functional/layout.py's batch-innermost
images, so the first convolution reads it as it is. Each value rounds once per step as
NumPy's `x.astype(dtype); x /= 127.5; x -= 1` does: the reference, the Numba and the CUDA
kernel agree to the bit.
"""
import math
from typing import Protocol

import numba
import numpy

from . import _cuda
from ._jit import jit


class Contract(Protocol):
    def image_batch(self, images, indices, dtype):
        """images[indices] / 127.5 - 1 in dtype, as a new (C, H, W, B) array: element (c, h, w, b)
        is pixel (c, h, w) of image indices[b]. images: a C-contiguous uint8 (N, C, H, W) array;
        indices: an int64 (B,) array of the same backend, each in [0, N) (the GPU does not check
        them, which would read the device)."""


def _check(op, images, indices, dtype):
    if images.dtype != numpy.uint8 or images.ndim != 4 or not images.flags.c_contiguous:
        raise ValueError(f"minigan.kernels.{op}: images must be a C-contiguous uint8 (N, C, H, W) array, "
                         f"got {images.dtype} {tuple(images.shape)}")
    if indices.dtype != numpy.int64 or indices.ndim != 1:
        raise ValueError(f"minigan.kernels.{op}: indices must be an int64 (B,) array, got {indices.dtype} "
                         f"{tuple(indices.shape)}")
    return _cuda.check_dtype(op, dtype)


# ---------- the plain NumPy reference ----------

def image_batch_reference(images, indices, dtype):
    x = images[indices].astype(dtype)
    x /= 127.5
    x -= 1
    return numpy.ascontiguousarray(x.transpose(1, 2, 3, 0))


# ---------- CPU: Numba, one thread per pixel ----------

@jit
def _image_batch(images, indices, scale, one, out):
    pixels, batch = out.shape
    for p in numba.prange(pixels):
        for b in range(batch):
            out[p, b] = images[indices[b], p]  # exact: every uint8 is a float
            out[p, b] = out[p, b] / scale - one


def image_batch_cpu(images, indices, dtype):
    dtype = _check("image_batch", images, indices, dtype)
    if indices.size and not (0 <= indices.min() and indices.max() < len(images)):
        raise IndexError(f"minigan.kernels.image_batch: indices must be in [0, {len(images)}), got "
                         f"{indices.min()} .. {indices.max()}")
    pixels = math.prod(images.shape[1:])
    out = numpy.empty((*images.shape[1:], indices.size), dtype)
    _image_batch(images.reshape(len(images), pixels), indices, dtype.type(127.5), dtype.type(1),
                 out.reshape(pixels, indices.size))
    return out


# ---------- CUDA: kernels/cuda/image_batch.cu ----------

SOURCE = _cuda.Source("image_batch.cu", templates=("image_batch",))


def image_batch_cuda(images, indices, dtype):
    op = "image_batch"
    dtype = _check(op, images, indices, dtype)
    pixels = math.prod(images.shape[1:])
    _cuda.check_int(op, pixels=pixels, batch=indices.size)
    cp = _cuda.get_cupy()
    out = cp.empty((*images.shape[1:], indices.size), dtype)
    SOURCE.launch_rows(op, dtype, pixels, indices.size,
                       (images, cp.ascontiguousarray(indices), out, *_cuda.i32(pixels, indices.size)))
    return out
