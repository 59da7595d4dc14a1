"""Dimension arguments as torch reads them: negative dims count from the end, a 0-d tensor takes
dim 0 or -1, and a dim out of range is an IndexError that names the op and the shape."""


def normalize_dim(op, dim, shape, extra=0):
    """dim as a non-negative int below len(shape) + extra (unsqueeze and stack address one more)."""
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__} {dim!r}")
    rank = max(len(shape) + extra, 1)
    if not -rank <= dim < rank:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor of shape {shape} "
                         f"(expected a dim in [{-rank}, {rank - 1}])")
    return dim % rank


def normalize_dims(op, dim, shape):
    """dim (None: every dim; an int; a tuple or list of ints) as a sorted tuple of distinct
    non-negative dims; () for a 0-d tensor, whose one addressable dim is itself."""
    if dim is None:
        return tuple(range(len(shape)))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    normalized = tuple(normalize_dim(op, d, shape) for d in dims)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{op}: dim {dim} names a dimension twice (tensor of shape {shape})")
    return tuple(sorted(normalized)) if shape else ()
