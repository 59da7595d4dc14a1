"""Batch normalization over (N, H, W) per channel, with PyTorch's running statistics.

The kernels work on channel rows: the batch-innermost image (functional/layout.py)
seen as (C, H*W*N), where each channel is one contiguous row.
"""
from ..autograd import Function, unwrap
from ..backend import array_module, kernels
from .layout import as_nchw, batch_innermost
from .normalization import affine_gradients_graph, standardized, standardized_gradient

CHANNEL_STATISTICS = (0, 2, 3)  # the dims each channel's statistics run over


def channel_rows(x):
    """The (C, H*W*N) rows of x (N, C, H, W) and the (C, H, W, N) shape to view them back as x."""
    image = batch_innermost(x)
    return image.reshape(image.shape[0], -1), image.shape


class BatchNormTrain(Function):
    """Normalizes with the batch's own statistics and updates the running ones in place."""

    def __init__(self, running_mean, running_var, momentum, eps):
        self.running_mean, self.running_var = running_mean, running_var
        self.momentum, self.eps = momentum, eps

    def forward(self, x, weight=None, bias=None):
        k = kernels(array_module(x))
        rows, image_shape = channel_rows(x)
        mean, self.inv_std = k.batch_norm_stats(rows, self.eps, self.momentum, self.running_mean,
                                                self.running_var)
        y, self.x_hat = k.batch_norm_forward_apply(rows, mean, self.inv_std, weight, bias)
        self.weight = weight
        return as_nchw(y.reshape(image_shape))

    def backward(self, grad_y):
        rows, image_shape = channel_rows(grad_y)
        # The weight and bias gradients go straight into their homes where they have them.
        (weight_home, add_to_weight), (bias_home, add_to_bias) = (self.grad_target(i) or (None, False)
                                                                  for i in (1, 2))
        # d/dx of the normalized output: the batch statistics make each channel's
        # gradient lose its mean and its projection on x_hat.
        grad_x, grad_weight, grad_bias = kernels(array_module(grad_y)).batch_norm_backward(
            rows, self.x_hat, self.inv_std, self.weight, weight_home, bias_home, (add_to_weight, add_to_bias))
        return (as_nchw(grad_x.reshape(image_shape)) if self.needs_grad[0] else None), grad_weight, grad_bias

    def backward_graph(self, grad):
        # The statistics recomputed by recorded ops, not by this op: the running ones move once.
        x = self.inputs[0]
        x_hat, inv_std = standardized(x, CHANNEL_STATISTICS, self.eps)
        return affine_gradients_graph(self, grad, x_hat, (x.shape[1], 1, 1),
                                      lambda g: standardized_gradient(g, x_hat, inv_std, CHANNEL_STATISTICS))


class BatchNormEval(Function):
    """Normalizes with the running statistics, which are constants here."""

    def __init__(self, running_mean, running_var, eps):
        self.running_mean, self.running_var, self.eps = running_mean, running_var, eps

    def forward(self, x, weight=None, bias=None):
        xp = array_module(x)
        rows, image_shape = channel_rows(x)
        self.inv_std = 1 / xp.sqrt(self.running_var + self.eps)
        y, self.x_hat = kernels(xp).batch_norm_forward_apply(rows, self.running_mean, self.inv_std,
                                                             weight, bias)
        self.weight = weight
        return as_nchw(y.reshape(image_shape))

    def backward(self, grad_y):
        rows, image_shape = channel_rows(grad_y)
        scale = self.inv_std if self.weight is None else self.weight * self.inv_std
        return (as_nchw((rows * scale[:, None]).reshape(image_shape)), (rows * self.x_hat).sum(axis=1),
                rows.sum(axis=1))

    def backward_graph(self, grad):
        inv_std = self.inv_std.reshape(-1, 1, 1)
        x_hat = (self.inputs[0] - self.running_mean.reshape(-1, 1, 1)) * inv_std
        return affine_gradients_graph(self, grad, x_hat, inv_std.shape, lambda g: g * inv_std)


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
