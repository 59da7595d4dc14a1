"""The generator's EMA against its definition: after a real training step,
ema = decay * ema_before + (1 - decay) * param_after for every parameter, and the buffers
(batchnorm's running statistics) are the generator's own."""
import numpy

from minigan.training import Trainer

from .test_trainer import tiny_config


def snapshot(module):
    return {name: numpy.array(p.data, copy=True) for name, p in module.named_parameters()}


def test_ema_after_a_step_is_its_definition(tmp_path):
    decay = 0.75  # far from 1 - decay, so that swapping the two is visible
    trainer = Trainer(tiny_config(tmp_path, ema=decay, max_steps=3))
    trainer.run_step(0)  # G and its average part ways
    before = snapshot(trainer.G_ema)
    assert any(not numpy.array_equal(before[k], v) for k, v in snapshot(trainer.G).items())
    trainer.run_step(1)
    after, params = snapshot(trainer.G_ema), snapshot(trainer.G)
    assert after.keys() == params.keys() and after
    for name, average in after.items():
        expected = (decay * before[name].astype(numpy.float64) + (1 - decay) * params[name].astype(numpy.float64))
        numpy.testing.assert_allclose(average, expected, rtol=1e-6, atol=1e-7, err_msg=name)
    for (name, average), (_, buffer) in zip(trainer.G_ema.named_buffers(), trainer.G.named_buffers()):
        numpy.testing.assert_array_equal(average.data, buffer.data, err_msg=name)
