"""--arch sngan-cnn, --spectral-norm, --no-d-batchnorm and --conditional: three whole training steps equal a
PyTorch loop on nets written here from the papers (float64, same weights, batches, labels
and noise); runs with them resume bit-exact; sample grids have one row per class; bad
combinations are refused in one line."""
import matplotlib.pyplot as plt
import numpy
import pytest
from PIL import Image

from minigan import Tensor
from minigan.training import Config, Trainer, main, sampling
from nn.test_models import torch_discriminator, torch_generator

from .test_cli_inputs import FAKE, status_and_stderr
from .test_gan_options import TorchDCGAN, assert_three_steps_equal_torch
from .test_trainer import assert_resume_is_bit_exact, tiny_config

torch = pytest.importorskip("torch", reason="PyTorch is the test oracle: pip install torch==2.13.0")
tnn = torch.nn
sn = tnn.utils.spectral_norm
CLASSES = 10  # of the fake data set


class TorchSNGANGenerator(tnn.Module):
    """Miyato et al. 2018, Table 3 (a), widths in units of ngf (64 in the paper): dense to
    4x4x8ngf, BN, ReLU (as the authors' code), three 4x4 stride-2 deconvs with BN and ReLU
    (without the bias that BN cancels), a 3x3 conv to the image, tanh. Conditional: an nz-wide
    class embedding joins z."""

    def __init__(self, nz, ngf, nc, num_classes=0):
        super().__init__()
        self.ngf = ngf
        if num_classes:
            self.embed = tnn.Embedding(num_classes, nz)
        self.linear = tnn.Linear(2 * nz if num_classes else nz, 4 * 4 * 8 * ngf)
        self.main = tnn.Sequential(
            tnn.BatchNorm2d(8 * ngf), tnn.ReLU(),
            tnn.ConvTranspose2d(8 * ngf, 4 * ngf, 4, 2, 1, bias=False), tnn.BatchNorm2d(4 * ngf), tnn.ReLU(),
            tnn.ConvTranspose2d(4 * ngf, 2 * ngf, 4, 2, 1, bias=False), tnn.BatchNorm2d(2 * ngf), tnn.ReLU(),
            tnn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1, bias=False), tnn.BatchNorm2d(ngf), tnn.ReLU(),
            tnn.Conv2d(ngf, nc, 3, 1, 1), tnn.Tanh())

    def forward(self, z, y=None):
        if y is not None:
            z = torch.cat([z, self.embed(y)[:, :, None, None]], 1)
        return self.main(self.linear(z.flatten(1)).view(len(z), 8 * self.ngf, 4, 4))


class Projection(tnn.Module):
    """Miyato & Koyama 2018: D(x, y) = head(h) + <embed(y), h>, h = features(x) flattened."""

    def forward(self, x, y=None):
        h = self.features(x)
        logits = self.head(h)
        return logits if y is None else logits + (self.embed(y) * h.flatten(1)).sum(1)


class TorchSNGANDiscriminator(Projection):
    """Miyato et al. 2018, Table 3 (b), widths in units of ndf (64 in the paper), LeakyReLU 0.1;
    every layer spectrally normalized (torch's spectral_norm) unless spectral is False."""

    def __init__(self, ndf, nc, num_classes=0, spectral=True):
        super().__init__()
        norm = sn if spectral else (lambda layer: layer)
        self.main = tnn.Sequential(
            norm(tnn.Conv2d(nc, ndf, 3, 1, 1)), tnn.LeakyReLU(0.1),
            norm(tnn.Conv2d(ndf, ndf, 4, 2, 1)), tnn.LeakyReLU(0.1),
            norm(tnn.Conv2d(ndf, 2 * ndf, 3, 1, 1)), tnn.LeakyReLU(0.1),
            norm(tnn.Conv2d(2 * ndf, 2 * ndf, 4, 2, 1)), tnn.LeakyReLU(0.1),
            norm(tnn.Conv2d(2 * ndf, 4 * ndf, 3, 1, 1)), tnn.LeakyReLU(0.1),
            norm(tnn.Conv2d(4 * ndf, 4 * ndf, 4, 2, 1)), tnn.LeakyReLU(0.1),
            norm(tnn.Conv2d(4 * ndf, 8 * ndf, 3, 1, 1)), tnn.LeakyReLU(0.1))
        self.linear = norm(tnn.Linear(4 * 4 * 8 * ndf, 1))
        if num_classes:
            self.embed = norm(tnn.Embedding(num_classes, 4 * 4 * 8 * ndf))

    def features(self, x):
        return self.main(x).flatten(1)

    def head(self, h):
        return self.linear(h).flatten()


