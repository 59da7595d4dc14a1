"""DCGAN (Radford et al. 2015) for 32x32 or 64x64 images, laid out as pytorch/examples' dcgan.

The module tree (`main.0.weight`, `main.1.running_mean`, ...) is the one that
example builds, so state_dicts move between the two frameworks. With num_classes > 0 they are
class-conditional as conditional.py says (and G's first layer takes 2 * nz channels).
"""
from .. import init, nn
from ..nn.layers import run_layers
from .conditional import LabelledGenerator, ProjectionDiscriminator

IMAGE_SIZES = (32, 64)


def _check_image_size(image_size):
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"DCGAN supports image sizes {IMAGE_SIZES}, got {image_size}")
    return IMAGE_SIZES.index(image_size) + 3  # stride-2 layers between 4x4 and the image


class Generator(LabelledGenerator):
    """z (N, nz, 1, 1) (and labels y (N,) if num_classes) -> image (N, nc, size, size) in [-1, 1]."""

    CHANNELS_DIM = 1  # of the last transposed conv's weight (in, out, kh, kw): the image channels

    def __init__(self, nz=100, ngf=64, nc=3, image_size=32, num_classes=0):
        super().__init__(nz, num_classes)
        blocks = _check_image_size(image_size)
        width = ngf * 2 ** (blocks - 1)
        layers = [nn.ConvTranspose2d(self.input_width, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
        for _ in range(blocks - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width // 2), nn.ReLU()]
            width //= 2
        layers += [nn.ConvTranspose2d(width, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def generate(self, z):
        return self.main(z)


class Discriminator(ProjectionDiscriminator):
    """image (N, nc, size, size) (and labels y (N,) if num_classes) -> logits (N,); the last
    conv is the head, on the 4x4 map h of the layers before it.

    batchnorm=False leaves out the BatchNorm layers, as the spectrally normalized D of the
    SNGAN papers does: after a BatchNorm, the convs before it are free in scale, so spectral
    norm would bound the head alone."""

    def __init__(self, ndf=64, nc=3, image_size=32, num_classes=0, batchnorm=True):
        super().__init__()
        blocks = _check_image_size(image_size)
        layers = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
        width = ndf
        for _ in range(blocks - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                       *([nn.BatchNorm2d(width * 2)] if batchnorm else []), nn.LeakyReLU(0.2)]
            width *= 2
        layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)
        self.image_size = image_size
        self.feature_size = width * 4 * 4
        self.add_projection(num_classes)

    def features(self, image):
        if tuple(image.shape[2:]) != (self.image_size,) * 2:  # else: several logits per image
            raise ValueError(f"Discriminator(image_size={self.image_size}) takes (N, C, "
                             f"{self.image_size}, {self.image_size}) images, got shape {tuple(image.shape)}")
        return run_layers(list(self.main)[:-1], image)  # as Sequential: batchnorm+LeakyReLU run fused

    def head(self, h):
        return self.main[-1](h).reshape(-1)


def init_weights(module, generator=None):
    """Radford et al.: conv (and linear) weights N(0, 0.02), their biases 0; BatchNorm gamma
    N(1, 0.02), beta 0. (SNGAN's code draws N(0, 0.02) too.) Embeddings keep their own."""
    for _, m in module.named_modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            init.normal_(m.weight, 0.0, 0.02, generator)
            if m.bias is not None:
                init.constant_(m.bias, 0.0)
        elif isinstance(m, nn.BatchNorm2d):
            init.normal_(m.weight, 1.0, 0.02, generator)
            init.constant_(m.bias, 0.0)
    return module
