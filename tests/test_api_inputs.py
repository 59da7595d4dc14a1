"""Nonsense through the Python API (issue 12, item 10) is refused as torch refuses it."""
import numpy
import pytest

import minigan
from minigan import Tensor, nn
from minigan import functional as F
from minigan.models.dcgan import Discriminator


@pytest.mark.parametrize("data", [None, [None, 1.0], "abc", {"a": 1}])
def test_a_tensor_of_no_numbers_is_refused(data):
    with pytest.raises(TypeError, match="give an array, a number or a"):
        Tensor(data)


def test_a_tensor_of_python_numbers_is_float32():
    assert Tensor([[1, 2], [3, 4]]).dtype == numpy.float32 and Tensor(True).dtype == numpy.float32


@pytest.mark.parametrize("op", ["conv2d", "conv_transpose2d"])
def test_integer_convolution_is_refused_as_torch_does(op):
    x = numpy.ones((1, 2, 5, 5), numpy.int64)
    w = numpy.ones((2, 2, 3, 3), numpy.float32)
    with pytest.raises(TypeError, match=f"{op}: input is int64; convolution takes float32 or float64"):
        getattr(F, op)(Tensor(x), Tensor(w))
    with pytest.raises(TypeError, match=f"{op}: weight is int32"):
        getattr(F, op)(Tensor(x.astype(numpy.float32)), Tensor(w.astype(numpy.int32)))


def test_numpy_integers_are_valid_strides_and_kernel_sizes():
    minigan.manual_seed(0)
    conv = nn.Conv2d(2, 3, numpy.int64(3), stride=numpy.int64(2), padding=numpy.int32(1))
    assert conv(Tensor(numpy.ones((1, 2, 8, 8), numpy.float32))).shape == (1, 3, 4, 4)
    deconv = nn.ConvTranspose2d(2, 3, numpy.int64(4), numpy.int64(2), 1)
    assert deconv(Tensor(numpy.ones((1, 2, 4, 4), numpy.float32))).shape == (1, 3, 8, 8)
    with pytest.raises(ValueError, match="kernel_size must be an int >= 1"):
        nn.Conv2d(2, 3, 2.5)


def test_a_second_backward_through_a_graph_raises_unless_it_was_retained():
    x = Tensor(numpy.array([1.0, 2.0], numpy.float32), requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert numpy.array_equal(x.grad, [4.0, 8.0])  # two backwards accumulate, as in torch
    with pytest.raises(RuntimeError, match="backward.. through a graph a second time.*retain_graph=True"):
        y.backward()
    assert numpy.array_equal(x.grad, [4.0, 8.0])


@pytest.mark.parametrize("size, image", [(32, 40), (32, 64), (64, 32)])
def test_the_discriminator_refuses_an_image_of_another_size(size, image):
    D = Discriminator(ndf=4, nc=3, image_size=size)
    with pytest.raises(ValueError, match=rf"Discriminator\(image_size={size}\) takes \(N, C, {size}, {size}\)"):
        D(Tensor(numpy.zeros((2, 3, image, image), numpy.float32)))
