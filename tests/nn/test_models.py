"""DCGAN models: layout, Radford initialisation, and weights moving both ways with PyTorch."""
import numpy
import pytest

from minigan import Tensor
from minigan.models.dcgan import Discriminator, Generator, init_weights

torch = pytest.importorskip("torch", reason="PyTorch is the test oracle: pip install torch==2.13.0")
tnn = torch.nn


def torch_generator(nz, ngf, nc, image_size):
    """pytorch/examples' dcgan Generator, built independently of minigan's code."""
    widths = [ngf * 8, ngf * 4, ngf * 2, ngf] if image_size == 64 else [ngf * 4, ngf * 2, ngf]
    layers = [tnn.ConvTranspose2d(nz, widths[0], 4, 1, 0, bias=False), tnn.BatchNorm2d(widths[0]), tnn.ReLU(True)]
    for a, b in zip(widths, widths[1:]):
        layers += [tnn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), tnn.BatchNorm2d(b), tnn.ReLU(True)]
    layers += [tnn.ConvTranspose2d(widths[-1], nc, 4, 2, 1, bias=False), tnn.Tanh()]
    model = tnn.Module()
    model.main = tnn.Sequential(*layers)
    return model


def torch_discriminator(ndf, nc, image_size):
    widths = [ndf, ndf * 2, ndf * 4, ndf * 8] if image_size == 64 else [ndf, ndf * 2, ndf * 4]
    layers = [tnn.Conv2d(nc, ndf, 4, 2, 1, bias=False), tnn.LeakyReLU(0.2, inplace=True)]
    for a, b in zip(widths, widths[1:]):
        layers += [tnn.Conv2d(a, b, 4, 2, 1, bias=False), tnn.BatchNorm2d(b), tnn.LeakyReLU(0.2, inplace=True)]
    layers += [tnn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False)]
    model = tnn.Module()
    model.main = tnn.Sequential(*layers)
    return model


def _randomize_batchnorm(model):
    """Non-trivial running statistics, so eval mode really tests them."""
    generator = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, tnn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=generator, dtype=torch.float64) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=generator, dtype=torch.float64) + 0.5)
            m.num_batches_tracked.fill_(7)


def _as_numpy(state):
    return {k: v.detach().numpy() for k, v in state.items()}


@pytest.mark.parametrize("image_size", [32, 64])
@pytest.mark.parametrize("training", [True, False])
def test_torch_weights_load_into_minigan_and_give_the_same_output(image_size, training):
    torch.manual_seed(0)
    nz, ngf, ndf, nc, n = 12, 4, 4, 3, 3
    pairs = [(torch_generator(nz, ngf, nc, image_size), Generator(nz, ngf, nc, image_size),
              numpy.random.default_rng(0).standard_normal((n, nz, 1, 1))),
             (torch_discriminator(ndf, nc, image_size), Discriminator(ndf, nc, image_size),
              numpy.random.default_rng(1).uniform(-1, 1, (n, nc, image_size, image_size)))]
    for theirs, mine, x in pairs:
        theirs = theirs.double().train(training)
        _randomize_batchnorm(theirs)
        mine.to(dtype=numpy.float64).train(training)
        assert list(mine.state_dict()) == list(theirs.state_dict())
        mine.load_state_dict(_as_numpy(theirs.state_dict()))
        expected = theirs.main(torch.tensor(x)).detach().numpy()
        if isinstance(mine, Discriminator):  # torch's D gives (N, 1, 1, 1); minigan's logits are (N,)
            expected = expected.reshape(-1)
        numpy.testing.assert_allclose(mine(Tensor(x)).data, expected, rtol=1e-9, atol=1e-12)


def test_minigan_weights_export_to_torch():
    init_rng = numpy.random.default_rng(3)
    mine = init_weights(Generator(nz=8, ngf=4, nc=1), init_rng).to(dtype=numpy.float64).eval()
    theirs = torch_generator(8, 4, 1, 32).double().eval()
    theirs.load_state_dict({k: torch.from_numpy(numpy.array(v)) for k, v in mine.state_dict().items()})
    z = numpy.random.default_rng(4).standard_normal((2, 8, 1, 1))
    numpy.testing.assert_allclose(mine(Tensor(z)).data, theirs.main(torch.tensor(z)).detach().numpy(),
                                  rtol=1e-9, atol=1e-12)


def test_shapes_and_radford_initialisation():
    G = init_weights(Generator(nz=100, ngf=64, nc=3), numpy.random.default_rng(0))
    D = init_weights(Discriminator(ndf=64, nc=3), numpy.random.default_rng(1))
    z = Tensor(numpy.random.default_rng(2).standard_normal((2, 100, 1, 1)).astype(numpy.float32))
    image = G(z)
    assert image.shape == (2, 3, 32, 32) and image.dtype == numpy.float32
    assert D(image).shape == (2,)
    conv_weights = [p.data for name, p in G.named_parameters() if p.ndim == 4]
    conv_weights += [p.data for name, p in D.named_parameters() if p.ndim == 4]
    for w in conv_weights:
        assert abs(w.mean()) < 0.005 and 0.017 < w.std() < 0.023
    gammas = numpy.concatenate([p.data for name, p in G.named_parameters() if name.endswith(".weight") and p.ndim == 1])
    betas = numpy.concatenate([p.data for name, p in G.named_parameters() if name.endswith(".bias")])
    assert abs(gammas.mean() - 1) < 0.005 and 0.015 < gammas.std() < 0.025
    assert not betas.any()
    with pytest.raises(ValueError, match="image sizes \\(32, 64\\), got 48"):
        Generator(image_size=48)
