"""Batch normalization over (N, H, W) per channel, with PyTorch's running statistics, alone or fused
with the ReLU or LeakyReLU that follows it.

The kernels work on channel rows: the batch-innermost image (functional/layout.py)
seen as (C, H*W*N), where each channel is one contiguous row.

Fused, batchnorm and act(z) = z > 0 ? z : z * negative_slope are one op
(`batch_norm_leaky_relu`; ReLU is slope 0, and plain `batch_norm` is slope 1, the
identity): forward is one pass for the statistics and one writing act(bn(x)), with
no buffer for the normalized values or for the activation's input; backward is one
pass for the sums and one for the input gradient, which apply the activation's slope
to the upstream gradient as they read it. What backward keeps is x (which the tape
holds anyway as the op's input), the per-channel mean and inv_std, and the weight and
bias: x_hat and z are recomputed from them in each pass, which costs arithmetic but
no memory traffic beyond x. nn.Sequential calls the fused op for a BatchNorm2d
followed by a ReLU or LeakyReLU (minigan/nn/layers.py), so models written as in
PyTorch get it with their state_dict keys and repr unchanged.

Double backward (backward_graph) recomputes x_hat and the statistics by recorded ops, so
the running statistics still move once per forward; the activation's slope there is a
constant per element (its second derivative is 0 away from 0).
"""
from ..autograd import Function, unwrap
from ..backend import array_module, kernels
from .layout import as_nchw, batch_innermost
from .normalization import affine_gradients_graph, standardized, standardized_gradient

IDENTITY = 1.0  # the negative slope of no activation (kernels/batchnorm.py)
CHANNEL_STATISTICS = (0, 2, 3)  # the dims each channel's statistics run over


def channel_rows(x):
    """The (C, H*W*N) rows of x (N, C, H, W) and the (C, H, W, N) shape to view them back as x."""
    image = batch_innermost(x)
    return image.reshape(image.shape[0], -1), image.shape


class BatchNorm(Function):
    """act(bn(x)), with the statistics the subclass's statistics() gives. Backward: the weight and
    bias gradients are the sums of dz * x_hat and dz (dz = grad * act'(z)); with the batch's
    statistics, each channel's input gradient also loses its mean and its projection on x_hat."""

    batch_statistics = False

    def __init__(self, negative_slope, eps):
        self.negative_slope, self.eps = negative_slope, eps

    def statistics(self, rows):
        """(mean, inv_std) per channel row."""
        raise NotImplementedError

    def standardized_graph(self, x):
        """(x_hat, inv_std) of x (N, C, H, W), in recorded ops."""
        raise NotImplementedError

    def input_gradient_graph(self, grad_x_hat, x_hat, inv_std):
        """x's gradient from x_hat's, in recorded ops."""
        raise NotImplementedError

    def forward(self, x, weight=None, bias=None):
        rows, self.image_shape = channel_rows(x)
        self.mean, self.inv_std = self.statistics(rows)
        self.rows, self.weight, self.bias = rows, weight, bias
        y = kernels(array_module(x)).batch_norm_forward_apply(rows, self.mean, self.inv_std, weight, bias,
                                                              self.negative_slope)
        return as_nchw(y.reshape(self.image_shape))

    def backward(self, grad_y):
        rows, image_shape = channel_rows(grad_y)
        # The weight and bias gradients go straight into their homes where they have them.
        (weight_home, add_to_weight), (bias_home, add_to_bias) = (self.grad_target(i) or (None, False)
                                                                  for i in (1, 2))
        grad_x, grad_weight, grad_bias = kernels(array_module(grad_y)).batch_norm_backward(
            rows, self.rows, self.mean, self.inv_std, self.weight, self.bias, self.negative_slope,
            self.batch_statistics, weight_home, bias_home, (add_to_weight, add_to_bias))
        return (as_nchw(grad_x.reshape(image_shape)) if self.needs_grad[0] else None), grad_weight, grad_bias

    def backward_graph(self, grad):
        x = self.inputs[0]
        x_hat, inv_std = self.standardized_graph(x)
        if self.negative_slope != IDENTITY:
            grad = grad * self.slopes()
        return affine_gradients_graph(self, grad, x_hat, (x.shape[1], 1, 1),
                                      lambda g: self.input_gradient_graph(g, x_hat, inv_std))

    def slopes(self):
        """The activation's slope at each element (1 where forward's z > 0), an (N, C, H, W) constant;
        z as forward computed it (the identity's output)."""
        xp = array_module(self.rows)
        z = kernels(xp).batch_norm_forward_apply(self.rows, self.mean, self.inv_std, self.weight, self.bias)
        return as_nchw(xp.where(z > 0, 1, self.negative_slope).astype(z.dtype).reshape(self.image_shape))


