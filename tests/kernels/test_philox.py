"""Counter-based random numbers: Philox4x64-10 and Box-Muller normals on both backends.

The reference is NumPy: numpy.random.Philox gives the raw words, and
box_muller below is the formula documented in kernels/cuda/philox.cu, written
again here from that documentation. The CPU kernels (kernels/philox.py) are
NumPy too. The CUDA kernels run on the CPU under the
emulator (tests/support/cuda_emulator.py); on a real GPU the `xp` test compares the
real kernels with the same reference.
"""
import math
import shutil

import numpy
import pytest

from support import cuda_emulator
from minigan import backend
from minigan.kernels import _cuda
from minigan.kernels.table import cpu

U64_MAX = 2**64 - 1
DTYPES = [numpy.float32, numpy.float64]
# CUDA's double log, sin and cos are within 1-2 ulps, NumPy's too: the normals
# may differ by a few ulps in float64, and by one ulp (a rare rounding tie) in float32.
MAX_ULPS = {numpy.float32: 1, numpy.float64: 8}

# (key, counter) pairs: small, large, and counters whose words carry during a draw.
STATES = [
    ((0, 0), (0, 0, 0, 0)),
    ((0xDEADBEEF, 12345), (7, 0, 0, 0)),
    ((U64_MAX, 1), (U64_MAX - 2, 5, 0, 0)),  # word 0 carries into word 1 within a few blocks
    ((3, U64_MAX), (U64_MAX, U64_MAX, U64_MAX, U64_MAX - 1)),  # the carry runs through words 1-3
    ((42, 43), (U64_MAX, U64_MAX, U64_MAX, U64_MAX)),  # wraps to 0 modulo 2^256, as NumPy does
]
STATE_IDS = ["zero", "small", "carry-word0", "carry-words1-3", "wrap"]


def make_state(key, counter):
    return numpy.array([*key, *counter], dtype=numpy.uint64)


def counter_value(state):
    """The 256-bit counter of a state as a Python int (word 0 lowest)."""
    return sum(int(word) << (64 * i) for i, word in enumerate(numpy.asarray(state)[2:]))


def blocks_for(size):
    return -(-size // 4)


def numpy_raw_words(key, counter, blocks):
    return numpy.random.Philox(key=numpy.array(key, numpy.uint64),
                              counter=numpy.array(counter, numpy.uint64)).random_raw(4 * blocks)


def box_muller(words, uniform_scale=2.0**-53, radius_factor=2.0, angle_factor=2 * math.pi,
               angle_word=1):
    """The documented normals of raw words (pairs (w0, w1), (w2, w3), ...), in float64.

    The keyword arguments exist to break the formula on purpose: a wrong
    uniform scale, a wrong factor under the root or on the angle, or the angle
    taken from the radius's own word (angle_word=0).
    """
    uniform = ((words >> 11) + 1).astype(numpy.float64) * uniform_scale
    radius = numpy.sqrt(-radius_factor * numpy.log(uniform[0::2]))
    angle = angle_factor * uniform[angle_word::2]
    normals = numpy.empty(words.size)
    normals[0::2] = radius * numpy.cos(angle)
    normals[1::2] = radius * numpy.sin(angle)
    return normals


@pytest.fixture(params=["cpu", "emulated gpu"])
def kernels(request):
    """The table under test: the cpu one, or the cuda one on the CUDA emulator."""
    return cpu if request.param == "cpu" else request.getfixturevalue("emulated_gpu")


# ---------- (a) raw words, bit for bit ----------

RAW_WORDS_KERNEL = r'''
extern "C" __global__ void raw_words(const unsigned long long* state, unsigned long long* out,
                                     long long blocks) {
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long b = (long long)blockIdx.x * blockDim.x + threadIdx.x; b < blocks; b += step)
        philox_block_at(state, (unsigned long long)b, out + 4 * b);
}
'''


@pytest.fixture(scope="module")
def raw_words_kernel(tmp_path_factory):
    """philox_block_at, the device function philox_normal draws every block with, behind a
    test-only kernel (the engine itself needs no raw-word kernel)."""
    if shutil.which("g++") is None:
        pytest.skip("g++ is not on PATH (needed to run the CUDA sources on the CPU)")
    code = (_cuda.CUDA_DIR / "philox.cu").read_text() + RAW_WORDS_KERNEL
    module = cuda_emulator.EmulatedModule(code, tmp_path_factory.mktemp("philox"), [str(_cuda.CUDA_DIR)])
    return module.get_function("raw_words")


def emulated_raw_words(kernel, state, blocks):
    out = numpy.zeros(4 * blocks, dtype=numpy.uint64)
    kernel((2,), (32,), (state, out, numpy.int64(blocks)))  # 64 threads: the loop wraps
    return out


@pytest.mark.parametrize("key, counter", STATES, ids=STATE_IDS)
def test_emulated_raw_words_are_numpys(raw_words_kernel, key, counter):
    blocks = 150
    state = make_state(key, counter)
    words = emulated_raw_words(raw_words_kernel, state, blocks)
    numpy.testing.assert_array_equal(words, numpy_raw_words(key, counter, blocks))
    numpy.testing.assert_array_equal(state, make_state(key, counter))  # drawing alone does not advance


def test_random_state_starts_numpys_philox_of_the_seed(raw_words_kernel, emulated_gpu):
    for seed in (0, 1, 2**40 + 17):
        state = cpu.random_state(seed)
        assert state.dtype == numpy.uint64 and state.shape == (6,)
        assert counter_value(state) == 0
        numpy.testing.assert_array_equal(emulated_gpu.random_state(seed), state)
        numpy.testing.assert_array_equal(emulated_raw_words(raw_words_kernel, state, 20),
                                         numpy.random.Philox(seed).random_raw(80))
    assert not numpy.array_equal(cpu.random_state(1)[:2], cpu.random_state(2)[:2])


# ---------- (b) emulated GPU normals against the CPU ----------

def assert_same_stream(got, expected, dtype):
    assert got.dtype == dtype and got.shape == expected.shape
    numpy.testing.assert_array_max_ulp(got, expected, maxulp=MAX_ULPS[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5, 7), (3001,)])  # 3001: 751 blocks, the grid-stride loop wraps
