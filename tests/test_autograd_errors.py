"""Misuse of the autograd engine raises a clear exception: backward without the gradient it
needs, and inputs on two backends in one op (checked once, for every Function)."""
import re
import types

import numpy
import pytest

from minigan import Tensor, backend
from minigan import functional as F


def rx(text):
    """A regex matching text literally."""
    return re.escape(text)


@pytest.fixture
def ones(tensor):
    def make(*shape, requires_grad=False):
        return tensor(numpy.ones(shape, dtype=numpy.float32), requires_grad=requires_grad)
    return make


# --- autograd -------------------------------------------------------------------

def test_backward_on_a_non_scalar_needs_a_gradient(xp, ones):
    y = ones(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=rx("needs a scalar output, but this tensor has shape (2, 3)")):
        y.backward()


def test_backward_gradient_shape_must_match(xp, ones):
    y = ones(2, 3, requires_grad=True) * 2
    with pytest.raises(ValueError, match=rx("gradient shape (3,) does not match tensor shape (2, 3)")):
        y.backward(ones(3))


def test_backward_on_a_tensor_without_grad(xp, ones):
    with pytest.raises(RuntimeError, match="does not require grad"):
        (ones(2) * 2).sum().backward()


# --- backends ---------------------------------------------------------------------

class _FakeCupyArray(numpy.ndarray):
    """Stands in for cupy.ndarray: a NumPy array that minigan.backend files under 'cupy'."""


@pytest.fixture
def other_backend(monkeypatch):
    """make(array): an array of the GPU backend: real CuPy where there is a GPU, else a stand-in.

    The stand-in is a module named 'cupy' whose ndarray is a NumPy subclass, patched in as
    minigan.backend.cupy. array_module() then reports it as the CuPy backend, so the
    backend check that ops run is exercised for real on a CPU-only machine.
    """
    try:
        cupy = backend.require_cupy()
        return cupy.asarray
    except RuntimeError:
        fake = types.ModuleType("cupy")
        fake.ndarray = _FakeCupyArray
        fake.asnumpy = lambda array: numpy.asarray(array).view(numpy.ndarray)
        monkeypatch.setattr(backend, "cupy", fake)
        return lambda array: numpy.asarray(array).view(_FakeCupyArray)


def _raised_in(excinfo, function):
    return any(entry.name == function for entry in excinfo.traceback)


def test_numpy_and_cupy_mixed_in_one_op(other_backend):
    cpu = Tensor(numpy.ones((2, 3), dtype=numpy.float32))
    gpu = Tensor(other_backend(numpy.ones((2, 3), dtype=numpy.float32)))
    assert backend.array_module(gpu.data) is not numpy  # the check below really sees two backends
    assert backend.array_module(gpu.data).__name__ == "cupy"
    with pytest.raises(TypeError, match=rx("Add: inputs mix NumPy and CuPy arrays (numpy (2, 3), cupy (2, 3))")) \
            as excinfo:
        cpu + gpu
    assert _raised_in(excinfo, "check_compatible")
    with pytest.raises(TypeError, match=rx("Mul: inputs mix NumPy and CuPy arrays (cupy (2, 3), numpy (2, 3))")):
        gpu * cpu


def test_numpy_and_cupy_mixed_in_conv2d(other_backend):
    x = Tensor(numpy.ones((1, 2, 4, 4), dtype=numpy.float32))
    weight = Tensor(other_backend(numpy.ones((3, 2, 3, 3), dtype=numpy.float32)), requires_grad=True)
    with pytest.raises(TypeError, match=rx("Conv2d: inputs mix NumPy and CuPy arrays "
                                           "(numpy (1, 2, 4, 4), cupy (3, 2, 3, 3))")) as excinfo:
        F.conv2d(x, weight)
    assert _raised_in(excinfo, "check_compatible")


def test_one_backend_passes_the_check(other_backend):
    """The same check lets two arrays of one backend through (it is not raising on everything)."""
    a = Tensor(other_backend(numpy.full((2, 2), 2.0, dtype=numpy.float32)))
    b = Tensor(other_backend(numpy.full((2, 2), 3.0, dtype=numpy.float32)))
    assert backend.check_compatible("Add", [a.data, b.data]) == [a.data, b.data]
    product = a * b
    assert backend.array_module(product.data) is backend.array_module(a.data)
    numpy.testing.assert_array_equal(backend.to_numpy(product.data), 6.0)
