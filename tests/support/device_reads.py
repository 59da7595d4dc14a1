"""Whether a block of code reads the device: counted on the emulated GPU, timed behind a busy
kernel on a real one; and the tiny trainer configuration the device tests share."""
import contextlib
import time

import numpy

from support import emulated_device

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
