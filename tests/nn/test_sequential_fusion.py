"""nn.Sequential runs a BatchNorm2d followed by a ReLU or LeakyReLU as one fused op
(minigan/functional/batchnorm.py): the same outputs, gradients, running statistics and
num_batches_tracked as the two modules run one after the other, and torch's state_dict keys and
repr. Where fusing could change what a user sees (a forward pre-hook, a subclass's own forward),
the pair runs as two modules."""
import copy

import numpy
import pytest

from minigan import Tensor, nn
from minigan.autograd import FunctionHook
from minigan.backend import to_numpy

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "negative_slope": lambda: nn.LeakyReLU(-0.5)}


class FunctionNames(FunctionHook):
    """The class names of the Functions run forward, in order."""

    def __init__(self):
        self.names = []

    def forward_postprocess(self, function, arrays):
        self.names.append(type(function).__name__)


def run(model, x, upstream, one_by_one):
    """model(x) (fused), or its children called one after the other (never fused), then backward
    from upstream; the Functions it ran, the output, every gradient and every buffer, as NumPy arrays."""
    x = Tensor(x, requires_grad=True)
    with FunctionNames() as ran:
        y = x
        for module in (model if one_by_one else [model]):
            y = module(y)
    y.backward(upstream)
    arrays = [to_numpy(a) for a in (y.data, x.grad, *(p.grad for p in model.parameters()),
                                    *(b.data for _, b in model.named_buffers()))]
    for p in model.parameters():
        p.grad = None
    return ran.names, arrays


@pytest.fixture(params=["numpy", "emulated-cupy"])
def array_module(request):
    return numpy if request.param == "numpy" else request.getfixturevalue("emulated_cupy")


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_the_fused_pair_equals_the_two_modules(array_module, activation):
    rng = numpy.random.default_rng(5)
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), ACTIVATIONS[activation](), nn.Conv2d(3, 2, 1))
    model.to(device="cpu" if array_module is numpy else "cuda", dtype=numpy.float64)
    twin = copy.deepcopy(model)
    x, upstream = (array_module.asarray(rng.standard_normal(shape)) for shape in ((4, 2, 6, 5), (4, 2, 4, 3)))
    for training in (True, False):  # evaluation after a training step, on the moved running statistics
        model.train(training), twin.train(training)
        fused_ran, fused = run(model, x, upstream, one_by_one=False)
        plain_ran, plain = run(twin, x, upstream, one_by_one=True)
        assert "LeakyReLU" in plain_ran and "LeakyReLU" not in fused_ran, (plain_ran, fused_ran)
        assert len(fused_ran) == len(plain_ran) - 1
        for mine, theirs in zip(fused, plain, strict=True):
            numpy.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-13)
    assert int(model[1].num_batches_tracked.data) == int(twin[1].num_batches_tracked.data) == 1


def test_a_hooked_or_overridden_activation_runs_as_its_own_module():
    class Doubled(nn.ReLU):
        def forward(self, x):
            return super().forward(x) * 2

    calls = []
    hooked = nn.ReLU()
    hooked.register_forward_pre_hook(lambda module, args: calls.append(module))
    rng = numpy.random.default_rng(0)
    x, upstream = (rng.standard_normal((3, 2, 4, 4)).astype(numpy.float32) for _ in range(2))
    for activation, fused in ((hooked, False), (Doubled(), False), (nn.LeakyReLU(0.2), True)):
        model = nn.Sequential(nn.BatchNorm2d(2), activation)
        plain_ran, plain = run(copy.deepcopy(model), x, upstream, one_by_one=True)
        ran, arrays = run(model, x, upstream, one_by_one=False)
        assert ("LeakyReLU" not in ran) == fused, ran
        for mine, theirs in zip(arrays, plain, strict=True):
            numpy.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-6)
    assert len(calls) == 2 and calls[1] is hooked  # the copy's hook, called one by one; then the hook in Sequential


def test_the_fused_modules_keep_torchs_keys_and_repr():
    torch = pytest.importorskip("torch", reason="PyTorch is the test oracle: pip install torch==2.13.0")
    mine = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.BatchNorm2d(4), nn.LeakyReLU(0.2))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                                 torch.nn.BatchNorm2d(4), torch.nn.LeakyReLU(0.2))
    assert repr(mine) == repr(theirs)
    assert list(mine.state_dict()) == list(theirs.state_dict())
