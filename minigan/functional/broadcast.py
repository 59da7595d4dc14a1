"""Broadcasting's gradient rule, shared by every op that broadcasts its inputs."""


def sum_to(grad, shape):
    """Sum a broadcast gradient back down to the operand's shape."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, size in enumerate(shape)
                                      if size == 1 and grad.shape[lead + i] != 1)
    return grad.sum(axis=axes, keepdims=True).reshape(shape)
