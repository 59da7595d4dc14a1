"""Dropout masks: the documented stream on every backend, bit for bit, and their statistics.

The expected masks are written here again from kernels/cuda/dropout.cu's documentation:
NumPy's Philox words (test_philox.py checks the CUDA words against them), element k from word
k, kept when (w >> 11) * 2^-53 < 1 - p. The comparison is exact on every backend: the masks
involve no math library, so the CPU and the GPU must agree to the bit.
"""
import math

import numpy
import pytest

from minigan.kernels import dropout
from minigan.kernels.table import cpu

from .test_philox import STATE_IDS, STATES, blocks_for, counter_value, make_state, numpy_raw_words

DTYPES = [numpy.float32, numpy.float64]


def documented_mask(key, counter, shape, p, dtype, uniform_scale=2.0 ** -53, keep_below=True):
    """The mask the documentation describes; the keywords break it on purpose."""
    size = math.prod(shape)
    words = numpy_raw_words(key, counter, blocks_for(size))[:size]
    uniform = (words >> 11).astype(numpy.float64) * uniform_scale
    kept = uniform < 1 - p if keep_below else uniform >= p
    return numpy.where(kept, dtype(1 / (1 - p)), dtype(0)).reshape(shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9])
@pytest.mark.parametrize("key, counter", STATES, ids=STATE_IDS)
def test_masks_are_the_documented_stream(kernel_backend, dtype, p, key, counter):
    shape = (3, 7, 11)  # 231 elements: the last block's 3rd and 4th words are dropped
    state = kernel_backend.put(make_state(key, counter))
    mask = kernel_backend.table.dropout_mask(state, shape, p, dtype)
    assert mask.dtype == dtype and tuple(mask.shape) == shape
    numpy.testing.assert_array_equal(kernel_backend.get(mask), documented_mask(key, counter, shape, p, dtype))
    blocks = blocks_for(math.prod(shape))
    assert counter_value(kernel_backend.get(state)) == (counter_value(make_state(key, counter)) + blocks) % 2**256


def test_reference_is_the_documented_stream():
    for p, dtype in [(0.3, numpy.float32), (0.75, numpy.float64)]:
        state = make_state(*STATES[1])
        numpy.testing.assert_array_equal(dropout.dropout_mask_reference(state, (5, 9), p, dtype),
                                         documented_mask(*STATES[1], (5, 9), p, dtype))


@pytest.mark.parametrize("broken", [dict(uniform_scale=2.0 ** -52), dict(keep_below=False)],
                         ids=["uniform in [0, 2)", "kept when u >= p"])
def test_the_documented_mask_check_catches_a_broken_formula(broken):
    key, counter = STATES[1]
    mask = cpu.dropout_mask(make_state(key, counter), (3, 7, 11), 0.3, numpy.float64)
    assert not numpy.array_equal(mask, documented_mask(key, counter, (3, 7, 11), 0.3, numpy.float64, **broken))


def test_successive_masks_continue_the_stream(kernel_backend):
    start = cpu.random_state(11)
    state = kernel_backend.put(start.copy())
    first = kernel_backend.get(kernel_backend.table.dropout_mask(state, (7,), 0.5, numpy.float64))
    second = kernel_backend.get(kernel_backend.table.dropout_mask(state, (9,), 0.5, numpy.float64))
    whole = cpu.dropout_mask(start.copy(), (8 + 9,), 0.5, numpy.float64)  # 7 takes 2 whole blocks
    numpy.testing.assert_array_equal(first, whole[:7])
    numpy.testing.assert_array_equal(second, whole[8:])


def test_empty_mask_leaves_the_state(kernel_backend):
    state = kernel_backend.put(cpu.random_state(3))
    mask = kernel_backend.table.dropout_mask(state, (0, 4), 0.5, numpy.float32)
    assert tuple(mask.shape) == (0, 4)
    numpy.testing.assert_array_equal(kernel_backend.get(state), cpu.random_state(3))


@pytest.mark.parametrize("p", [0.05, 0.25, 0.5, 0.8])
def test_keep_fraction_and_independence(p):
    """Over 10^6 elements, within 6 standard errors: the fraction kept (1 - p), and the fraction
    of pairs kept together, (1 - p)^2 for neighbours and for the same word of successive blocks
    (the pairs overlap, so their bound is doubled): a word reused or correlated would show."""
    n = 10**6
    kept = cpu.dropout_mask(cpu.random_state(2024), (n,), p, numpy.float64) > 0
    q = 1 - p
    assert abs(kept.mean() - q) < 6 * math.sqrt(q * p / n), f"kept {kept.mean():.5f}, expected {q}"
    together = (kept[:-1] & kept[1:]).mean()
    assert abs(together - q * q) < 6 * math.sqrt(q * q * (1 - q * q) / n) * 2, f"pairs kept {together:.5f}"
    every_fourth = (kept[:-4] & kept[4:]).mean()  # the same word of successive blocks
    assert abs(every_fourth - q * q) < 6 * math.sqrt(q * q * (1 - q * q) / n) * 2


def test_bad_arguments_are_refused(kernel_backend):
    state = kernel_backend.put(cpu.random_state(0))
    for p in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=f"p must be in \\[0, 1\\), got {p}"):
            kernel_backend.table.dropout_mask(state, (4,), p, numpy.float32)
    with pytest.raises(TypeError, match="float32 or float64"):
        kernel_backend.table.dropout_mask(state, (4,), 0.5, numpy.int32)
    with pytest.raises(ValueError, match="uint64 array of 6"):
        kernel_backend.table.dropout_mask(kernel_backend.put(numpy.zeros(5, numpy.uint64)), (4,), 0.5, numpy.float32)
