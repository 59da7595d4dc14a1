"""What batchnorm (fused with its activation or not) keeps for backward: its input's memory and
per-channel arrays, no image-sized array of its own (no x_hat, no activation input or mask)."""
import numpy
import pytest

from minigan import Tensor, backend
from minigan import functional as F
from minigan.functional.layout import as_nchw


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("negative_slope", [None, 0.0, 0.2])
def test_backward_keeps_only_the_input_of_image_size(training, negative_slope):
    rng = numpy.random.default_rng(0)
    x = Tensor(as_nchw(rng.standard_normal((3, 4, 4, 5)).astype(numpy.float32)), requires_grad=True)
    w, b = (Tensor(rng.standard_normal(3).astype(numpy.float32), requires_grad=True) for _ in range(2))
    args = (x, numpy.zeros(3, numpy.float32), numpy.ones(3, numpy.float32), w, b, training)
    y = F.batch_norm(*args) if negative_slope is None else F.batch_norm_leaky_relu(*args, negative_slope=negative_slope)
    kept = [a for a in vars(y.creator).values() if backend.is_array(a)]
    image_sized = [a for a in kept if a.size == x.numel()]
    assert len(image_sized) == 1 and numpy.shares_memory(image_sized[0], x.data), [a.shape for a in kept]
    assert all(a.shape == (3,) for a in kept if a is not image_sized[0])
