"""The cupy backend against the numpy backend, op by op and step by step.

Every op runs forward and backward on both backends with the same inputs
and the same random upstream gradient; outputs and every input gradient
agree to a relative error of 1e-10 in float64 and 1e-5 in float32 (relative
to the largest magnitude of the NumPy value). `device_xp` runs this on the
emulated GPU here (the CUDA sources under tests/support/cuda_emulator.py, every
host<->device transfer counted) and on real CuPy where there is a GPU.
"""
import contextlib
import io
import time

import numpy
import pytest

from support import emulated_device
from minigan import Tensor, backend, data
from minigan.config import using_config
from minigan import functional as F
from minigan.training import Config, Trainer
from minigan.training.progress import Progress

RTOL = {numpy.float64: 1e-10, numpy.float32: 1e-5}
DTYPES = [numpy.float64, numpy.float32]


def relative_error(actual, expected):
    actual, expected = backend.to_numpy(actual).astype(numpy.float64), expected.astype(numpy.float64)
    assert actual.shape == expected.shape, f"shape {actual.shape}, expected {expected.shape}"
    scale = max(float(numpy.abs(expected).max(initial=0.0)), 1e-30)
    return float(numpy.abs(actual - expected).max(initial=0.0)) / scale


def forward_backward(xp, fn, arrays, upstream):
    """fn's output and each input's gradient on the backend of array module xp.

    upstream(shape) gives the gradient to seed backward with, as a NumPy array.
    """
    inputs = [Tensor(xp.asarray(a), requires_grad=True) for a in arrays]
    out = fn(xp, *inputs)
    out.backward(xp.asarray(upstream(out.shape)))
    return out.data, [t.grad for t in inputs]


