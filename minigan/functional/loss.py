"""Losses on logits."""
from ..autograd import Function
from ..backend import array_module, kernels


class BCEWithLogits(Function):
    """mean(softplus(x) - x * t), written so exp never sees a positive argument. One fused
    kernel gives the loss and d loss / d x together; backward only scales the latter."""

    def forward(self, x, target):
        loss, grad_x = kernels(array_module(x)).bce_with_logits_mean(x, target)
        self.grad_x = grad_x if self.needs_grad[0] else None
        self.x = x if self.needs_grad[1] else None
        return loss

    def backward(self, grad):
        grad_x = grad * self.grad_x if self.needs_grad[0] else None
        grad_t = grad * -self.x / self.x.size if self.needs_grad[1] else None
        return grad_x, grad_t


def binary_cross_entropy_with_logits(input, target):  # noqa: A002  (torch's names)
    """Mean-reduced, as torch.nn.functional.binary_cross_entropy_with_logits."""
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"binary_cross_entropy_with_logits: target shape {tuple(target.shape)} "
                         f"does not match input shape {tuple(input.shape)}")
    return BCEWithLogits()(input, target)
