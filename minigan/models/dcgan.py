"""DCGAN (Radford et al. 2015) for 32x32 or 64x64 images, laid out as pytorch/examples' dcgan.

The module tree (`main.0.weight`, `main.1.running_mean`, ...) is the one that
example builds, so state_dicts move between the two frameworks.
"""
from .. import init, nn

IMAGE_SIZES = (32, 64)


def _check_image_size(image_size):
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"DCGAN supports image sizes {IMAGE_SIZES}, got {image_size}")
    return IMAGE_SIZES.index(image_size) + 3  # stride-2 layers between 4x4 and the image


class Generator(nn.Module):
    """z (N, nz, 1, 1) -> image (N, nc, size, size) in [-1, 1]."""

    def __init__(self, nz=100, ngf=64, nc=3, image_size=32):
        super().__init__()
        blocks = _check_image_size(image_size)
        width = ngf * 2 ** (blocks - 1)
        layers = [nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
        for _ in range(blocks - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width // 2), nn.ReLU()]
            width //= 2
        layers += [nn.ConvTranspose2d(width, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.nz = nz
        self.main = nn.Sequential(*layers)

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    """image (N, nc, size, size) -> logits (N,)."""

    def __init__(self, ndf=64, nc=3, image_size=32):
        super().__init__()
        blocks = _check_image_size(image_size)
        layers = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
        width = ndf
        for _ in range(blocks - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2)]
            width *= 2
        layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)
        self.image_size = image_size

    def forward(self, image):
        if tuple(image.shape[2:]) != (self.image_size,) * 2:  # else: several logits per image
            raise ValueError(f"Discriminator(image_size={self.image_size}) takes (N, C, "
                             f"{self.image_size}, {self.image_size}) images, got shape {tuple(image.shape)}")
        return self.main(image).reshape(-1)


def init_weights(module, generator=None):
    """Radford et al.: conv weights N(0, 0.02); BatchNorm gamma N(1, 0.02), beta 0."""
    for _, m in module.named_modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            init.normal_(m.weight, 0.0, 0.02, generator)
        elif isinstance(m, nn.BatchNorm2d):
            init.normal_(m.weight, 1.0, 0.02, generator)
            init.constant_(m.bias, 0.0)
    return module
