"""Small GAN modules end to end against float64 finite differences: every parameter's gradient
through conv, transposed conv, batchnorm, the activations, flatten and linear together."""
import numpy
import pytest

import minigan
from minigan import Tensor, gradcheck, nn

f64 = numpy.float64
pytestmark = pytest.mark.usefixtures("one_kernel_thread")


@pytest.fixture
def leaf(xp):
    """leaf(array): a float64 Tensor on xp that requires grad."""
    return lambda array: Tensor(xp.asarray(numpy.asarray(array, dtype=f64)), requires_grad=True)


def device_of(xp):
    return "cpu" if xp is numpy else "cuda"


def _module_check(module, x, xp, leaf):
    params = list(module.parameters())
    assert all(p.dtype == f64 for p in params)
    assert gradcheck(lambda x, *params: module(x), [x, *params])


def test_generator_end_to_end(xp, leaf):
    rng = numpy.random.default_rng(20240607)
    minigan.manual_seed(5)
    g = nn.Sequential(nn.ConvTranspose2d(3, 4, 3, 1, 0), nn.BatchNorm2d(4), nn.ReLU(),
                      nn.ConvTranspose2d(4, 1, 4, 2, 1), nn.Tanh())
    g.to(device=device_of(xp), dtype=f64)
    z = leaf(rng.standard_normal((2, 3, 1, 1)))
    pre_relu = g[1](g[0](z)).numpy()
    assert numpy.abs(pre_relu).min() > 1e-3, "test data: keep ReLU inputs away from 0"
    assert g(z).shape == (2, 1, 6, 6)
    _module_check(g, z, xp, leaf)


def test_discriminator_end_to_end(xp, leaf):
    rng = numpy.random.default_rng(31337)
    minigan.manual_seed(6)
    d = nn.Sequential(nn.Conv2d(1, 2, 3, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(2, 4, 3, 2, 1),
                      nn.BatchNorm2d(4), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(16, 1))
    d.to(device=device_of(xp), dtype=f64)
    x = leaf(rng.standard_normal((3, 1, 7, 6)))
    h1 = d[0](x)
    h2 = d[3](d[2](d[1](h1)))
    for h in (h1, h2):
        assert numpy.abs(h.numpy()).min() > 1e-4, "test data: keep LeakyReLU inputs away from 0"
    assert d(x).shape == (3, 1)
    _module_check(d, x, xp, leaf)
