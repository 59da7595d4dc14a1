"""The GAN losses of --loss, on D's logits (scores): each a pair of functions, D's loss of
(D(x), D(G(z))) and G's loss of D(G(z)), built from minigan ops.

Their constants are device arrays made by fill kernels, never Python numbers: an op turns a
number into an array by a host-to-device copy, which a CUDA graph capture (--cuda-graph) refuses."""
from .. import functional as F
from ..autograd import Tensor
from ..backend import array_module


def _full_like(logits, value):
    xp = array_module(logits.data)
    return Tensor(xp.full(logits.shape, value, logits.data.dtype))


def _mean(x):
    """F.mean(x), dividing by a device array (F.mean divides by a Python number)."""
    total = F.sum(x)
    return total / _full_like(total, x.data.size)


def bce_discriminator(d_real, d_fake):
    """DCGAN's: real is 1, fake is 0, on logits (Goodfellow et al. 2014)."""
    return F.binary_cross_entropy_with_logits(d_real, _full_like(d_real, 1)) + \
        F.binary_cross_entropy_with_logits(d_fake, _full_like(d_fake, 0))


def bce_generator(d_fake):
    """The non-saturating generator loss: -log D(G(z)), not log(1 - D(G(z)))."""
    return F.binary_cross_entropy_with_logits(d_fake, _full_like(d_fake, 1))


def hinge_discriminator(d_real, d_fake):
    """SNGAN's (Miyato et al. 2018, eq. 16 of Lim & Ye 2017): mean(relu(1 - D(x))) + mean(relu(1 + D(G(z))))."""
    return _mean(F.relu(_full_like(d_real, 1) - d_real)) + _mean(F.relu(_full_like(d_fake, 1) + d_fake))


def hinge_generator(d_fake):
    """-mean(D(G(z)))."""
    return _mean(-d_fake)


LOSSES = {"bce": (bce_discriminator, bce_generator), "hinge": (hinge_discriminator, hinge_generator)}
