"""dropout and dropout2d, as torch.nn.functional's, with masks from the device's Philox stream.

The mask (kernels/dropout.py) holds 1 / (1 - p) where an element (dropout) or a whole
channel (dropout2d) is kept and 0 where it is dropped, in the input's dtype, as torch's CPU
dropout makes it; the output is input * mask and the input's gradient grad * mask. It is drawn
from minigan.device_generators' state of the input's device, so manual_seed repeats it and
the CPU and the GPU draw the same one; on the GPU drawing reads no device value back (a CUDA
graph can capture it). As in torch, p = 0 and training=False return the input itself and draw
nothing, and p = 1 multiplies by zero without drawing.
"""
import numbers
import warnings

from ..autograd import Function, applied
from ..backend import array_module, kernels
from ..device_generators import philox_state


class Dropout(Function):
    """input * mask, the mask of mask_shape broadcast over the input (a channel's pixels share one)."""

    def __init__(self, p, mask_shape):
        self.p, self.mask_shape = p, mask_shape

    def forward(self, x):
        xp = array_module(x)
        if self.p == 1:
            self.mask = xp.zeros(self.mask_shape, dtype=x.dtype)
        else:
            self.mask = kernels(xp).dropout_mask(philox_state(x), self.mask_shape, self.p, x.dtype)
        return x * self.mask

    def backward(self, grad):
        return grad * self.mask

    backward_graph = backward  # grad times the constant mask: the same op records on Tensors


def check_dropout_args(op, p):
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p!r}")


def dropout(input, p=0.5, training=True, inplace=False):  # noqa: A002  (torch's names)
    """Zero each element with probability p and scale the others by 1 / (1 - p)."""
    check_dropout_args("dropout", p)
    if p == 0 or not training:
        return input
    return applied("dropout", Dropout(p, tuple(input.shape)), input, inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero each channel (N, C) of an (N, C, H, W) input with probability p, scaling the others by
    1 / (1 - p). As torch, a 3-D input is taken as (N, C, L) and other dimensions warn."""
    check_dropout_args("dropout2d", p)
    if input.ndim < 2:
        raise ValueError(f"dropout2d: input must have a batch and a channel dimension (N, C, ...), "
                         f"got shape {tuple(input.shape)}")
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated "
                      f"(torch's warning); dropout2d takes (N, C, H, W) inputs", stacklevel=2)
    elif input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
                      "dropout behavior is desired - input is interpreted as shape (N, C, L), as torch "
                      "does", stacklevel=2)
    if p == 0 or not training:
        return input
    return applied("dropout2d", Dropout(p, tuple(input.shape[:2]) + (1,) * (input.ndim - 2)), input, inplace)