class BatchNormTrain(BatchNorm):
    """With the batch's own statistics; updates the running ones in place."""

    batch_statistics = True

    def __init__(self, running_mean, running_var, momentum, eps, negative_slope=IDENTITY):
        super().__init__(negative_slope, eps)
        self.running_mean, self.running_var, self.momentum = running_mean, running_var, momentum

    def statistics(self, rows):
        return kernels(array_module(rows)).batch_norm_stats(rows, self.eps, self.momentum, self.running_mean,
                                                            self.running_var)

    def standardized_graph(self, x):
        # The statistics recomputed by recorded ops, not by this op: the running ones move once.
        return standardized(x, CHANNEL_STATISTICS, self.eps)

    def input_gradient_graph(self, grad_x_hat, x_hat, inv_std):
        return standardized_gradient(grad_x_hat, x_hat, inv_std, CHANNEL_STATISTICS)


class BatchNormEval(BatchNorm):
    """With the running statistics, which are constants here (copied: a training forward before
    this op's backward would update them in place)."""

    def __init__(self, running_mean, running_var, eps, negative_slope=IDENTITY):
        super().__init__(negative_slope, eps)
        self.running_mean, self.running_var = running_mean, running_var

    def statistics(self, rows):
        return self.running_mean.copy(), 1 / array_module(rows).sqrt(self.running_var + self.eps)

    def standardized_graph(self, x):
        inv_std = self.inv_std.reshape(-1, 1, 1)
        return (x - self.mean.reshape(-1, 1, 1)) * inv_std, inv_std

    def input_gradient_graph(self, grad_x_hat, x_hat, inv_std):
        return grad_x_hat * inv_std


def batch_norm(input, running_mean, running_var, weight=None, bias=None,  # noqa: A002
               training=False, momentum=0.1, eps=1e-5):
    """As torch.nn.functional.batch_norm, for 4-D (N, C, H, W) input.

    In training the running statistics (arrays or Tensors, or None) are updated
    in place with the unbiased batch variance.
    """
    return _batch_norm("batch_norm", input, running_mean, running_var, weight, bias, training, momentum, eps,
                       IDENTITY)


def batch_norm_leaky_relu(input, running_mean, running_var, weight=None, bias=None,  # noqa: A002
                          training=False, momentum=0.1, eps=1e-5, negative_slope=0.01):
    """leaky_relu(batch_norm(input, ...), negative_slope) as one fused op (relu: negative_slope=0).

    minigan's own, not torch's: the arguments are batch_norm's, then leaky_relu's slope.
    """
    return _batch_norm("batch_norm_leaky_relu", input, running_mean, running_var, weight, bias, training,
                       momentum, eps, negative_slope)


def _batch_norm(name, input, running_mean, running_var, weight, bias,  # noqa: A002
                training, momentum, eps, negative_slope):
    if input.ndim != 4:
        raise ValueError(f"{name}: input must be 4-D (N, C, H, W), got shape {tuple(input.shape)}")
    channels = input.shape[1]
    for label, v in (("running_mean", running_mean), ("running_var", running_var),
                     ("weight", weight), ("bias", bias)):
        if v is not None and tuple(v.shape) != (channels,):
            raise ValueError(f"{name}: {label} must have shape ({channels},) for input "
                             f"{tuple(input.shape)}, got {tuple(v.shape)}")
    running_mean, running_var = unwrap(running_mean), unwrap(running_var)
    if training:
        if input.numel() // channels < 2:
            raise ValueError(f"{name}: training needs more than 1 value per channel, "
                             f"got input shape {tuple(input.shape)}")
        fn = BatchNormTrain(running_mean, running_var, momentum, eps, negative_slope)
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{name}: evaluation (training=False) needs running_mean and running_var")
        fn = BatchNormEval(running_mean, running_var, eps, negative_slope)
    return fn(input, weight, bias)
