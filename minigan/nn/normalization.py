"""GroupNorm, InstanceNorm2d and LayerNorm, with torch.nn's arguments, defaults, state_dict keys and repr.

As torch's: the weight starts at ones and the bias at zeros (float32); a module without them
(affine=False, bias=False) has no such keys; InstanceNorm2d keeps running statistics only
with track_running_stats=True, and uses them only in evaluation.
"""
import warnings

import numpy

from .. import functional as F
from .module import Module, Parameter

__all__ = ["GroupNorm", "InstanceNorm2d", "LayerNorm"]


def _affine(module, shape, affine, bias):
    """weight (ones) and bias (zeros) of shape, or None where the module has none."""
    module.weight = Parameter(numpy.ones(shape, dtype=numpy.float32)) if affine else None
    module.bias = Parameter(numpy.zeros(shape, dtype=numpy.float32)) if affine and bias else None


def _place(module, device, dtype):
    if device is not None or dtype is not None:
        module.to(device=device, dtype=dtype)


class GroupNorm(Module):
    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        _affine(self, (num_channels,), affine, bias)
        _place(self, device, dtype)

    def forward(self, input):  # noqa: A002  (torch's name)
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class InstanceNorm2d(Module):
    """Each (sample, channel) plane of (N, C, H, W) or (C, H, W) input standardized on its own.

    With track_running_stats=True, training updates running_mean and running_var (and evaluation
    uses them); num_batches_tracked is kept for torch's state_dict keys but, as in torch, never
    counted. momentum=None leaves the running statistics as they are (torch passes 0.0)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False,
                 device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _affine(self, (num_features,), affine, bias)
        if track_running_stats:
            self.register_buffer("running_mean", numpy.zeros(num_features, dtype=numpy.float32))
            self.register_buffer("running_var", numpy.ones(num_features, dtype=numpy.float32))
            self.register_buffer("num_batches_tracked", numpy.zeros((), dtype=numpy.int64))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None
        _place(self, device, dtype)

    def forward(self, input):  # noqa: A002
        if input.ndim not in (3, 4):
            raise ValueError(f"InstanceNorm2d: expected 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape "
                             f"{tuple(input.shape)}")
        channels = input.shape[-3]
        if channels != self.num_features:
            message = (f"InstanceNorm2d: input {tuple(input.shape)} has {channels} channels, but "
                       f"num_features is {self.num_features}")
            if self.affine or self.track_running_stats:
                raise ValueError(message)
            warnings.warn(message + " (not used, since affine=False)", stacklevel=2)
        if input.ndim == 3:  # one unbatched sample
            return self._normalize(input.reshape(1, *input.shape)).reshape(*input.shape)
        return self._normalize(input)

    def _normalize(self, x):
        return F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                               use_input_stats=self.training or not self.track_running_stats,
                               momentum=0.0 if self.momentum is None else self.momentum, eps=self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class LayerNorm(Module):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        _affine(self, shape, elementwise_affine, bias)
        _place(self, device, dtype)

    def forward(self, input):  # noqa: A002
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")
