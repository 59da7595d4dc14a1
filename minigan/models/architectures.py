"""The trainer's architectures by name (--arch), built as the trainer and sample.py need them:
class-conditional or not, D spectrally normalized or not, and read back from a state_dict."""
from .. import nn
from ..nn.utils import spectral_norm
from . import dcgan, sngan

ARCHITECTURES = {"dcgan": dcgan, "sngan-cnn": sngan}
IMAGE_SIZES = {"dcgan": dcgan.IMAGE_SIZES, "sngan-cnn": (sngan.IMAGE_SIZE,)}
# The layers whose weight is a matrix (flattened as spectral_norm does) that D's logit is linear in.
SPECTRALLY_NORMALIZED = (nn.Conv2d, nn.Linear, nn.Embedding)


def generator(arch, nz, ngf, nc, image_size, num_classes=0):
    return ARCHITECTURES[arch].Generator(nz, ngf, nc, image_size, num_classes)


def discriminator(arch, ndf, nc, image_size, num_classes=0, batchnorm=None):
    """arch's D; batchnorm=False leaves out DCGAN's BatchNorm layers (the standard CNN has
    none), None keeps the architecture's own."""
    if batchnorm is None or arch != "dcgan":
        return ARCHITECTURES[arch].Discriminator(ndf, nc, image_size, num_classes)
    return dcgan.Discriminator(ndf, nc, image_size, num_classes, batchnorm)


def spectrally_normalize(D):
    """D with every conv, linear and (projection) embedding layer spectrally normalized, as the
    SNGAN papers do; BatchNorm layers (DCGAN's) are left as they are."""
    for _, layer in list(D.named_modules()):
        if isinstance(layer, SPECTRALLY_NORMALIZED):
            spectral_norm(layer)
    return D


def image_channels(arch, state):
    """The image channels of arch's generator state_dict: its last image layer's output width,
    or None if the state has no such layer."""
    convs = [k for k in state if k.startswith("main.") and k.endswith(".weight") and state[k].ndim == 4]
    if not convs:
        return None
    last = max(convs, key=lambda k: int(k.split(".")[1]))
    return state[last].shape[ARCHITECTURES[arch].Generator.CHANNELS_DIM]


def num_classes(state):
    """The classes of a generator state_dict: 0 if it is unconditional."""
    return state["embed.weight"].shape[0] if "embed.weight" in state else 0
