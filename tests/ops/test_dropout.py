"""dropout and dropout2d beyond their specs: torch cannot share its random stream with minigan,
so the masks are checked directly. The mask is recovered from the output (inputs are nonzero,
so an element is dropped exactly where the output is 0); then the output must be the input
times mask / (1 - p), the gradient the upstream gradient times the same, the fraction kept
1 - p within 6 standard errors, a seed must repeat its masks on both backends, and on the GPU
the draw must be capturable in a CUDA graph whose replays continue the stream.
"""
import math

import numpy
import pytest

import minigan
from minigan import Tensor, backend
from minigan import functional as F
from minigan.config import using_config
from minigan.cuda_graph import CudaGraph

DTYPES = [numpy.float32, numpy.float64]


def nonzero_input(rng, shape, dtype, xp=numpy):
    values = rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return Tensor(xp.asarray(values.astype(dtype)), requires_grad=True)


def seeded(seed):
    return using_config("generator", numpy.random.default_rng(seed))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_output_and_gradient_are_the_input_times_mask_over_keep(xp, rng, dtype, p):
    x = nonzero_input(rng, (64, 50), dtype, xp)
    y = F.dropout(x, p)
    upstream = rng.standard_normal((64, 50)).astype(dtype)
    y.backward(xp.asarray(upstream))
    out, values, grad = backend.to_numpy(y.data), backend.to_numpy(x.data), backend.to_numpy(x.grad)
    assert out.dtype == dtype and grad.dtype == dtype
    kept = out != 0
    scale = dtype(1 / (1 - p))
    numpy.testing.assert_array_equal(out, numpy.where(kept, values * scale, 0))
    numpy.testing.assert_array_equal(grad, numpy.where(kept, upstream * scale, 0))
    assert 0 < kept.mean() < 1


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_the_fraction_kept_is_one_minus_p(p):
    n = 200_000
    kept = F.dropout(Tensor(numpy.ones(n)), p).data != 0
    assert abs(kept.mean() - (1 - p)) < 6 * math.sqrt(p * (1 - p) / n), f"kept {kept.mean():.4f} of the elements"


@pytest.mark.parametrize("p", [0.2, 0.6])
def test_dropout2d_drops_whole_channels(rng, p):
    x = nonzero_input(rng, (40, 50, 3, 2), numpy.float64)
    y = F.dropout2d(x, p)
    upstream = rng.standard_normal(x.shape)
    y.backward(upstream)
    kept = y.data[:, :, :1, :1] != 0  # a channel's first pixel tells the channel
    mask = numpy.where(kept, 1 / (1 - p), 0.0)
    numpy.testing.assert_array_equal(y.data, x.data * mask)
    numpy.testing.assert_array_equal(x.grad, upstream * mask)
    n = kept.size
    assert abs(kept.mean() - (1 - p)) < 6 * math.sqrt(p * (1 - p) / n)


def test_dropout2d_takes_a_3d_input_as_n_c_l_with_torchs_warning(rng):
    x = nonzero_input(rng, (20, 30, 4), numpy.float64)
    with pytest.warns(UserWarning, match=r"interpreted as shape \(N, C, L\)"):
        y = F.dropout2d(x, 0.5)
    kept = y.data != 0
    assert (kept == kept[:, :, :1]).all(), "a channel is kept or dropped whole"
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        F.dropout2d(Tensor(numpy.ones((3, 4))), 0.5)


def test_a_seed_repeats_its_masks_and_the_next_draw_differs():
    x = Tensor(numpy.ones((8, 16), numpy.float32))
    minigan.manual_seed(7)
    first, second = F.dropout(x).data, F.dropout(x).data
    minigan.manual_seed(7)
    numpy.testing.assert_array_equal(F.dropout(x).data, first)
    numpy.testing.assert_array_equal(F.dropout(x).data, second)
    assert not numpy.array_equal(first, second)
    minigan.manual_seed(8)
    assert not numpy.array_equal(F.dropout(x).data, first)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_cpu_and_the_gpu_draw_the_same_masks_from_one_seed(device_xp, dtype):
    """Several draws in a row, of both ops: the streams advance alike on both backends."""
    host = numpy.ones((6, 5, 3, 3), dtype)
    draws = {}
    for xp in (numpy, device_xp):
        x = Tensor(xp.asarray(host))
        with seeded(99):
            draws[xp] = [backend.to_numpy(op(x, p).data) for op, p in
                         [(F.dropout, 0.5), (F.dropout2d, 0.3), (F.dropout, 0.25)]]
    for cpu, gpu in zip(draws[numpy], draws[device_xp]):
        numpy.testing.assert_array_equal(gpu, cpu)


def test_a_graph_captures_the_draw_and_its_replays_continue_the_stream(device_xp):
    """No host read and no host RNG: the capture succeeds (the emulator refuses both), and the
    replays give the masks that eager draws from the same seed give next, on the CPU too."""
    xp = device_xp
    x = Tensor(xp.ones((5, 8), numpy.float32))
    with seeded(3):
        F.dropout(x, 0.5)  # eager: makes the device's state, as a warm-up step would
        graph = CudaGraph(lambda: F.dropout(x, 0.5).data, xp)
        replays = [backend.to_numpy(graph.replay()).copy() for _ in range(3)]
    with seeded(3):
        eager = [F.dropout(Tensor(numpy.ones((5, 8), numpy.float32)), 0.5).data for _ in range(4)][1:]
    for index, (replay, expected) in enumerate(zip(replays, eager)):
        numpy.testing.assert_array_equal(replay, expected, err_msg=f"replay {index + 1}")
    assert not numpy.array_equal(replays[0], replays[1])


def test_no_draw_where_nothing_is_dropped(rng):
    """p = 0 and training=False return the input itself, and p = 1 zeros, without drawing: the
    next mask is the one a fresh stream gives first."""
    x = nonzero_input(rng, (4, 6), numpy.float64)
    with seeded(5):
        assert F.dropout(x, 0.0) is x and F.dropout(x, 0.5, training=False) is x
        planes = Tensor(numpy.ones((2, 3, 1, 1)))
        assert F.dropout2d(planes, 0.0) is planes and F.dropout2d(planes, 0.4, training=False) is planes
        zeros = F.dropout(x, 1.0)
        after = F.dropout(x, 0.5).data
    with seeded(5):
        first = F.dropout(x, 0.5).data
    numpy.testing.assert_array_equal(after, first)
    numpy.testing.assert_array_equal(zeros.data, numpy.zeros((4, 6)))
    zeros.backward(numpy.ones((4, 6)))
    numpy.testing.assert_array_equal(x.grad, numpy.zeros((4, 6)))


def test_replacing_the_generator_restarts_the_streams():
    x = Tensor(numpy.ones(64))
    with seeded(11):
        first = F.dropout(x).data
        with seeded(11):  # a generator of the same seed: the same stream from its start
            numpy.testing.assert_array_equal(F.dropout(x).data, first)
    with seeded(12):
        assert not numpy.array_equal(F.dropout(x).data, first)
