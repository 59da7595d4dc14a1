"""Group, instance and layer normalization: standardize rows of the input, then scale and shift.

Each op views its input as rows, standardizes each row with its own mean and biased variance
(or, for instance norm in evaluation, with running statistics), and applies the weight and
bias per channel (group and instance norm) or per element of the normalized shape (layer
norm). The rows: group norm's are (sample, group), instance norm's (sample, channel), layer
norm's every leading index. A row's input gradient is the compact formula batchnorm uses,
(g - mean(g) - x_hat mean(g x_hat)) / std over the row, with g the gradient of x_hat.
"""
import math
import numbers

from ..autograd import Function, unwrap
from ..backend import array_module
from .broadcast import sum_to
from .math import sqrt
from .reduction import mean
from .shape import reshape, sum_to_size


# --- the recorded gradients (create_graph), which batchnorm shares -----------------------------

def standardized(x, dims, eps):
    """(x_hat, inv_std) of x along dims in recorded ops: x_hat = (x - mean) * inv_std, inv_std =
    1 / sqrt(biased variance + eps), kept along dims."""
    centered = x - mean(x, dims, keepdim=True)
    inv_std = 1 / sqrt(mean(centered * centered, dims, keepdim=True) + eps)
    return centered * inv_std, inv_std


def standardized_gradient(grad_x_hat, x_hat, inv_std, dims):
    """The gradient of x from that of x_hat = standardized(x, dims), in recorded ops: the
    statistics take each row's mean and its projection on x_hat out of the gradient."""
    g = grad_x_hat
    return (g - mean(g, dims, keepdim=True) - x_hat * mean(g * x_hat, dims, keepdim=True)) * inv_std


def affine_gradients_graph(fn, grad, x_hat, affine_shape, input_gradient):
    """The gradients of fn's inputs (x, weight, bias), y = x_hat * weight + bias with weight and
    bias broadcast as affine_shape, in recorded ops: x_hat is recorded from x, and
    input_gradient maps x_hat's gradient to x's."""
    _, weight, bias = fn.inputs
    grad_x = grad_weight = grad_bias = None
    if fn.needs_grad[0]:
        grad_x = input_gradient(grad if weight is None else grad * reshape(weight, affine_shape))
    if fn.needs_grad[1]:
        grad_weight = reshape(sum_to_size(grad * x_hat, affine_shape), weight.shape)
    if fn.needs_grad[2]:
        grad_bias = reshape(sum_to_size(grad, affine_shape), bias.shape)
    return grad_x, grad_weight, grad_bias


class Normalization(Function):
    """y = x_hat * weight + bias, x_hat standardized by rows. Subclasses give layout(x): the
    rows' shape and the shape weight and bias broadcast as; and may take the statistics from
    elsewhere (statistics, input_gradient)."""

    def __init__(self, eps):
        self.eps = eps

    def forward(self, x, weight=None, bias=None):
        self.rows, self.affine_shape = self.layout(x)
        x_rows = x.reshape(self.rows)
        mean, self.inv_std = self.statistics(x_rows)
        self.x_hat = ((x_rows - mean) * self.inv_std).reshape(x.shape)
        self.weight, self.bias_shape = weight, None if bias is None else bias.shape
        y = self.x_hat if weight is None else self.x_hat * weight.reshape(self.affine_shape)
        return y if bias is None else y + bias.reshape(self.affine_shape)

    def statistics(self, x_rows):
        """Each row's mean and 1 / sqrt(biased variance + eps), kept as (rows, 1) columns."""
        xp = array_module(x_rows)
        mean = x_rows.mean(axis=-1, keepdims=True)
        centered = x_rows - mean
        var = (centered * centered).mean(axis=-1, keepdims=True)
        self.track(mean, var, x_rows.shape[-1])
        return mean, 1 / xp.sqrt(var + self.eps)

    def track(self, mean, var, count):
        """Update running statistics from the rows' mean and biased variance over count values,
        for the ops that keep them (instance norm)."""

    def input_gradient(self, grad_x_hat):
        """The gradient of x from that of x_hat, through the rows' own statistics."""
        g = grad_x_hat.reshape(self.rows)
        x_hat = self.x_hat.reshape(self.rows)
        g = g - g.mean(axis=-1, keepdims=True) - x_hat * (g * x_hat).mean(axis=-1, keepdims=True)
        return (g * self.inv_std).reshape(grad_x_hat.shape)

    def backward(self, grad):
        grad_x = grad_weight = grad_bias = None
        if self.needs_grad[0]:
            weighted = grad if self.weight is None else grad * self.weight.reshape(self.affine_shape)
            grad_x = self.input_gradient(weighted)
        if self.needs_grad[1]:
            grad_weight = sum_to(grad * self.x_hat, self.affine_shape).reshape(self.weight.shape)
        if self.needs_grad[2]:
            grad_bias = sum_to(grad, self.affine_shape).reshape(self.bias_shape)
        return grad_x, grad_weight, grad_bias

    def backward_graph(self, grad):
        x = self.inputs[0]
        x_hat_rows, inv_std = self.standardized_graph(reshape(x, self.rows))
        return affine_gradients_graph(
            self, grad, reshape(x_hat_rows, x.shape), self.affine_shape,
            lambda g: reshape(self.input_gradient_graph(reshape(g, self.rows), x_hat_rows, inv_std), x.shape))

    def standardized_graph(self, x_rows):
        """statistics and forward's x_hat in recorded ops: (x_hat, inv_std) of the rows."""
        return standardized(x_rows, -1, self.eps)

    def input_gradient_graph(self, grad_x_hat, x_hat, inv_std):
        """input_gradient in recorded ops, on rows."""
        return standardized_gradient(grad_x_hat, x_hat, inv_std, -1)


