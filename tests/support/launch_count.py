"""Device launches of one eager DCGAN training step, counted on the emulated GPU.

The count is the step's structure: one launch per kernel, CuPy function,
ufunc, copy or fill it issues (tests/support/emulated_device.py says what
counts). It does not depend on the batch or the layer widths, so the
emulator counts a DCGAN-32 step at batch 2 and width 2 in seconds (the test
checks that the count is the same at other sizes).

Used by tests/training/test_launch_budget.py and, for the benchmark record,
by benchmarks/sections/launches.py, which run outside pytest: so this module
installs the emulated device itself (on_emulated_device).
"""
import collections
import contextlib
import pathlib
import tempfile

from minigan import backend, data
from minigan.kernels import _cuda
from minigan.training import Config, Trainer
from support import cuda_emulator, emulated_device

KERNELS_DIR = pathlib.Path(_cuda.CUDA_DIR)
NVRTC_OPTIONS = _cuda.NVRTC_OPTIONS
STEP_SIZES = dict(batch_size=2, nz=4, ngf=2, ndf=2)  # the smallest the emulator need run


@contextlib.contextmanager
def on_emulated_device(build_dir=None):
    """The cupy backend on the emulated GPU within the block (outside pytest's fixtures)."""
    build_dir = pathlib.Path(build_dir or tempfile.mkdtemp(prefix="minigan-emulator-"))
    emulated = emulated_device.EmulatedCupy(cuda_emulator.FakeCupy(build_dir, NVRTC_OPTIONS))
    caches = (_cuda.get_cupy, _cuda._module, _cuda._function, _cuda._max_blocks)
    saved = backend.cupy, _cuda.get_cupy, _cuda.BLOCKS_PER_SM
    for cached in caches:
        cached.cache_clear()
    backend.cupy, _cuda.get_cupy, _cuda.BLOCKS_PER_SM = emulated, (lambda: emulated), 1
    try:
        yield emulated
    finally:
        backend.cupy, _cuda.get_cupy, _cuda.BLOCKS_PER_SM = saved
        for cached in caches:
            cached.cache_clear()


StepLaunches = collections.namedtuple("StepLaunches", "total by_kernel by_site")


def count_eager_step(out_dir, image_size=32, matmul="cublas", **sizes):
    """The launches of one eager D+G step (the second: the first compiles), on the device
    already installed (emulated); by_kernel and by_site are Counters (see emulated_device)."""
    config = Config(**dict(dict(backend="cupy", dataset="fake", image_size=image_size, matmul=matmul,
                                log_every=1000, sample_every=1000, checkpoint_every=1000, plot_every=1000,
                                out=str(out_dir)), **dict(STEP_SIZES, **sizes)))
    trainer = Trainer(config, images=data.fake(n=4 * config.batch_size, channels=3)[0])
    trainer.run_step(0)
    emulated_device.launches.clear()
    emulated_device.launch_sites.clear()
    trainer.run_step(1)
    by_kernel, by_site = collections.Counter(emulated_device.launches), collections.Counter(emulated_device.launch_sites)
    return StepLaunches(sum(by_kernel.values()), by_kernel, by_site)
