"""Shape ops with torch's names and rules: reshape/view, flatten, permute, transpose, squeeze,
unsqueeze, expand, sum_to_size, cat, stack, split, chunk.

Unlike torch's views these may copy (reshape of a permuted array), which changes nothing for
minigan, whose tensors are never written in place by ops.
"""
from ..autograd import Function
from ..backend import array_module
from .broadcast import sum_to
from .dims import normalize_dim, normalize_dims
from .indexing import getitem


def _shape_arg(shape):
    """f(a, 2, 3) and f(a, (2, 3)) alike, as torch's reshape, view, permute and expand."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        self.in_shape = a.shape
        try:
            return a.reshape(self.shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape {a.shape} ({a.size} elements) "
                             f"into {self.shape}") from None

    def backward(self, grad):
        return grad.reshape(self.in_shape)

    def backward_graph(self, grad):
        return reshape(grad, self.in_shape)


class Permute(Function):
    def __init__(self, dims):
        self.dims = dims

    def forward(self, a):
        return a.transpose(self.dims)

    def backward(self, grad):
        return grad.transpose(self.inverse())

    def backward_graph(self, grad):
        return Permute(self.inverse())(grad)

    def inverse(self):
        inverse = [0] * len(self.dims)
        for position, dim in enumerate(self.dims):
            inverse[dim] = position
        return tuple(inverse)


class Expand(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        self.in_shape = a.shape
        return array_module(a).broadcast_to(a, self.shape)

    def backward(self, grad):
        return sum_to(grad, self.in_shape)

    def backward_graph(self, grad):
        return sum_to_size(grad, self.in_shape)


class SumTo(Function):
    """Broadcasting's gradient as an op (Expand's inverse), for gradients that are recorded."""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        self.in_shape = a.shape
        return sum_to(a, self.shape)

    def backward(self, grad):
        return array_module(grad).broadcast_to(grad, self.in_shape)

    def backward_graph(self, grad):
        return Expand(self.in_shape)(grad)


class Cat(Function):
    def __init__(self, dim):
        self.dim = dim

    def forward(self, *arrays):
        first = arrays[0].shape

        def others(shape):  # every dim but the concatenated one
            return shape[:self.dim] + shape[self.dim + 1:]
        for position, a in enumerate(arrays):
            if a.ndim != len(first) or others(a.shape) != others(first):
                raise ValueError(f"cat: tensor {position} has shape {a.shape}, tensor 0 {first}; "
                                 f"they must match in every dim but dim {self.dim}")
        self.ends = []
        end = 0
        for a in arrays[:-1]:
            end += a.shape[self.dim]
            self.ends.append(end)
        return array_module(arrays[0]).concatenate(arrays, axis=self.dim)

    def backward(self, grad):
        return tuple(array_module(grad).split(grad, self.ends, axis=self.dim))

    def backward_graph(self, grad):
        return split(grad, [end - start for start, end in
                            zip([0] + self.ends, self.ends + [grad.shape[self.dim]])], self.dim)


def reshape(input, *shape):
    return Reshape(_shape_arg(shape))(input)


def view(input, *shape):
    """reshape: minigan has no views that share memory with the input (see the module's doc)."""
    return reshape(input, *shape)


def flatten(input, start_dim=0, end_dim=-1):
    if input.ndim == 0:
        return reshape(input, 1)
    start, end = (normalize_dim("flatten", d, input.shape) for d in (start_dim, end_dim))
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                         f"(tensor of shape {input.shape})")
    return reshape(input, *input.shape[:start], -1, *input.shape[end + 1:])


def permute(input, *dims):
    dims = _shape_arg(dims)
    if len(dims) != input.ndim:
        raise ValueError(f"permute: {len(dims)} dims {dims} for a tensor of shape {input.shape}")
    normalized = tuple(normalize_dim("permute", d, input.shape) for d in dims)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"permute: dims {dims} repeat a dim (tensor of shape {input.shape})")
    return Permute(normalized)(input)


