"""The "standard CNN" of the SNGAN paper (Miyato et al. 2018, Table 3) for 32x32 images.

G: z -> dense to 4x4x(8 ngf) -> three 4x4 stride-2 transposed convs halving the width
(8 ngf -> 4 ngf -> 2 ngf -> ngf), each with BatchNorm and ReLU -> 3x3 stride-1 conv to the
image's channels, tanh. The table lists the dense layer bare; the authors' code
(chainer-gan-lib's DCGANGenerator) follows it with BatchNorm and ReLU, as here, where the
BatchNorm is per channel of the 4x4 map (as in the PyTorch ports; minigan has no BatchNorm1d).
D: 3x3 s1 conv ndf, then 4x4 s2 ndf, 3x3 2 ndf, 4x4 s2 2 ndf, 3x3 4 ndf, 4x4 s2 4 ndf,
3x3 8 ndf, each followed by LeakyReLU(0.1), then dense from the 4x4x(8 ndf) map to one logit.
Every layer has a bias but G's transposed convs, whose per-channel bias the BatchNorm after
them would cancel (its gradient is 0). ngf = ndf = 64 and nz = 128 are the paper's. Spectral normalization
is the trainer's choice (--spectral-norm), applied to this D from outside.
"""
from .. import functional as F
from .. import nn
from .conditional import LabelledGenerator, ProjectionDiscriminator

IMAGE_SIZE = 32
BOTTOM = 4  # the side of the first (G) and last (D) feature map
SLOPE = 0.1  # the paper's LeakyReLU slope


def check_image_size(image_size):
    if image_size != IMAGE_SIZE:
        raise ValueError(f"the SNGAN standard CNN is for {IMAGE_SIZE}x{IMAGE_SIZE} images, got image size "
                         f"{image_size}")


class Generator(LabelledGenerator):
    """z (N, nz, 1, 1) (and labels y (N,) if num_classes) -> image (N, nc, 32, 32) in [-1, 1]."""

    CHANNELS_DIM = 0  # of the last conv's weight (out, in, kh, kw): the image channels

    def __init__(self, nz=128, ngf=64, nc=3, image_size=IMAGE_SIZE, num_classes=0):
        super().__init__(nz, num_classes)
        check_image_size(image_size)
        self.width = 8 * ngf
        self.linear = nn.Linear(self.input_width, BOTTOM * BOTTOM * self.width)
        layers = [nn.BatchNorm2d(self.width), nn.ReLU()]
        for width in (8 * ngf, 4 * ngf, 2 * ngf):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2),
                       nn.ReLU()]
        layers += [nn.Conv2d(ngf, nc, 3, 1, 1), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def generate(self, z):
        h = self.linear(F.flatten(z, 1))
        return self.main(F.reshape(h, z.shape[0], self.width, BOTTOM, BOTTOM))


class Discriminator(ProjectionDiscriminator):
    """image (N, nc, 32, 32) (and labels y (N,) if num_classes) -> logits (N,); the dense layer
    is the head, on the flattened 4x4 map h of the convs."""

    def __init__(self, ndf=64, nc=3, image_size=IMAGE_SIZE, num_classes=0):
        super().__init__()
        check_image_size(image_size)
        layers, width = [], nc
        for out in (ndf, 2 * ndf, 4 * ndf):
            layers += [nn.Conv2d(width, out, 3, 1, 1), nn.LeakyReLU(SLOPE),
                       nn.Conv2d(out, out, 4, 2, 1), nn.LeakyReLU(SLOPE)]
            width = out
        layers += [nn.Conv2d(width, 8 * ndf, 3, 1, 1), nn.LeakyReLU(SLOPE)]
        self.main = nn.Sequential(*layers)
        self.feature_size = BOTTOM * BOTTOM * 8 * ndf
        self.linear = nn.Linear(self.feature_size, 1)
        self.add_projection(num_classes)

    def features(self, image):
        if tuple(image.shape[1:]) != (self.main[0].in_channels, IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"this Discriminator takes (N, {self.main[0].in_channels}, {IMAGE_SIZE}, "
                             f"{IMAGE_SIZE}) images, got shape {tuple(image.shape)}")
        return F.flatten(self.main(image), 1)

    def head(self, h):
        return F.reshape(self.linear(h), -1)
