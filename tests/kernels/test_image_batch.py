"""The training batch's kernel (kernels/image_batch.py) on every backend, against the plain
NumPy reference and against the definition: gather, scale to [-1, 1], lay out batch-innermost."""
import numpy
import pytest

from minigan.kernels import image_batch

DTYPES = [numpy.float32, numpy.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, picks", [((6, 3, 4, 5), [4, 0, 5, 4]), ((3, 1, 2, 2), [2]), ((2, 3, 1, 1), [])])
def test_image_batch_equals_the_reference_to_the_bit(kernel_backend, rng, shape, picks, dtype):
    k = kernel_backend
    images = rng.integers(0, 256, size=shape, dtype=numpy.uint8)
    indices = numpy.array(picks, numpy.int64)
    got = k.get(k.table.image_batch(k.put(images), k.put(indices), dtype))
    assert got.dtype == dtype and got.shape == (*shape[1:], len(picks)) and got.flags.c_contiguous
    numpy.testing.assert_array_equal(got, image_batch.image_batch_reference(images, indices, dtype))


def test_image_batch_reference_against_its_definition():
    """Image 1 then image 0, one 1x1x3 channel-pixel each: 0 -> -1, 51 -> -0.6, 255 -> 1, and
    element (c, h, w, b) is pixel (c, h, w) of the b-th picked image."""
    images = numpy.array([[[[0, 51, 255]]], [[[255, 0, 51]]]], numpy.uint8)  # (2, 1, 1, 3)
    got = image_batch.image_batch_reference(images, numpy.array([1, 0]), numpy.float64)
    assert got.shape == (1, 1, 3, 2)
    numpy.testing.assert_allclose(got[0, 0], [[1.0, -1.0], [-1.0, -0.6], [-0.6, 1.0]])


def test_image_batch_refuses_what_it_cannot_read(kernel_backend):
    k = kernel_backend
    images, indices = k.put(numpy.zeros((2, 1, 2, 2), numpy.uint8)), k.put(numpy.array([0, 1]))
    with pytest.raises(ValueError, match=r"images must be a C-contiguous uint8 \(N, C, H, W\) array, "
                                         r"got float32 \(2, 1, 2, 2\)"):
        k.table.image_batch(k.put(numpy.zeros((2, 1, 2, 2), numpy.float32)), indices, numpy.float32)
    with pytest.raises(ValueError, match=r"indices must be an int64 \(B,\) array, got int32 \(2,\)"):
        k.table.image_batch(images, k.put(numpy.array([0, 1], numpy.int32)), numpy.float32)
    with pytest.raises(TypeError, match="float32 or float64 arrays, got int64"):
        k.table.image_batch(images, indices, numpy.int64)


def test_cpu_image_batch_refuses_indices_out_of_range():
    with pytest.raises(IndexError, match=r"indices must be in \[0, 2\), got 0 .. 2"):
        image_batch.image_batch_cpu(numpy.zeros((2, 1, 1, 1), numpy.uint8), numpy.array([0, 2]), numpy.float32)
