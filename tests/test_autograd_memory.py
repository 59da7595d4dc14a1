"""After backward, the graph holds no arrays: a tensor kept afterwards (a loss, a logit) must not
keep the intermediates below it alive, as PyTorch's graph does not."""
import gc
import weakref

import numpy
import pytest

from minigan import Tensor


def test_a_kept_output_does_not_keep_the_graphs_arrays_alive():
    x = Tensor(numpy.ones((4, 3)), requires_grad=True)
    hidden = x * 2.0
    out = (hidden * hidden).sum()
    hidden_array = weakref.ref(hidden.data)
    del hidden
    out.backward()
    gc.collect()
    assert hidden_array() is None, "an intermediate array outlived backward through the kept output"
    numpy.testing.assert_array_equal(x.grad, numpy.full((4, 3), 8.0))  # d(4x^2)/dx
    with pytest.raises(RuntimeError, match="second time"):
        out.backward()


def test_retain_graph_keeps_what_a_second_backward_needs():
    x = Tensor(numpy.ones((4, 3)), requires_grad=True)
    out = ((x * 2.0) * (x * 2.0)).sum()
    out.backward(retain_graph=True)
    out.backward()
    numpy.testing.assert_array_equal(x.grad, numpy.full((4, 3), 16.0))
