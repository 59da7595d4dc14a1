"""Losses on logits."""
from ..autograd import Function
from ..backend import array_module
from .activation import stable_sigmoid


class BCEWithLogits(Function):
    """mean(softplus(x) - x * t), written so exp never sees a positive argument."""

    def forward(self, x, target):
        xp = array_module(x)
        self.x, self.target = x, target
        loss = xp.maximum(x, 0) - x * target + xp.log1p(xp.exp(-xp.abs(x)))
        return loss.mean()

    def backward(self, grad):
        n = self.x.size
        grad_x = grad * (stable_sigmoid(self.x) - self.target) / n if self.needs_grad[0] else None
        grad_t = grad * -self.x / n if self.needs_grad[1] else None
        return grad_x, grad_t


def binary_cross_entropy_with_logits(input, target):  # noqa: A002  (torch's names)
    """Mean-reduced, as torch.nn.functional.binary_cross_entropy_with_logits."""
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"binary_cross_entropy_with_logits: target shape {tuple(target.shape)} "
                         f"does not match input shape {tuple(input.shape)}")
    return BCEWithLogits()(input, target)
