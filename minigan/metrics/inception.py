"""pytorch-fid's Inception-v3 (the network of FID, IS and KID) as minigan modules.

The layers, their order and their state_dict keys are those of pytorch-fid's
`fid_inception_v3` (torchvision's Inception3 with num_classes=1008, no auxiliary
classifier, and FID's patched blocks), so its published weight file
pt_inception-2015-12-05-6726825d.pth loads as it is. What differs from
torchvision's Inception (the TensorFlow graph that FID was defined on):
average pools that leave the padding out of the divisor (count_include_pad=False)
in the A, C and E blocks, and a max pool in the last E block's pool branch.
Inputs in [0, 1] are resized to 299x299 (bilinear, align_corners=False) and
scaled to [-1, 1], as pytorch-fid does; the outputs are the 2048 pool3 features
and the 1008 logits of the original Inception Score (pool3 @ fc.weight.T,
without fc's bias, as torch-fidelity's `logits_unbiased`).
"""
import os
from pathlib import Path

import numpy

from .. import functional as F
from .. import nn
from ..autograd import Tensor, no_grad
from ..backend import array_module, to_numpy
from ..serialization import load

FID_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                   "pt_inception-2015-12-05-6726825d.pth")
WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
INPUT_SIZE = 299


class InceptionWeightsMissing(FileNotFoundError):
    """The Inception weight file is not where it was looked for; the message says how to get it."""


class BasicConv2d(nn.Module):
    """Convolution without bias, batchnorm (eps=0.001), ReLU."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _average_pool(x):
    """The pool branch of FID's A, C and E blocks: TensorFlow's average leaves the padding out."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class FIDInceptionA(nn.Module):
    def __init__(self, in_channels, pool_features):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, 1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, 1)

    def forward(self, x):
        return F.cat([self.branch1x1(x),
                      self.branch5x5_2(self.branch5x5_1(x)),
                      self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                      self.branch_pool(_average_pool(x))], 1)


class InceptionB(nn.Module):
    def __init__(self, in_channels):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x):
        return F.cat([self.branch3x3(x),
                      self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                      F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class FIDInceptionC(nn.Module):
    def __init__(self, in_channels, channels_7x7):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x):
        double = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            double = layer(double)
        return F.cat([self.branch1x1(x),
                      self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
                      double,
                      self.branch_pool(_average_pool(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, in_channels):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x):
        return F.cat([self.branch3x3_2(self.branch3x3_1(x)),
                      self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x)))),
                      F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class FIDInceptionE(nn.Module):
    """pytorch-fid's FIDInceptionE_1 (max_pool=False: Mixed_7b) and FIDInceptionE_2 (max_pool=True:
    Mixed_7c, whose pool branch takes a 3x3 max instead of the average)."""

    def __init__(self, in_channels, max_pool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(in_channels, 320, 1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x):
        single = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else _average_pool(x)
        return F.cat([self.branch1x1(x),
                      self.branch3x3_2a(single), self.branch3x3_2b(single),
                      self.branch3x3dbl_3a(double), self.branch3x3dbl_3b(double),
                      self.branch_pool(pooled)], 1)


class InceptionV3(nn.Module):
    """pytorch-fid's InceptionV3 on fid_inception_v3: images (N, 3, H, W) in [0, 1] to
    (pool3 features (N, 2048), logits (N, 1008)). With resize_input=False the images go in at their
    own size (at least 75x75), as pytorch-fid's flag of that name."""

    def __init__(self, resize_input=True):
        super().__init__()
        self.resize_input = resize_input
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = FIDInceptionA(192, pool_features=32)
        self.Mixed_5c = FIDInceptionA(256, pool_features=64)
        self.Mixed_5d = FIDInceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        self.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = FIDInceptionE(1280, max_pool=False)
        self.Mixed_7c = FIDInceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)
        self.eval()

    def forward(self, x):
        if self.resize_input:
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        features = F.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)
        return features, F.linear(features, self.fc.weight)


def cache_dir():
    """Where minigan keeps downloads and cached statistics: $MINIGAN_CACHE, else
    $XDG_CACHE_HOME/minigan, else ~/.cache/minigan."""
    if os.environ.get("MINIGAN_CACHE"):
        return Path(os.environ["MINIGAN_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "minigan"


def default_weights_path():
    """minigan's cache, or torch hub's checkpoint folder where pytorch-fid has put the file already."""
    torch_hub = Path(os.environ.get("TORCH_HOME") or Path.home() / ".cache" / "torch") / "hub" / "checkpoints"
    ours = cache_dir() / WEIGHTS_NAME
    return next((path for path in (ours, torch_hub / WEIGHTS_NAME) if path.is_file()), ours)


def fid_inception_v3(weights=None, resize_input=True, device="cpu", dtype=numpy.float32):
    """InceptionV3 with pytorch-fid's weights from `weights` (default: default_weights_path()), in eval mode."""
    path = Path(default_weights_path() if weights is None else weights)
    if not path.is_file():
        raise InceptionWeightsMissing(
            f"the Inception weights are not at {path}: download them once with "
            f"`curl -L --create-dirs -o {path} {FID_WEIGHTS_URL}` (or give their path with --weights / weights=)")
    model = InceptionV3(resize_input)
    missing, unexpected = model.load_state_dict(load(path), strict=False)
    # Files written before torch 0.4.1 have no num_batches_tracked; torch's batchnorm loads them too.
    missing = [key for key in missing if not key.endswith(".num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(f"{path} is not pytorch-fid's Inception state dict: missing keys {missing[:5]} "
                         f"({len(missing)}), unexpected keys {unexpected[:5]} ({len(unexpected)})")
    return model.to(device, dtype)


def as_unit_images(images):
    """images (N, C, H, W), uint8 (0..255) or float in [0, 1], C 1 or 3, as float (N, 3, H, W) in [0, 1]
    (uint8 divided by 255 as torchvision's ToTensor; one channel repeated, as PIL's convert('RGB'))."""
    images = numpy.asarray(images)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"Inception takes images (N, 3, H, W) or (N, 1, H, W), got shape {images.shape}")
    if images.dtype == numpy.uint8:
        images = images.astype(numpy.float32) / 255
    elif images.dtype.kind != "f":
        raise TypeError(f"Inception takes uint8 images or floats in [0, 1], got {images.dtype}")
    elif images.size and (images.min() < 0 or images.max() > 1):
        raise ValueError(f"Inception takes float images in [0, 1], got values in [{images.min()}, {images.max()}]; "
                         f"map generator outputs in [-1, 1] with (x + 1) / 2")
    return numpy.repeat(images, 3, axis=1) if images.shape[1] == 1 else images


def inception_outputs(images, model, batch_size=50):
    """(pool3 features (N, 2048), logits (N, 1008)), float64 on the host, of images (as as_unit_images
    takes them) through model, in batches on the model's device and in its dtype."""
    weight = model.fc.weight.data
    xp = array_module(weight)
    features, logits = [], []
    with no_grad():
        for start in range(0, len(images), batch_size):
            pool3, logit = model(Tensor(xp.asarray(as_unit_images(images[start:start + batch_size]),
                                                   dtype=weight.dtype)))
            features.append(to_numpy(pool3.data).astype(numpy.float64))
            logits.append(to_numpy(logit.data).astype(numpy.float64))
    return numpy.concatenate(features), numpy.concatenate(logits)
