"""The layers, with PyTorch's constructor arguments and default initialisation.

Sequential runs a BatchNorm2d followed by a ReLU or LeakyReLU as one fused op
(functional.batch_norm_leaky_relu: no buffer for the normalized values or the
activation's input, and half the passes over memory), through the BatchNorm2d's
forward_leaky_relu. The modules stay two children with torch's names, state_dict
keys and repr, and the result is theirs; a pair whose forward is overridden or
that has a forward pre-hook runs as two modules (fusable_slope says which).
"""
import math

import numpy

from .. import functional as F
from .. import init
from ..functional.conv import as_pair
from .module import Module, Parameter

__all__ = ["AvgPool2d", "BatchNorm2d", "Conv2d", "ConvTranspose2d", "Flatten", "LeakyReLU", "Linear",
           "MaxPool2d", "ReLU", "Sequential", "Sigmoid", "Tanh"]


def _conv_repr(layer, op, output_padding=0):
    """torch's _ConvNd.extra_repr: the settings, each shown only where it is not its default."""
    stride, padding = (as_pair(v, name, op, 0) for v, name in ((layer.stride, "stride"), (layer.padding, "padding")))
    text = f"{layer.in_channels}, {layer.out_channels}, kernel_size={layer.kernel_size}, stride={stride}"
    if padding != (0, 0):
        text += f", padding={padding}"
    if as_pair(output_padding, "output_padding", op, 0) != (0, 0):
        text += f", output_padding={as_pair(output_padding, 'output_padding', op, 0)}"
    return text + (", bias=False" if layer.bias is None else "")


def _uniform(shape, bound):
    """U(-bound, bound) float32, PyTorch's default (kaiming_uniform with a=sqrt(5)) init."""
    return Parameter(init.rng().uniform(-bound, bound, size=shape).astype(numpy.float32))


class Conv2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        kh, kw = as_pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, (kh, kw)
        self.stride, self.padding = stride, padding
        bound = 1 / math.sqrt(in_channels * kh * kw)
        self.weight = _uniform((out_channels, in_channels, kh, kw), bound)
        self.bias = _uniform((out_channels,), bound) if bias else None

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        return _conv_repr(self, "Conv2d")


class ConvTranspose2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, bias=True):
        super().__init__()
        kh, kw = as_pair(kernel_size, "kernel_size", "ConvTranspose2d", 1)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, (kh, kw)
        self.stride, self.padding, self.output_padding = stride, padding, output_padding
        # PyTorch takes fan_in from weight dim 1, which is out_channels for this layout.
        bound = 1 / math.sqrt(out_channels * kh * kw)
        self.weight = _uniform((in_channels, out_channels, kh, kw), bound)
        self.bias = _uniform((out_channels,), bound) if bias else None

    def forward(self, x):
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding)

    def extra_repr(self):
        return _conv_repr(self, "ConvTranspose2d", output_padding=self.output_padding)


class Linear(Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features)
        self.weight = _uniform((out_features, in_features), bound)
        self.bias = _uniform((out_features,), bound) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class BatchNorm2d(Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(numpy.ones(num_features, dtype=numpy.float32))
        self.bias = Parameter(numpy.zeros(num_features, dtype=numpy.float32))
        self.register_buffer("running_mean", numpy.zeros(num_features, dtype=numpy.float32))
        self.register_buffer("running_var", numpy.ones(num_features, dtype=numpy.float32))
        self.register_buffer("num_batches_tracked", numpy.zeros((), dtype=numpy.int64))

    def forward(self, x):
        return self.forward_leaky_relu(x, None)

    def forward_leaky_relu(self, x, negative_slope):
        """forward(x), then leaky_relu with negative_slope (None: none) in the same fused op: what
        Sequential runs for this module followed by a ReLU or LeakyReLU (see fusable_slope)."""
        args = (x, self.running_mean, self.running_var, self.weight, self.bias, self.training, self.momentum,
                self.eps)
        y = F.batch_norm(*args) if negative_slope is None else F.batch_norm_leaky_relu(*args, negative_slope)
        if self.training:  # counted only once batch_norm has accepted the batch
            self.num_batches_tracked.data += 1
        return y

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine=True, bias=True, "
                f"track_running_stats=True")


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        stride = self.kernel_size if self.stride is None else self.stride
        return f"kernel_size={self.kernel_size}, stride={stride}, padding={self.padding}"


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices)

    def extra_repr(self):
        stride = self.kernel_size if self.stride is None else self.stride
        return (f"kernel_size={self.kernel_size}, stride={stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ReLU(Module):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.relu(x, self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)


class Flatten(Module):
    def __init__(self, start_dim=1):
        super().__init__()
        self.start_dim = start_dim

    def forward(self, x):
        return F.flatten(x, self.start_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim=-1"


class Sequential(Module):
    """Children named '0', '1', ... as in PyTorch, so state_dict keys match."""

    def __init__(self, *modules):
        super().__init__()
        for index, module in enumerate(modules):
            setattr(self, str(index), module)

    def __getitem__(self, index):
        modules = list(self._modules.values())
        return Sequential(*modules[index]) if isinstance(index, slice) else modules[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def forward(self, x):
        return run_layers(list(self._modules.values()), x)


def run_layers(modules, x):
    """x through the list modules in order, as Sequential.forward runs them (for a model that runs
    part of its Sequential)."""
    index = 0
    while index < len(modules):
        module = modules[index]
        slope = fusable_slope(module, modules[index + 1]) if index + 1 < len(modules) else None
        if slope is None:
            x = module(x)
            index += 1
        else:  # BatchNorm2d, then ReLU or LeakyReLU: one fused op, the same result
            x = module.forward_leaky_relu(x, slope)
            index += 2
    return x


def fusable_slope(module, following):
    """The LeakyReLU slope with which module's forward can absorb the activation following it (ReLU:
    0), or None. Only a BatchNorm2d and a ReLU or LeakyReLU whose forwards are this file's (not
    overridden by a subclass) and that have no forward pre-hooks, so that fusing them changes
    nothing a user could see but the speed."""
    def plain(m, cls):
        return isinstance(m, cls) and type(m).forward is cls.forward and not m._forward_pre_hooks

    if not plain(module, BatchNorm2d):
        return None
    if plain(following, ReLU):
        return 0.0
    return following.negative_slope if plain(following, LeakyReLU) else None