def test_emulated_normals_match_cpu(emulated_gpu, dtype, shape):
    gpu_state, cpu_state = cpu.random_state(5), cpu.random_state(5)
    assert_same_stream(emulated_gpu.random_normal(gpu_state, shape, dtype),
                       cpu.random_normal(cpu_state, shape, dtype), dtype)
    numpy.testing.assert_array_equal(gpu_state, cpu_state)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("key, counter", STATES, ids=STATE_IDS)
def test_emulated_normals_match_cpu_across_counter_carries(emulated_gpu, dtype, key, counter):
    gpu_state, cpu_state = make_state(key, counter), make_state(key, counter)
    for size in (37, 1, 22):
        assert_same_stream(emulated_gpu.random_normal(gpu_state, (size,), dtype),
                           cpu.random_normal(cpu_state, (size,), dtype), dtype)
        numpy.testing.assert_array_equal(gpu_state, cpu_state)


# ---------- (c) the counter, determinism, no repeats ----------

@pytest.mark.parametrize("key, counter", STATES[1:], ids=STATE_IDS[1:])
def test_counter_advances_by_the_blocks_consumed(kernels, key, counter):
    state = make_state(key, counter)
    expected = counter_value(state)
    for size in (1, 4, 5, 7, 0, 13):
        kernels.random_normal(state, (size,), numpy.float64)
        expected = (expected + blocks_for(size)) % 2**256
        assert counter_value(state) == expected, f"after a draw of {size}"
        numpy.testing.assert_array_equal(state[:2], numpy.array(key, numpy.uint64))


@pytest.mark.parametrize("first_size", [7, 8])  # 7: the last block's unused value is dropped
def test_successive_draws_continue_the_stream(kernels, first_size):
    start = cpu.random_state(11)
    state = start.copy()
    first = kernels.random_normal(state, (first_size,), numpy.float64)
    second = kernels.random_normal(state, (9,), numpy.float64)
    assert not numpy.intersect1d(first, second).size, "a later draw repeated values"
    # A copy of the state taken before the draws reproduces them exactly.
    numpy.testing.assert_array_equal(kernels.random_normal(start.copy(), (first_size,), numpy.float64), first)
    whole = kernels.random_normal(start.copy(), (4 * blocks_for(first_size) + 9,), numpy.float64)
    numpy.testing.assert_array_equal(whole[:first_size], first)
    numpy.testing.assert_array_equal(whole[-9:], second)