class TorchConditionalDCGANGenerator(tnn.Module):
    """pytorch/examples' DCGAN G on z with an nz-wide class embedding joined to it."""

    def __init__(self, nz, ngf, nc, num_classes):
        super().__init__()
        self.embed = tnn.Embedding(num_classes, nz)
        self.main = torch_generator(2 * nz, ngf, nc, 32).main

    def forward(self, z, y):
        return self.main(torch.cat([z, self.embed(y)[:, :, None, None]], 1))


class TorchDCGANProjection(Projection):
    """pytorch/examples' DCGAN D whose last conv is the head, with a projection on its input."""

    def __init__(self, ndf, nc, num_classes):
        super().__init__()
        self.main = torch_discriminator(ndf, nc, 32).main
        self.embed = tnn.Embedding(num_classes, 4 * 4 * 4 * ndf)

    def features(self, x):
        return self.main[:-1](x)

    def head(self, h):
        return self.main[-1](h).flatten()


def spectrally_normalized(D):
    """D with torch's spectral_norm on every conv, linear and embedding layer."""
    for module in list(D.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, (tnn.Conv2d, tnn.Linear, tnn.Embedding)):
                setattr(module, name, sn(child))
    return D


def torch_nets(config):
    """The torch reference (G, D) of config, on 3 channels (the fake data's)."""
    classes = CLASSES if config.conditional else 0
    if config.arch == "sngan-cnn":
        return (TorchSNGANGenerator(config.nz, config.ngf, 3, classes),
                TorchSNGANDiscriminator(config.ndf, 3, classes, config.spectral_norm))
    if config.conditional:
        G, D = TorchConditionalDCGANGenerator(config.nz, config.ngf, 3, classes), \
            TorchDCGANProjection(config.ndf, 3, classes)
    else:
        G, D = TorchDCGAN(torch_generator(config.nz, config.ngf, 3, 32), False), \
            TorchDCGAN(torch_discriminator(config.ndf, 3, 32), True)
    if not config.d_batchnorm:  # --no-d-batchnorm: the same layers, less the BatchNorms
        D.main = tnn.Sequential(*(m for m in D.main if not isinstance(m, tnn.BatchNorm2d)))
    return G, spectrally_normalized(D) if config.spectral_norm else D


@pytest.mark.parametrize("options", [
    dict(arch="sngan-cnn", loss="hinge"),
    dict(arch="sngan-cnn", loss="bce", spectral_norm=False, n_critic=2),
    dict(arch="dcgan", loss="hinge", spectral_norm=True),
    dict(arch="dcgan", loss="hinge", spectral_norm=True, d_batchnorm=False, beta1=0.0),
    dict(arch="dcgan", loss="bce", d_batchnorm=False, conditional=True),
    dict(arch="dcgan", loss="bce", conditional=True),
    dict(arch="sngan-cnn", loss="hinge", conditional=True, n_critic=2, lr_d=4e-4),
    dict(arch="sngan-cnn", loss="hinge", conditional=True, r1=1.0),  # R1 through spectral norm and projection
    dict(arch="dcgan", loss="wgan-gp", conditional=True),
], ids=lambda options: "-".join(f"{k}={v}" for k, v in options.items()))
def test_three_training_steps_equal_pytorch_in_float64(options, tmp_path):
    config = tiny_config(tmp_path, lr=3e-4, **options)
    assert_three_steps_equal_torch(config, *torch_nets(config))


def test_spectral_norm_is_on_for_sngan_only_by_default_and_in_help(capsys):
    assert Config(arch="sngan-cnn").spectral_norm and not Config().spectral_norm
    assert not Config(arch="sngan-cnn", spectral_norm=False).spectral_norm
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: on for --arch sngan-cnn, off for dcgan)" in out


