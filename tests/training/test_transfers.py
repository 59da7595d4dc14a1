"""A training step on the cupy backend never reads the device, and the data crosses to it once.

`device_xp` runs these on the emulated GPU (tests/support/emulated_device.py counts every
host<->device transfer) and on real CuPy where there is a GPU (a busy kernel shows any wait).
"""
import io

import numpy

from support import emulated_device
from support.device_reads import TINY, is_emulated, no_device_reads
from minigan import data
from minigan.training import Config, Trainer
from minigan.training.progress import Progress


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