def transpose(input, dim0, dim1):
    dims = list(range(input.ndim))
    dim0, dim1 = (normalize_dim("transpose", d, input.shape) for d in (dim0, dim1))
    dims[dim0], dims[dim1] = dim1, dim0
    return Permute(tuple(dims))(input)


def squeeze(input, dim=None):
    """input without the given dims (None: all) that have size 1; dims of other sizes stay, as torch."""
    dims = normalize_dims("squeeze", dim, input.shape)
    return reshape(input, *(n for i, n in enumerate(input.shape) if not (i in dims and n == 1)))


def unsqueeze(input, dim):
    dim = normalize_dim("unsqueeze", dim, input.shape, extra=1)
    return reshape(input, *input.shape[:dim], 1, *input.shape[dim:])


def expand(input, *sizes):
    """input broadcast to sizes; -1 keeps a dim's size; new dims may come first, as torch."""
    sizes = _shape_arg(sizes)
    lead = len(sizes) - input.ndim
    shape = tuple(n if n != -1 or i < lead else input.shape[i - lead] for i, n in enumerate(sizes))
    if lead < 0 or any(n < 0 for n in shape) or any(
            m != 1 and m != n for m, n in zip(input.shape, shape[lead:])):
        raise ValueError(f"expand: cannot expand a tensor of shape {input.shape} to {sizes} (only "
                         f"dims of size 1 grow; new dims come first and cannot be -1)")
    return Expand(shape)(input)


def sum_to_size(input, *size):
    """input summed down to size, the shape it was broadcast from, as torch's Tensor.sum_to_size."""
    size = _shape_arg(size)
    if tuple(input.shape) == size:
        return input
    lead = input.ndim - len(size)
    if lead < 0 or any(m != 1 and m != n for m, n in zip(size, input.shape[lead:])):
        raise ValueError(f"sum_to_size: size {size} is not one that a tensor of shape {input.shape} "
                         f"was broadcast from")
    return SumTo(size)(input)


def cat(tensors, dim=0):
    tensors = tuple(tensors)
    if not tensors:
        raise ValueError("cat: no tensors to concatenate")
    if any(t.ndim == 0 for t in tensors):
        raise ValueError(f"cat: cannot concatenate 0-d tensors (shapes {[t.shape for t in tensors]})")
    return Cat(normalize_dim("cat", dim, tensors[0].shape))(*tensors)


def stack(tensors, dim=0):
    tensors = tuple(tensors)
    if not tensors:
        raise ValueError("stack: no tensors to stack")
    shapes = [t.shape for t in tensors]
    if any(s != shapes[0] for s in shapes):
        raise ValueError(f"stack: the tensors must have one shape, got {shapes}")
    dim = normalize_dim("stack", dim, shapes[0], extra=1)
    return cat([unsqueeze(t, dim) for t in tensors], dim)


def split(tensor, split_size_or_sections, dim=0):
    """Pieces of split_size along dim (the last may be smaller), or of the sizes in a list."""
    dim = normalize_dim("split", dim, tensor.shape)
    length = tensor.shape[dim]
    if isinstance(split_size_or_sections, int):
        if split_size_or_sections <= 0:
            raise ValueError(f"split: split_size must be positive, got {split_size_or_sections}")
        sizes = [min(split_size_or_sections, length - start)
                 for start in range(0, length, split_size_or_sections)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != length or any(size < 0 for size in sizes):
            raise ValueError(f"split: sizes {sizes} do not add up to {length}, the size of dim {dim} "
                             f"of the tensor of shape {tensor.shape}")
    pieces, start = [], 0
    for size in sizes:
        pieces.append(getitem(tensor, (slice(None),) * dim + (slice(start, start + size),)))
        start += size
    return tuple(pieces)


def chunk(input, chunks, dim=0):
    """split into pieces of ceil(size / chunks): possibly fewer than chunks, as torch."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    length = input.shape[normalize_dim("chunk", dim, input.shape)]
    return split(input, max(-(-length // chunks), 1), dim)
