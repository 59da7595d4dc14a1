"""Modules against PyTorch: batchnorm's running statistics over steps, state_dict keys, weights
loaded from torch, and three steps of DCGAN training with Adam."""
import numpy
import pytest

from minigan import Tensor, nn
from minigan import functional as F
from minigan import optim
from support.parity import RTOL, as_numpy, assert_close, assert_same_state, check_parity, load_from_torch

torch = pytest.importorskip("torch", reason="PyTorch is the test oracle: pip install torch==2.13.0")
TF = torch.nn.functional

f64 = numpy.float64


def device_of(xp):
    return "cpu" if xp is numpy else "cuda"


def test_batchnorm2d_running_statistics_and_eval(xp, rng):
    """Five training steps with momentum 0.3 (float64), then eval mode, as torch.nn.BatchNorm2d."""
    mine = nn.BatchNorm2d(3, eps=1e-4, momentum=0.3).to(device=device_of(xp), dtype=f64)
    theirs = torch.nn.BatchNorm2d(3, eps=1e-4, momentum=0.3).double()
    for step in range(5):
        x = rng.standard_normal((4, 3, 3, 2)) * rng.uniform(0.5, 3) + rng.standard_normal(3)[:, None, None]
        check_parity(xp, rng, lambda x: mine(x), lambda x: theirs(x), x)
        assert_same_state(mine, theirs, f"after training step {step + 1}")
    assert int(mine.num_batches_tracked.data) == 5
    assert mine.num_batches_tracked.dtype == numpy.int64

    mine.eval()
    theirs.eval()
    for module in (mine, theirs):
        for p in module.parameters():
            p.grad = None
    x = rng.standard_normal((2, 3, 2, 3))
    check_parity(xp, rng, lambda x: mine(x), lambda x: theirs(x), x)
    assert_close(mine.weight.grad, theirs.weight.grad, "eval weight gradient")
    assert_close(mine.bias.grad, theirs.bias.grad, "eval bias gradient")
    assert_same_state(mine, theirs, "after eval (nothing may change)")
    assert int(mine.num_batches_tracked.data) == 5


