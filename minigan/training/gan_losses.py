"""The GAN losses of --loss, on D's logits (scores), built from minigan ops: each loss object
gives D's loss of (D(x), D(G(z))) and G's loss of D(G(z)).

Their constants (targets, ones, counts) are device arrays filled once and kept: a step then
fills none (on the GPU, launches fewer per step), and no Python number reaches an op, which
would turn it into an array by a host-to-device copy, refused in CUDA graph capture (--cuda-graph)."""
from .. import functional as F
from ..autograd import Tensor
from ..backend import array_module


class Constants:
    """Tensors filled with a value, made on first use for each shape, dtype and array module."""

    def __init__(self):
        self.made = {}

    def full_like(self, tensor, value):
        xp, shape, dtype = array_module(tensor.data), tuple(tensor.shape), tensor.data.dtype
        key = (xp.__name__, shape, dtype.str, value)
        if key not in self.made:
            self.made[key] = Tensor(xp.full(shape, value, dtype))
        return self.made[key]

    def mean(self, x):
        """F.mean(x), dividing by a kept device array (F.mean divides by a Python number)."""
        total = F.sum(x)
        return total / self.full_like(total, x.data.size)


class BCELoss:
    """DCGAN's (Goodfellow et al. 2014), on logits: D takes real for 1 and fake for 0; G's is
    the non-saturating -log D(G(z)), not log(1 - D(G(z)))."""

    def __init__(self):
        self.constants = Constants()

    def discriminator(self, d_real, d_fake):
        full_like = self.constants.full_like
        return F.binary_cross_entropy_with_logits(d_real, full_like(d_real, 1)) + \
            F.binary_cross_entropy_with_logits(d_fake, full_like(d_fake, 0))

    def generator(self, d_fake):
        return F.binary_cross_entropy_with_logits(d_fake, self.constants.full_like(d_fake, 1))


class HingeLoss:
    """SNGAN's (Miyato et al. 2018; Lim & Ye 2017): D's mean(relu(1 - D(x))) +
    mean(relu(1 + D(G(z)))), G's -mean(D(G(z)))."""

    def __init__(self):
        self.constants = Constants()

    def discriminator(self, d_real, d_fake):
        full_like, mean = self.constants.full_like, self.constants.mean
        return mean(F.relu(full_like(d_real, 1) - d_real)) + mean(F.relu(full_like(d_fake, 1) + d_fake))

    def generator(self, d_fake):
        return self.constants.mean(-d_fake)


LOSSES = {"bce": BCELoss, "hinge": HingeLoss}
