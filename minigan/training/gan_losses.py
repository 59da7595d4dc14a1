"""The GAN losses of --loss, on D's logits (scores), built from minigan ops: each loss object
gives D's loss as the sum of a term of D(x) and a term of D(G(z)) (the trainer backpropagates
each as soon as it has it, so that only one of D's two graphs is alive at a time), and G's loss
of D(G(z)); and the gradient penalties on D
(WGAN-GP's, R1), which differentiate D's gradient (minigan.grad with create_graph=True).

Their constants (targets, ones, counts) are device arrays filled once and kept: a step then
fills none (on the GPU, launches fewer per step), and no Python number reaches an op, which
would turn it into an array by a host-to-device copy, refused in CUDA graph capture (--cuda-graph)."""
from .. import functional as F
from ..autograd import Tensor, grad
from ..backend import array_module, kernels


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

    def discriminator_real(self, d_real):
        return F.binary_cross_entropy_with_logits(d_real, self.constants.full_like(d_real, 1))

    def discriminator_fake(self, d_fake):
        return F.binary_cross_entropy_with_logits(d_fake, self.constants.full_like(d_fake, 0))

    def generator(self, d_fake):
        return F.binary_cross_entropy_with_logits(d_fake, self.constants.full_like(d_fake, 1))


class HingeLoss:
    """SNGAN's (Miyato et al. 2018; Lim & Ye 2017): D's mean(relu(1 - D(x))) +
    mean(relu(1 + D(G(z)))), G's -mean(D(G(z)))."""

    def __init__(self):
        self.constants = Constants()

    def discriminator_real(self, d_real):
        return self.constants.mean(F.relu(self.constants.full_like(d_real, 1) - d_real))

    def discriminator_fake(self, d_fake):
        return self.constants.mean(F.relu(self.constants.full_like(d_fake, 1) + d_fake))

    def generator(self, d_fake):
        return self.constants.mean(-d_fake)


class WassersteinLoss(HingeLoss):
    """WGAN's critic loss (Arjovsky et al. 2017): D's mean(D(G(z))) - mean(D(x)); G's is the hinge
    loss's, -mean(D(G(z))). With --loss wgan-gp, GradientPenalty keeps the critic near 1-Lipschitz."""

    def discriminator_real(self, d_real):
        return self.constants.mean(-d_real)

    def discriminator_fake(self, d_fake):
        return self.constants.mean(d_fake)


def squared_gradient_norms(D, x):
    """|dD(x)_i / dx_i|^2 for each sample i of x, recorded so that it can be differentiated."""
    g, = grad(F.sum(D(x)), x, create_graph=True)
    return F.sum(g * g, (1, 2, 3))


class GradientPenalty:
    """WGAN-GP's (Gulrajani et al. 2017): weight * mean((|grad_x D(x_hat)| - 1)^2) at x_hat, a random
    point between each real image and a fake one. Each sample's mixing weight e ~ U(0, 1) comes
    from G's noise stream as exp(-(z1^2 + z2^2) / 2) of two normals, which is exactly uniform
    (z1^2 + z2^2 is exponential with mean 2), so the draw stays on the device and in the
    checkpointed stream."""

    def __init__(self, weight):
        self.weight, self.constants = weight, Constants()

    def __call__(self, D, real, fake, noise_state, d_update):
        xp = array_module(real.data)
        z = kernels(xp).random_normal(noise_state, (2, real.shape[0], 1, 1, 1), real.data.dtype)
        e = xp.exp((z[0] * z[0] + z[1] * z[1]) * real.data.dtype.type(-0.5))
        x_hat = Tensor(e * real.data + (1 - e) * fake.data, requires_grad=True)
        norms = F.sqrt(squared_gradient_norms(D, x_hat))
        deviation = norms - self.constants.full_like(norms, 1)
        penalty = self.constants.mean(deviation * deviation)
        return penalty * self.constants.full_like(penalty, self.weight)


class R1Penalty:
    """R1 (Mescheder et al. 2018): gamma / 2 * mean(|grad_x D(x)|^2) on real images, lazily (StyleGAN2):
    on every `every`-th D update only, scaled by `every` so that its average weight stays gamma / 2."""

    def __init__(self, gamma, every):
        self.gamma, self.every, self.constants = gamma, every, Constants()

    def __call__(self, D, real, fake, noise_state, d_update):
        if d_update % self.every:
            return None
        x = Tensor(real.data, requires_grad=True)
        penalty = self.constants.mean(squared_gradient_norms(D, x))
        return penalty * self.constants.full_like(penalty, self.gamma / 2 * self.every)


LOSSES = {"bce": BCELoss, "hinge": HingeLoss, "wgan-gp": WassersteinLoss}


def penalties(config):
    """The penalties on D's loss that config asks for (--loss wgan-gp, --r1)."""
    found = []
    if config.loss == "wgan-gp":
        found.append(GradientPenalty(config.gp_weight))
    if config.r1:
        found.append(R1Penalty(config.r1, config.r1_every))
    return found