def generator(lib, nz=8, ngf=8):
    """A small DCGAN generator, 1x1 noise -> 8x8 image, built from either library's nn."""
    return lib.Sequential(
        lib.ConvTranspose2d(nz, ngf, 4, 1, 0, bias=False), lib.BatchNorm2d(ngf), lib.ReLU(),
        lib.ConvTranspose2d(ngf, ngf // 2, 4, 2, 1, bias=False), lib.BatchNorm2d(ngf // 2), lib.ReLU(),
        lib.ConvTranspose2d(ngf // 2, 1, 3, 1, 1), lib.Tanh())


def discriminator(lib, ndf=4):
    """A small DCGAN discriminator, 8x8 image -> one logit."""
    return lib.Sequential(
        lib.Conv2d(1, ndf, 4, 2, 1, bias=False), lib.LeakyReLU(0.2),
        lib.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), lib.BatchNorm2d(ndf * 2), lib.LeakyReLU(0.2),
        lib.Flatten(), lib.Linear(ndf * 2 * 2 * 2, 1))


class TorchNested(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
        self.head = torch.nn.Linear(2, 1, bias=False)


class Nested(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
        self.head = nn.Linear(2, 1, bias=False)


@pytest.mark.parametrize("build", [
    pytest.param(lambda lib: generator(lib), id="generator"),
    pytest.param(lambda lib: discriminator(lib), id="discriminator"),
    pytest.param(lambda lib: TorchNested() if lib is torch.nn else Nested(), id="nested"),
])
def test_state_dict_keys_match_torch(build):
    mine, theirs = build(nn), build(torch.nn)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        assert tuple(mine.state_dict()[key].shape) == tuple(value.shape), key


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_load_state_dict_from_torch_gives_same_outputs(xp, rng, training, dtype):
    torch.manual_seed(0)
    theirs_g, theirs_d = generator(torch.nn), discriminator(torch.nn)
    # Move torch's running statistics away from their initial values first.
    for _ in range(2):
        theirs_d(theirs_g(torch.randn(4, 8, 1, 1)).detach())
    mine_g, mine_d = generator(nn), discriminator(nn)
    torch_dtype = torch.float64 if dtype == f64 else torch.float32
    for mine, theirs in ((mine_g, theirs_g), (mine_d, theirs_d)):
        theirs.to(torch_dtype)
        mine.to(device=device_of(xp), dtype=dtype)
        load_from_torch(mine, theirs)
        assert_same_state(mine, theirs, "after load_state_dict", rtol=0)
        mine.train(training)
        theirs.train(training)

    z = rng.standard_normal((4, 8, 1, 1))
    check_parity(xp, rng, lambda z: mine_d(mine_g(z)), lambda z: theirs_d(theirs_g(z)), z, dtype=dtype)
    for mine, theirs in ((mine_g, theirs_g), (mine_d, theirs_d)):
        for (name, p), (torch_name, q) in zip(mine.named_parameters(), theirs.named_parameters()):
            assert name == torch_name
            assert_close(p.grad, q.grad, f"gradient of {name}", RTOL[dtype])
        assert_same_state(mine, theirs, "after forward", RTOL[dtype])


def _bce(lib_f, logits, target):
    return lib_f.binary_cross_entropy_with_logits(logits, target)


def test_dcgan_three_adam_steps(xp, rng):
    """Three iterations of DCGAN training (D step, then G step through D), both with Adam.

    Non-saturating GAN loss on logits; every parameter and buffer is compared after each step.
    """
    torch.manual_seed(1)
    theirs_g, theirs_d = generator(torch.nn).double(), discriminator(torch.nn).double()
    mine_g = generator(nn).to(device=device_of(xp), dtype=f64)
    mine_d = discriminator(nn).to(device=device_of(xp), dtype=f64)
    load_from_torch(mine_g, theirs_g)
    load_from_torch(mine_d, theirs_d)
    start_g = {k: v.clone() for k, v in theirs_g.state_dict().items()}
    start_d = {k: v.clone() for k, v in theirs_d.state_dict().items()}
    betas = (0.5, 0.999)
    opt = {"mine_g": optim.Adam(mine_g.parameters(), lr=2e-4, betas=betas),
           "mine_d": optim.Adam(mine_d.parameters(), lr=2e-4, betas=betas),
           "theirs_g": torch.optim.Adam(theirs_g.parameters(), lr=2e-4, betas=betas),
           "theirs_d": torch.optim.Adam(theirs_d.parameters(), lr=2e-4, betas=betas)}
    batch = 4

    def mine_ones(value):
        return Tensor(xp.full((batch, 1), value, dtype=f64))

    for step in range(3):
        real = rng.uniform(-1, 1, (batch, 1, 8, 8))
        z = rng.standard_normal((batch, 8, 1, 1))

        # minigan
        opt["mine_d"].zero_grad()
        fake = mine_g(Tensor(xp.asarray(z)))
        loss_d = (_bce(F, mine_d(Tensor(xp.asarray(real))), mine_ones(1.0))
                  + _bce(F, mine_d(fake.detach()), mine_ones(0.0)))
        loss_d.backward()
        opt["mine_d"].step()
        opt["mine_g"].zero_grad()
        loss_g = _bce(F, mine_d(fake), mine_ones(1.0))
        loss_g.backward()
        opt["mine_g"].step()

        # torch
        opt["theirs_d"].zero_grad()
        t_fake = theirs_g(torch.from_numpy(z))
        t_loss_d = (_bce(TF, theirs_d(torch.from_numpy(real)), torch.ones(batch, 1, dtype=torch.float64))
                    + _bce(TF, theirs_d(t_fake.detach()), torch.zeros(batch, 1, dtype=torch.float64)))
        t_loss_d.backward()
        opt["theirs_d"].step()
        opt["theirs_g"].zero_grad()
        t_loss_g = _bce(TF, theirs_d(t_fake), torch.ones(batch, 1, dtype=torch.float64))
        t_loss_g.backward()
        opt["theirs_g"].step()

        assert_close(loss_d, t_loss_d, f"D loss at step {step + 1}")
        assert_close(loss_g, t_loss_g, f"G loss at step {step + 1}")
        assert_same_state(mine_d, theirs_d, f"discriminator after step {step + 1}")
        assert_same_state(mine_g, theirs_g, f"generator after step {step + 1}")
    # The weights really moved: the comparisons above are not between untouched copies.
    for mine, start in ((mine_g, start_g), (mine_d, start_d)):
        for key, value in start.items():
            if value.dtype == torch.float64:
                assert numpy.abs(as_numpy(mine.state_dict()[key]) - value.numpy()).max() > 1e-6, key