def away_from_zero(rng, shape=(3, 4, 5, 5)):
    """Values with |v| in [0.1, 2): no ReLU/LeakyReLU kink within reach of rounding."""
    return rng.uniform(0.1, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def probabilities(rng, shape=(40,)):
    return rng.uniform(size=shape)


def batch_norm_eval(xp, x, weight, bias):
    running_mean, running_var = (xp.asarray(numpy.array(v, dtype=x.dtype)) for v in
                                 ([0.5, -1.0, 2.0], [1.5, 0.5, 2.0]))
    return F.batch_norm(x, running_mean, running_var, weight, bias)


# (id, fn(xp, *inputs), each input's shape or a factory taking rng)
OPS = [
    ("conv2d-k4s2p1", lambda xp, x, w, b: F.conv2d(x, w, b, 2, 1), [(3, 4, 8, 8), (5, 4, 4, 4), (5,)]),
    ("conv2d-k3s1p1", lambda xp, x, w, b: F.conv2d(x, w, b, 1, 1), [(2, 3, 7, 6), (4, 3, 3, 3), (4,)]),
    ("conv2d-rect", lambda xp, x, w: F.conv2d(x, w, None, (2, 1), (1, 0)), [(2, 3, 6, 9), (2, 3, 3, 2)]),
    ("conv2d-dense", lambda xp, x, w: F.conv2d(x, w), [(3, 8, 4, 4), (1, 8, 4, 4)]),  # DCGAN's D4
    ("conv_transpose2d-k4s2p1", lambda xp, x, w, b: F.conv_transpose2d(x, w, b, 2, 1),
     [(3, 5, 4, 4), (5, 4, 4, 4), (4,)]),
    ("conv_transpose2d-outpad", lambda xp, x, w: F.conv_transpose2d(x, w, None, 2, 1, 1),
     [(2, 3, 5, 4), (3, 2, 3, 3)]),
    ("conv_transpose2d-dense", lambda xp, x, w: F.conv_transpose2d(x, w), [(3, 6, 1, 1), (6, 8, 4, 4)]),  # G1
    ("batch_norm-train", lambda xp, x, w, b: F.batch_norm(x, None, None, w, b, training=True),
     [(4, 3, 5, 5), (3,), (3,)]),
    ("batch_norm-eval", batch_norm_eval, [(4, 3, 5, 5), (3,), (3,)]),
    ("leaky_relu", lambda xp, x: F.leaky_relu(x, 0.2), [away_from_zero]),
    ("leaky_relu-negative-slope", lambda xp, x: F.leaky_relu(x, -0.3), [away_from_zero]),
    ("relu", lambda xp, x: F.relu(x), [away_from_zero]),
    ("tanh", lambda xp, x: F.tanh(x), [(3, 4, 5, 5)]),
    ("sigmoid", lambda xp, x: F.sigmoid(x), [(3, 4, 5, 5)]),
    ("linear", lambda xp, x, w, b: F.linear(x, w, b), [(6, 7), (5, 7), (5,)]),
    ("bce_with_logits", lambda xp, x, t: F.binary_cross_entropy_with_logits(x, t).reshape(1),
     [(40,), probabilities]),
    ("arithmetic", lambda xp, a, b: ((a * b - b / (a * a + 1)) @ b.reshape(5, 4)).sum(0) + (-a).mean(),
     [(3, 4, 5), (4, 5)]),
]


CONV_OPS = [op for op in OPS if op[0].startswith("conv")]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name, fn, specs", CONV_OPS, ids=[op[0] for op in CONV_OPS])
def test_conv_on_the_own_gemm_matches_numpy(device_xp, rng, name, fn, specs, dtype):
    """The convolutions with kernels/cuda/gemm.cu instead of cuBLAS for their products."""
    from minigan.kernels.gemm import EXACT
    launches = EXACT.kernel("gemm", dtype).launches if is_emulated(device_xp) else None
    with using_config("matmul", "exact"):
        check_against_numpy(device_xp, rng, name, fn, specs, dtype)
    if launches is not None:
        assert EXACT.kernel("gemm", dtype).launches > launches, "the own GEMM ran"


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name, fn, specs", OPS, ids=[op[0] for op in OPS])
def test_op_on_device_matches_numpy(device_xp, rng, name, fn, specs, dtype):
    check_against_numpy(device_xp, rng, name, fn, specs, dtype)


def check_against_numpy(device_xp, rng, name, fn, specs, dtype):
    """fn forward and backward on device_xp and on numpy: same inputs, same upstream gradient."""
    arrays = [(spec(rng) if callable(spec) else rng.standard_normal(spec)).astype(dtype) for spec in specs]
    upstreams = {}

    def upstream(shape):  # drawn once, for both backends
        if shape not in upstreams:
            upstreams[shape] = rng.standard_normal(shape).astype(dtype)
        return upstreams[shape]

    expected_out, expected_grads = forward_backward(numpy, fn, arrays, upstream)
    out, grads = forward_backward(device_xp, fn, arrays, upstream)
    assert backend.array_module(out) is device_xp and out.dtype == dtype
    rtol = RTOL[dtype]
    assert relative_error(out, expected_out) <= rtol, f"{name}: output"
    for index, (grad, expected) in enumerate(zip(grads, expected_grads)):
        assert backend.array_module(grad) is device_xp and grad.dtype == dtype, f"{name}: input {index}"
        assert relative_error(grad, expected) <= rtol, f"{name}: gradient of input {index}"


# --- a training step never reads the device ------------------------------------

SPIN = r'''
extern "C" __global__ void spin(long long nanoseconds) {
    long long start, now;  // the GPU's global nanosecond timer: no clock rate to look up
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
    do { asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now)); } while (now - start < nanoseconds);
}'''


def is_emulated(xp):
    return isinstance(xp, emulated_device.EmulatedCupy)


@contextlib.contextmanager
def no_device_reads(xp):
    """The block reads nothing back from the device.

    Emulated: no transfer is counted. On a GPU: a kernel that keeps the GPU
    busy for seconds is queued first; a block that never waits for the device
    gets through while that kernel still runs, and any read (which must wait
    for it) makes the block take longer than the kernel.
    """
    if is_emulated(xp):
        before = emulated_device.transfers["device_to_host"]
        yield
        assert emulated_device.transfers["device_to_host"] == before, "the block read the device"
        return
    busy_seconds = 3.0
    xp.RawKernel(SPIN, "spin")((1,), (1,), (numpy.int64(busy_seconds * 1e9),))
    started = time.perf_counter()
    yield
    host_seconds = time.perf_counter() - started
    xp.cuda.Stream.null.synchronize()
    assert host_seconds < busy_seconds / 2, \
        f"the block took {host_seconds:.2f} s behind a {busy_seconds} s kernel: it waited for the device"


TINY = dict(backend="cupy", dataset="fake", batch_size=4, nz=8, ngf=4, ndf=4, log_every=3,
            sample_every=1000, checkpoint_every=1000, plot_every=1000)


def test_training_steps_never_read_the_device(device_xp, tmp_path):
    trainer = Trainer(Config(**TINY, out=str(tmp_path)), images=data.fake(n=16, channels=3)[0])
    pending = [trainer.train_step(trainer.real_batch(0))]  # compiles every kernel
    with no_device_reads(device_xp):
        for step in range(1, 3):
            pending.append(trainer.train_step(trainer.real_batch(step)))
    trainer.step = 3
    reads = emulated_device.transfers["device_to_host"]
    trainer.log(pending, 1.0, Progress(3, 0, stream=io.StringIO()))
    if is_emulated(device_xp):
        assert emulated_device.transfers["device_to_host"] == reads + 1, "logging reads once"
    assert [r["step"] for r in trainer.history] == [1, 2, 3]


def test_an_epoch_copies_to_the_device_once(emulated_cupy, tmp_path):
    """Images go to the device with the trainer, each epoch's order at its first step, and
    nothing else crosses in either direction: noise is drawn on the device. (Only the
    emulated device counts transfers; on a GPU the test above checks the reads.)"""
    trainer = Trainer(Config(**TINY, out=str(tmp_path)), images=data.fake(n=24, channels=3)[0])
    emulated_device.transfers.clear()
    for epoch in range(2):
        for index in range(len(trainer.batches)):  # 6 steps
            trainer.train_step(trainer.real_batch(epoch * len(trainer.batches) + index))
        assert emulated_device.transfers == {"host_to_device": epoch + 1}, f"epoch {epoch}"


def test_training_on_the_device_follows_numpy(device_xp, tmp_path):
    """Three steps of the cupy trainer log what the numpy trainer logs, to float32 rounding."""
    images = data.fake(n=16, channels=3)[0]
    logged = {}
    for name in ("numpy", "cupy"):
        trainer = Trainer(Config(**{**TINY, "backend": name}, max_steps=3, out=str(tmp_path / name)),
                          images=images)
        trainer.run()
        logged[name] = numpy.array([[r[k] for k in ("loss_D", "loss_G", "D(x)", "D(G(z))")]
                                    for r in trainer.history])
    numpy.testing.assert_allclose(logged["cupy"], logged["numpy"], rtol=1e-4)
