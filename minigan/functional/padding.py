"""pad, as torch.nn.functional.pad: constant (negative pads crop), reflect and replicate.

pad lists (before, after) pairs from the last dimension backwards, torch's order:
(left, right, top, bottom, front, back). Constant padding writes the input into a filled
array; reflect and replicate gather each padded dimension's indices (reflected about the
edge, without repeating it, or clamped to it), and their backward sums the gradient back
through one-hot matrix products (no scatter, the same on both backends). Recorded gradients
(create_graph): constant padding's is the constant padding by the opposite pads; the gathers'
is an op (GatherPadGrad) whose backward is the gather again.
"""
import numbers

from ..autograd import Function, unwrap
from ..backend import array_module

MODES = ("constant", "reflect", "replicate")


class ConstantPad(Function):
    """y = value everywhere, with x (cropped where a pad is negative) at its place."""

    def __init__(self, pads, value):
        self.pads, self.value = pads, value  # pads: (before, after) per dimension, first to last

    def forward(self, x):
        xp = array_module(x)
        self.x_shape = x.shape
        out_shape = tuple(n + b + a for n, (b, a) in zip(x.shape, self.pads))
        self.inner, self.source = _overlap(x.shape, self.pads)
        y = xp.full(out_shape, self.value, dtype=x.dtype)
        y[self.inner] = x[self.source]
        return y

    def backward(self, grad):
        grad_x = array_module(grad).zeros(self.x_shape, dtype=grad.dtype)
        grad_x[self.source] = grad[self.inner]
        return grad_x

    def backward_graph(self, grad):
        # The crop of backward is the constant padding by the opposite pads, with zeros.
        return ConstantPad(tuple((-before, -after) for before, after in self.pads), 0.0)(grad)


def _overlap(shape, pads):
    """(slices of the output, slices of the input) where the input lands."""
    inner, source = [], []
    for n, (before, after) in zip(shape, pads):
        source.append(slice(max(-before, 0), n - max(-after, 0)))
        inner.append(slice(max(before, 0), max(before, 0) + max(n - max(-before, 0) - max(-after, 0), 0)))
    return tuple(inner), tuple(source)


class GatherPad(Function):
    """y = x gathered along each padded dimension at its index array (reflect or replicate)."""

    def __init__(self, indices):
        self.indices = indices  # {dim: index array}

    def forward(self, x):
        self.sizes = {dim: x.shape[dim] for dim in self.indices}
        return gathered(x, self.indices)

    def backward(self, grad):
        return summed_back(grad, self.indices, self.sizes)

    def backward_graph(self, grad):
        return GatherPadGrad(self.indices, self.sizes)(grad)


class GatherPadGrad(Function):
    """GatherPad's gradient as an op, for recorded gradients: each gathered element summed back
    into its source; its backward is the gather, its twin."""

    def __init__(self, indices, sizes):
        self.indices, self.sizes = indices, sizes

    def forward(self, grad):
        return summed_back(grad, self.indices, self.sizes)

    def backward(self, grad):
        return gathered(grad, self.indices)

    def backward_graph(self, grad):
        return GatherPad(self.indices)(grad)


def gathered(x, indices):
    """x taken at indices[dim] along each dim of the dict indices."""
    for dim, index in indices.items():
        x = x.take(index, axis=dim)
    return x


def summed_back(grad, indices, sizes):
    """The transpose of gathered: the sums of grad at each source index, by one-hot matrix products."""
    xp = array_module(grad)
    for dim, index in reversed(indices.items()):
        one_hot = (index[:, None] == xp.arange(sizes[dim])).astype(grad.dtype)
        grad = xp.moveaxis(xp.moveaxis(grad, dim, -1) @ one_hot, -1, dim)
    return xp.ascontiguousarray(grad)


def _pad_index(xp, size, before, after, mode):
    """Indices of the padded dimension: reflected about the edges (not repeating them), or clamped."""
    position = xp.arange(-before, size + after)
    if mode == "replicate":
        return xp.clip(position, 0, size - 1)
    period = 2 * (size - 1)
    folded = xp.abs(position) % period if period else position * 0
    return xp.where(folded < size, folded, period - folded)


def pad(input, pad, mode="constant", value=None):  # noqa: A002  (torch's names)
    """Pad input's last len(pad) // 2 dimensions by pad = (before_last, after_last, before_2nd_last, ...)."""
    pads = tuple(pad) if isinstance(pad, (tuple, list)) else None
    integers = pads is not None and all(isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in pads)
    if not integers or len(pads) % 2:
        raise ValueError(f"pad: pad must be a tuple of ints of even length (before, after per dimension, the "
                         f"last dimension first), got {pad!r}")
    if len(pads) // 2 > input.ndim:
        raise ValueError(f"pad: pad {pads} has {len(pads) // 2} (before, after) pairs but the input has only "
                         f"{input.ndim} dimensions (shape {tuple(input.shape)})")
    if mode not in MODES:
        raise NotImplementedError(f"pad: mode {mode!r} is not supported (use one of {MODES})")
    pads = tuple(int(p) for p in pads)
    padded = input.ndim - len(pads) // 2
    per_dim = [(0, 0)] * padded + [(pads[2 * k], pads[2 * k + 1]) for k in reversed(range(len(pads) // 2))]
    if mode == "constant":
        out_shape = tuple(n + b + a for n, (b, a) in zip(input.shape, per_dim))
        if min(out_shape, default=1) < 0:
            raise ValueError(f"pad: pad {pads} crops input {tuple(input.shape)} below nothing (output {out_shape})")
        return ConstantPad(per_dim, 0.0 if value is None else value)(input)
    if value is not None:
        raise ValueError(f"pad: value is only for mode='constant', got value={value!r} with mode={mode!r}")
    dims = len(pads) // 2
    if not (dims in (1, 2, 3) and input.ndim in (dims + 1, dims + 2)):
        raise ValueError(f"pad: mode={mode!r} pads the last 1, 2 or 3 dimensions of a 2-3, 3-4 or 4-5 "
                         f"dimensional input (torch's rule); got pad {pads} for input {tuple(input.shape)}")
    xp = array_module(unwrap(input))
    indices = {}
    for dim in range(padded, input.ndim):
        size, (before, after) = input.shape[dim], per_dim[dim]
        if min(before, after) < 0:
            raise ValueError(f"pad: mode={mode!r} needs pads >= 0, got {pads}")
        if mode == "reflect" and max(before, after) >= size:
            raise ValueError(f"pad: reflect padding ({before}, {after}) of dimension {dim} must be smaller than "
                             f"its size {size} (input {tuple(input.shape)})")
        if mode == "replicate" and size == 0 and before + after:
            raise ValueError(f"pad: replicate padding of dimension {dim}, which is empty (input {tuple(input.shape)})")
        if before or after:
            indices[dim] = _pad_index(xp, size, before, after, mode)
    return GatherPad(indices)(input) if indices else input