def test_empty_draw_leaves_the_state(kernels):
    state = cpu.random_state(3)
    out = kernels.random_normal(state, (0, 4), numpy.float32)
    assert out.shape == (0, 4) and out.dtype == numpy.float32
    numpy.testing.assert_array_equal(state, cpu.random_state(3))


def test_bad_arguments_are_refused(kernels):
    with pytest.raises(TypeError, match="float32 or float64"):
        kernels.random_normal(cpu.random_state(0), (4,), numpy.int32)
    for state in (numpy.zeros(6, numpy.int64), numpy.zeros(5, numpy.uint64), numpy.zeros(12, numpy.uint64)[::2]):
        with pytest.raises(ValueError, match="uint64 array of 6"):
            kernels.random_normal(state, (4,), numpy.float32)


# ---------- (d) statistics of the normals ----------

def normality_failures(samples):
    """What is wrong with samples as draws from N(0, 1): mean, variance, Kolmogorov-Smirnov.

    Each bound is about 6 standard errors (KS: P(D > bound) < 1e-12 for n = 10^6),
    so a correct generator passes with overwhelming probability.
    """
    n = samples.size
    failures = []
    mean, variance = samples.mean(), samples.var()
    if abs(mean) > 6 / math.sqrt(n):
        failures.append(f"mean {mean:.5f}")
    if abs(variance - 1) > 6 * math.sqrt(2 / n):
        failures.append(f"variance {variance:.5f}")
    ordered = numpy.sort(samples)
    cdf = numpy.frompyfunc(lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2))), 1, 1)(ordered).astype(numpy.float64)
    ks = max((numpy.arange(1, n + 1) / n - cdf).max(), (cdf - numpy.arange(n) / n).max())
    if ks > math.sqrt(math.log(2e12) / (2 * n)):
        failures.append(f"Kolmogorov-Smirnov distance {ks:.5f}")
    return failures


BROKEN_TRANSFORMS = {
    "uniform scaled by 2^-64, not 2^-53": dict(uniform_scale=2.0**-64),
    "radius without the factor 2": dict(radius_factor=1.0),
    "angle pi*u, not 2*pi*u": dict(angle_factor=math.pi),
    "angle from the radius's own word": dict(angle_word=0),
}


@pytest.fixture(scope="module")
def large_draw():
    """(normals, raw words) of 10^6 float64 CPU normals from a fresh state."""
    state = cpu.random_state(2024)
    normals = cpu.random_normal(state, (10**6,), numpy.float64)
    return normals, numpy.random.Philox(2024).random_raw(10**6)


def test_normals_are_standard_normal(large_draw):
    normals, _ = large_draw
    assert not normality_failures(normals)


@pytest.mark.parametrize("broken", BROKEN_TRANSFORMS.values(), ids=BROKEN_TRANSFORMS.keys())
def test_normality_check_catches_a_broken_transform(large_draw, broken):
    normals, words = large_draw
    numpy.testing.assert_array_equal(box_muller(words), normals)  # the check sees the same words
    assert normality_failures(box_muller(words, **broken))


# ---------- (e) each backend against the NumPy reference (the real GPU where there is one) ----------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("key, counter", STATES, ids=STATE_IDS)
def test_backend_normals_are_the_documented_stream(xp, dtype, key, counter):
    """NumPy's Philox words through the documented Box-Muller: exactly on the CPU (the
    same NumPy functions), to a few ulps on a GPU (CUDA's own log, sin and cos)."""
    kernels = backend.kernels(xp)
    state = xp.asarray(make_state(key, counter))
    shape = (7, 143)
    got = backend.to_numpy(kernels.random_normal(state, shape, dtype))
    blocks = blocks_for(math.prod(shape))
    expected = box_muller(numpy_raw_words(key, counter, blocks))[:math.prod(shape)].reshape(shape).astype(dtype)
    if xp is numpy:
        numpy.testing.assert_array_equal(got, expected)
    else:
        assert_same_stream(got, expected, dtype)
    assert counter_value(backend.to_numpy(state)) == (counter_value(make_state(key, counter)) + blocks) % 2**256