def _per_channel(x, rows_per_sample):
    """The layout of the ops whose weight is per channel: (N * rows_per_sample, rest) rows, and
    weights broadcast as (C, 1, ..., 1)."""
    return (x.shape[0] * rows_per_sample, -1), (x.shape[1],) + (1,) * (x.ndim - 2)


class GroupNorm(Normalization):
    def __init__(self, num_groups, eps):
        super().__init__(eps)
        self.num_groups = num_groups

    def layout(self, x):
        return _per_channel(x, self.num_groups)


class InstanceNorm(Normalization):
    """Each (sample, channel) plane standardized by its own statistics; the running ones (if
    given) move towards their mean over the batch, the variance unbiased, as torch's do."""

    def __init__(self, running_mean, running_var, momentum, eps):
        super().__init__(eps)
        self.running_mean, self.running_var, self.momentum = running_mean, running_var, momentum

    def layout(self, x):
        self.channels = x.shape[1]
        return _per_channel(x, x.shape[1])

    def track(self, mean, var, count):
        if self.running_mean is None:
            return
        m = self.momentum
        self.running_mean[...] = (1 - m) * self.running_mean + m * mean.reshape(-1, self.channels).mean(axis=0)
        unbiased = var.reshape(-1, self.channels) * (count / (count - 1))
        self.running_var[...] = (1 - m) * self.running_var + m * unbiased.mean(axis=0)


class InstanceNormEval(Normalization):
    """Instance norm with the running statistics (use_input_stats=False): constants here, so each
    channel is an affine map of x."""

    def __init__(self, running_mean, running_var, eps):
        super().__init__(eps)
        self.running_mean, self.running_var = running_mean, running_var

    def layout(self, x):
        return (x.shape[0], x.shape[1], -1), (x.shape[1],) + (1,) * (x.ndim - 2)

    def statistics(self, x_rows):
        xp = array_module(x_rows)
        return self.running_mean.reshape(-1, 1), (1 / xp.sqrt(self.running_var + self.eps)).reshape(-1, 1)

    def input_gradient(self, grad_x_hat):
        return (grad_x_hat.reshape(self.rows) * self.inv_std).reshape(grad_x_hat.shape)

    def standardized_graph(self, x_rows):
        return (x_rows - self.running_mean.reshape(-1, 1)) * self.inv_std, self.inv_std

    def input_gradient_graph(self, grad_x_hat, x_hat, inv_std):
        return grad_x_hat * inv_std


class LayerNorm(Normalization):
    """Standardizes over the last `dims` dimensions; weight and bias have their shape."""

    def __init__(self, dims, eps):
        super().__init__(eps)
        self.dims = dims

    def layout(self, x):
        normalized = x.shape[x.ndim - self.dims:]
        return (-1, math.prod(normalized)), normalized


# --- the torch-named functions and their argument checks -------------------------------------

def _shape(a):
    return tuple(a.shape)


def _check_shapes(op, input, expected, **arrays):  # noqa: A002
    for name, a in arrays.items():
        if a is not None and _shape(a) != expected:
            raise ValueError(f"{op}: {name} must have shape {expected} for input {_shape(input)}, got {_shape(a)}")


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):  # noqa: A002  (torch's names)
    """As torch.nn.functional.group_norm: input (N, C, *), its C channels in num_groups groups."""
    if input.ndim < 2:
        raise ValueError(f"group_norm: input must be (N, C, *), got shape {_shape(input)}")
    channels = input.shape[1]
    if not isinstance(num_groups, numbers.Integral) or isinstance(num_groups, bool) or num_groups < 1:
        raise ValueError(f"group_norm: num_groups must be an int >= 1, got {num_groups!r}")
    if channels % num_groups:
        raise ValueError(f"group_norm: num_groups {num_groups} does not divide the {channels} channels "
                         f"of input {_shape(input)}")
    _check_shapes("group_norm", input, (channels,), weight=weight, bias=bias)
    return GroupNorm(num_groups, eps)(input, weight, bias)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,  # noqa: A002
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """As torch.nn.functional.instance_norm: input (N, C, *spatial). With use_input_stats, the
    running statistics (arrays or Tensors, or None) are updated in place; without, they are used."""
    if input.ndim < 3:
        raise ValueError(f"instance_norm: input must be (N, C, *spatial) with at least one spatial "
                         f"dimension, got shape {_shape(input)}")
    channels = input.shape[1]
    _check_shapes("instance_norm", input, (channels,), running_mean=running_mean, running_var=running_var,
                  weight=weight, bias=bias)
    if (running_mean is None) != (running_var is None):
        raise ValueError("instance_norm: give both running_mean and running_var, or neither")
    running_mean, running_var = unwrap(running_mean), unwrap(running_var)
    if use_input_stats:
        if math.prod(input.shape[2:]) < 2:
            raise ValueError(f"instance_norm: using the input's statistics needs more than 1 spatial "
                             f"element, got input shape {_shape(input)}")
        fn = InstanceNorm(running_mean, running_var, momentum, eps)
    else:
        if running_mean is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and running_var")
        fn = InstanceNormEval(running_mean, running_var, eps)
    return fn(input, weight, bias)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """As torch.nn.functional.layer_norm: standardizes over the last len(normalized_shape) dimensions."""
    normalized = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not normalized or input.ndim < len(normalized) or _shape(input)[input.ndim - len(normalized):] != normalized:
        raise ValueError(f"layer_norm: normalized_shape {normalized} must be the last dimensions of input "
                         f"{_shape(input)}")
    _check_shapes("layer_norm", input, normalized, weight=weight, bias=bias)
    return LayerNorm(len(normalized), eps)(input, weight, bias)
