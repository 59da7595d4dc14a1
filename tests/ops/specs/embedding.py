"""The spec of embedding (the format is in ../opspec.py)."""
import numpy

from ..opspec import DEVICE, PARITY, Op, bad, case, grid, integers


def embedding_inputs(shape, rows=10, dim=4):
    """Indices of shape into a (rows, dim) weight: with 30 positions over 10 rows, rows repeat."""
    return [integers(shape, rows), (rows, dim)]


EMBEDDING = Op(
    "embedding", embedding_inputs,
    grid(shape=[(5, 6), (30,), (2, 3, 4)])
    # padding_idx's row gets no gradient, torch's convention, not the derivative: no gradient check
    + grid(shape=[(5, 6), (2, 3, 4)], padding_idx=[3, -1], checks={PARITY, DEVICE})
    + case(shape=(), rows=5)  # one index: one row
    + case(shape=(64, 12), rows=100, dim=16, checks={DEVICE}),
    errors=[bad("embedding: index 10 is out of range for 10 embeddings (weight (10, 4))",
                numpy.array([[1, 10]]), (10, 4), error=IndexError),
            bad("embedding: index -1 is out of range for 10 embeddings", numpy.array([-1, 2]), (10, 4),
                error=IndexError),
            bad("embedding: input must hold indices (an integer tensor, as int64), got float32 of shape (3,)",
                (3,), (10, 4), error=TypeError),
            bad("embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape (10,)",
                numpy.array([1]), (10,)),
            bad("embedding: padding_idx 10 must be within num_embeddings 10", numpy.array([1]), (10, 4),
                padding_idx=10),
            bad("embedding: max_norm=1.0 is not supported", numpy.array([1]), (10, 4), max_norm=1.0,
                error=NotImplementedError)])

OPS = [EMBEDDING]
