"""Losses on logits."""
from ..autograd import Function
from ..backend import array_module, kernels


class BCEWithLogits(Function):
    """mean(softplus(x) - x * t), written so exp never sees a positive argument; one fused
    kernel for the terms and one for the input gradient."""

    def forward(self, x, target):
        self.x, self.target = x, target
        return kernels(array_module(x)).bce_with_logits_terms(x, target).mean()

    def backward(self, grad):
        n = self.x.size
        grad_x = kernels(array_module(grad)).bce_with_logits_backward(self.x, self.target, grad, n) \
            if self.needs_grad[0] else None
        grad_t = grad * -self.x / n if self.needs_grad[1] else None
        return grad_x, grad_t


def binary_cross_entropy_with_logits(input, target):  # noqa: A002  (torch's names)
    """Mean-reduced, as torch.nn.functional.binary_cross_entropy_with_logits."""
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"binary_cross_entropy_with_logits: target shape {tuple(target.shape)} "
                         f"does not match input shape {tuple(input.shape)}")
    return BCEWithLogits()(input, target)
