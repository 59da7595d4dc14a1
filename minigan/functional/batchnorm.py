"""Batch normalization over (N, H, W) per channel, with PyTorch's running statistics."""
from ..autograd import Function, unwrap
from ..backend import array_module, kernels

_AXES = (0, 2, 3)


def _per_channel(v):
    return v.reshape(1, -1, 1, 1)


class BatchNormTrain(Function):
    """Normalizes with the batch's own statistics and updates the running ones in place."""

    def __init__(self, running_mean, running_var, momentum, eps):
        self.running_mean, self.running_var = running_mean, running_var
        self.momentum, self.eps = momentum, eps

    def forward(self, x, weight=None, bias=None):
        xp = array_module(x)
        k = kernels(xp)
        count = x.size // x.shape[1]
        mean, var = k.batch_norm_stats(x)
        self.inv_std = 1 / xp.sqrt(var + self.eps)
        y, self.x_hat = k.batch_norm_forward_apply(x, mean, self.inv_std, weight, bias)
        self.weight = weight
        if self.running_mean is not None:
            m = self.momentum
            self.running_mean[...] = (1 - m) * self.running_mean + m * mean
            self.running_var[...] = (1 - m) * self.running_var + m * var * (count / (count - 1))
        return y

    def backward(self, grad_y):
        k = kernels(array_module(grad_y))
        grad_bias, grad_weight = k.batch_norm_backward_reductions(grad_y, self.x_hat)
        count = grad_y.size // grad_y.shape[1]
        scale = self.inv_std if self.weight is None else self.weight * self.inv_std
        # d/dx of the normalized output: the batch statistics make each channel's
        # gradient lose its mean and its projection on x_hat.
        grad_x = k.batch_norm_backward_apply(grad_y, self.x_hat, scale, grad_bias / count,
                                             grad_weight / count) if self.needs_grad[0] else None
        return grad_x, grad_weight, grad_bias


class BatchNormEval(Function):
    """Normalizes with the running statistics, which are constants here."""

    def __init__(self, running_mean, running_var, eps):
        self.running_mean, self.running_var, self.eps = running_mean, running_var, eps

    def forward(self, x, weight=None, bias=None):
        xp = array_module(x)
        self.inv_std = 1 / xp.sqrt(self.running_var + self.eps)
        y, self.x_hat = kernels(xp).batch_norm_forward_apply(x, self.running_mean, self.inv_std,
                                                             weight, bias)
        self.weight = weight
        return y

    def backward(self, grad_y):
        scale = self.inv_std if self.weight is None else self.weight * self.inv_std
        return (grad_y * _per_channel(scale), (grad_y * self.x_hat).sum(axis=_AXES),
                grad_y.sum(axis=_AXES))


def batch_norm(input, running_mean, running_var, weight=None, bias=None,  # noqa: A002
               training=False, momentum=0.1, eps=1e-5):
    """As torch.nn.functional.batch_norm, for 4-D (N, C, H, W) input.

    In training the running statistics (arrays or Tensors, or None) are updated
    in place with the unbiased batch variance.
    """
    if input.ndim != 4:
        raise ValueError(f"batch_norm: input must be 4-D (N, C, H, W), got shape {tuple(input.shape)}")
    channels = input.shape[1]
    for name, v in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if v is not None and tuple(v.shape) != (channels,):
            raise ValueError(f"batch_norm: {name} must have shape ({channels},) for input "
                             f"{tuple(input.shape)}, got {tuple(v.shape)}")
    running_mean, running_var = unwrap(running_mean), unwrap(running_var)
    if training:
        if input.numel() // channels < 2:
            raise ValueError(f"batch_norm: training needs more than 1 value per channel, "
                             f"got input shape {tuple(input.shape)}")
        fn = BatchNormTrain(running_mean, running_var, momentum, eps)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation (training=False) needs running_mean and running_var")
        fn = BatchNormEval(running_mean, running_var, eps)
    return fn(input, weight, bias)
