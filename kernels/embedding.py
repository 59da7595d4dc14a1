"""The embedding's backward: the gradient rows summed into the weight rows they were gathered
from (a scatter-add), deterministic on both backends and without atomics.

The positions are sorted by (index, position), so each weight row's positions form one run in
position order; a row sums its run from 0 in that order (numpy.add.at's order), so the
reference, the Numba kernel and the CUDA kernel agree to the bit. The forward, weight[indices],
is a plain gather and needs no kernel.
"""
from typing import Protocol

import numba
import numpy

from . import _cuda
from ._jit import jit


class Contract(Protocol):
    def embedding_backward(self, grad, indices, num_embeddings, padding_idx=-1):
        """grad_weight (num_embeddings, D) in grad's dtype: row v sums the rows of grad (n, D) at the
        positions where indices (n,), int64 in [0, num_embeddings), equals v, in position order;
        rows never indexed, and row padding_idx (-1: none), are 0."""


def _runs(xp, indices):
    """(order, sorted indices): the positions sorted by (index, position). The keys are unique,
    so any sort gives this order."""
    n = indices.shape[0]
    order = xp.argsort(indices.astype(xp.int64) * n + xp.arange(n))
    return order, indices[order].astype(xp.int64)


# ---------- the plain NumPy reference ----------

def embedding_backward_reference(grad, indices, num_embeddings, padding_idx=-1):
    grad_weight = numpy.zeros((num_embeddings, grad.shape[1]), dtype=grad.dtype)
    numpy.add.at(grad_weight, indices, grad)  # in position order
    if padding_idx >= 0:
        grad_weight[padding_idx] = 0
    return grad_weight


# ---------- Numba: one thread per run (weight row), so no two threads write one row ----------

@jit
def _sum_runs(grad, order, sorted_indices, starts, padding_idx, grad_weight):
    for r in numba.prange(starts.size - 1):
        v = sorted_indices[starts[r]]
        if v == padding_idx:
            continue
        for j in range(starts[r], starts[r + 1]):
            grad_weight[v] += grad[order[j]]


def embedding_backward_cpu(grad, indices, num_embeddings, padding_idx=-1):
    grad_weight = numpy.zeros((num_embeddings, grad.shape[1]), dtype=grad.dtype)
    if indices.size:
        order, sorted_indices = _runs(numpy, indices)
        starts = numpy.flatnonzero(numpy.diff(sorted_indices, prepend=-1, append=num_embeddings + 1))
        _sum_runs(numpy.ascontiguousarray(grad), order, sorted_indices, starts, padding_idx, grad_weight)
    return grad_weight


# ---------- CUDA: kernels/cuda/embedding.cu, one thread per (sorted position, column) ----------

SOURCE = _cuda.Source("embedding.cu", templates=("embedding_backward",))


def embedding_backward_cuda(grad, indices, num_embeddings, padding_idx=-1):
    grad, = _cuda.contiguous("embedding_backward", grad)
    cp = _cuda.get_cupy()
    grad_weight = cp.zeros((num_embeddings, grad.shape[1]), dtype=grad.dtype)
    if indices.size:
        order, sorted_indices = _runs(cp, indices)
        SOURCE.launch("embedding_backward", grad.dtype, grad.size,
                      (grad, order, sorted_indices, grad_weight, numpy.int64(indices.size),
                       numpy.int64(grad.shape[1]), numpy.int64(padding_idx)))
    return grad_weight