def test_d_batchnorm_is_dcgan_s_own_and_refused_for_sngan(tmp_path, capsys):
    assert Config().d_batchnorm and not Config(arch="sngan-cnn").d_batchnorm
    assert not Config(d_batchnorm=False).d_batchnorm
    D = Trainer(tiny_config(tmp_path, spectral_norm=True, d_batchnorm=False)).D
    # conv, LeakyReLU, conv, LeakyReLU, conv, LeakyReLU, head: no BatchNorm and its buffers gone.
    assert [type(m).__name__ for m in D.main] == ["Conv2d", "LeakyReLU"] * 3 + ["Conv2d"]
    assert not any("running" in key for key in D.state_dict())
    with pytest.raises(ValueError, match="--d-batchnorm is for --arch dcgan; the D of --arch sngan-cnn has no BatchNorm"):
        Config(arch="sngan-cnn", d_batchnorm=True)
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--d-batchnorm, --no-d-batchnorm" in out and "(default: on for --arch dcgan; sngan-cnn's D has none)" in out


def test_dcgan_without_d_batchnorm_resumes_bit_exact_and_samples(tmp_path):
    assert_resume_is_bit_exact(tmp_path, spectral_norm=True, d_batchnorm=False)
    trainer = Trainer(tiny_config(tmp_path / "s", max_steps=1, spectral_norm=True, d_batchnorm=False))
    trainer.run()
    assert sampling.main(["--checkpoint", trainer.config.out, "--n", "2", "--out", str(tmp_path / "s.png")]) == 0


def test_sngan_conditional_resumes_bit_exact_with_its_spectral_norm_vectors(tmp_path):
    _, saved = assert_resume_is_bit_exact(tmp_path, arch="sngan-cnn", conditional=True, ema=0.9)
    # u and v moved with the run (the power iteration) and were saved, as was the projection.
    for key in ("D/main.0.weight_u", "D/linear.weight_v", "D/embed.weight_orig", "D/embed.weight_u"):
        assert key in saved, key
    assert saved["G/embed.weight"].shape == (CLASSES, 8)
    assert saved["D/embed.weight_orig"].shape == (CLASSES, 4 * 4 * 8 * 4)


def test_conditional_samples_have_one_row_per_class(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, max_steps=2, conditional=True, arch="sngan-cnn", ngf=8))
    trainer.run()
    grid = trainer.path("samples.png")
    height, width = plt.imread(grid).shape[:2]
    assert (height, width) == (CLASSES * 34 + 2, 8 * 34 + 2)
    # sample.py: row c holds class c, column j the same noise z_j in every row.
    out, npy = tmp_path / "s.png", tmp_path / "s.npy"
    assert sampling.main(["--checkpoint", trainer.config.out, "--n", "3", "--seed", "4",
                          "--out", str(out), "--save-npy", str(npy)]) == 0
    samples = numpy.load(npy)
    G = sampling.load_generator(trainer.config.out)
    z = numpy.random.default_rng(4).standard_normal((3, 8, 1, 1))
    for c in (0, 7):
        expected = sampling.sample(G, z, numpy.full(3, c))
        numpy.testing.assert_array_equal(samples[3 * c:3 * c + 3], expected)
    assert not numpy.allclose(samples[:3], samples[3:6])  # the class matters
    assert plt.imread(out).shape[:2] == (CLASSES * 34 + 2, 3 * 34 + 2)


def test_bad_combinations_are_refused_in_one_line(tmp_path, capsys):
    one_class = tmp_path / "images" / "only"
    one_class.mkdir(parents=True)
    pixels = numpy.zeros((8, 8, 3), numpy.uint8)
    for k in range(8):
        Image.fromarray(pixels + k).save(one_class / f"{k}.png")
    for flags, phrase in (
            (["--dataset", "folder", "--data-dir", str(tmp_path / "images"), "--conditional"],
             "--conditional needs labelled data of 2 classes or more; --dataset folder in"),
            (["--arch", "sngan-cnn", "--image-size", "64"], "--arch sngan-cnn is for --image-size 32 only, got 64"),
            (["--arch", "resnet"], "arch must be one of ('dcgan', 'sngan-cnn'), got 'resnet'")):
        status, err = status_and_stderr(lambda: main([*FAKE, "--max-steps", "1", "--out", str(tmp_path / "run"),
                                                      *flags]), capsys)
        # One line (after argparse's usage, for the flags it parses).
        assert status == 2 and phrase in err.strip().splitlines()[-1] and "Traceback" not in err, err
    for options in (dict(arch="sngan-cnn"), dict(conditional=True)):
        with pytest.raises(ValueError, match="--cuda-graph cannot capture --spectral-norm or --conditional yet"):
            Config(backend="cupy", cuda_graph=True, **options)
    with pytest.raises(ValueError, match="--conditional needs the images' labels"):
        Trainer(tiny_config(tmp_path, conditional=True), images=numpy.zeros((16, 3, 32, 32), numpy.uint8))


def test_unconditional_nets_refuse_labels_and_conditional_ones_want_them():
    trainer = Trainer(Config(**{**dict(dataset="fake", batch_size=8, ngf=4, ndf=4, nz=8), "conditional": True}))
    z, y = Tensor(numpy.zeros((2, 8, 1, 1), numpy.float32)), Tensor(numpy.array([1, 2]))
    with pytest.raises(ValueError, match="class-conditional \\(10 classes\\): give the labels y"):
        trainer.G(z)
    with pytest.raises(ValueError, match="labels y must have shape \\(2,\\), one per sample, got \\(3,\\)"):
        trainer.D(trainer.G(z, y), Tensor(numpy.array([1, 2, 3])))
    plain = Trainer(Config(dataset="fake", batch_size=8, ngf=4, ndf=4, nz=8))
    with pytest.raises(ValueError, match="unconditional \\(num_classes=0\\): it takes no labels"):
        plain.G(z, y)
