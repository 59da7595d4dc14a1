"""The embedding backward on every backend against numpy.add.at, bit for bit.

numpy.add.at adds in position order, the order the kernels document; repeated indices (many
positions per row) and rows never indexed are both present in every case.
"""
import numpy
import pytest

from minigan.kernels import embedding


def expected(grad, indices, rows, padding_idx):
    out = numpy.zeros((rows, grad.shape[1]), grad.dtype)
    for position, v in enumerate(indices):  # a loop, in position order: the documented sums
        if v != padding_idx:
            out[v] += grad[position]
    return out


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
@pytest.mark.parametrize("n, rows, dim, padding_idx", [(50, 7, 3, -1), (300, 40, 5, 2), (1, 4, 2, -1),
                                                        (64, 3, 1, 0), (9, 1000, 4, -1)])
def test_rows_sum_their_positions_in_order(kernel_backend, rng, dtype, n, rows, dim, padding_idx):
    grad = rng.standard_normal((n, dim)).astype(dtype)
    indices = rng.integers(0, min(rows, max(n // 3, 2)), size=n)  # repeats, and rows never indexed
    got = kernel_backend.get(kernel_backend.table.embedding_backward(
        kernel_backend.put(grad), kernel_backend.put(indices), rows, padding_idx))
    assert got.dtype == dtype and got.shape == (rows, dim)
    numpy.testing.assert_array_equal(got, expected(grad, indices, rows, padding_idx))
    numpy.testing.assert_array_equal(embedding.embedding_backward_reference(grad, indices, rows, padding_idx), got)


def test_no_indices_give_zeros(kernel_backend):
    got = kernel_backend.table.embedding_backward(kernel_backend.put(numpy.zeros((0, 3))),
                                                  kernel_backend.put(numpy.zeros(0, numpy.int64)), 5)
    numpy.testing.assert_array_equal(kernel_backend.get(got), numpy.zeros((5, 3)))
