"""Tensor arithmetic with NumPy broadcasting, reshape and reductions."""
from ..autograd import Function, Tensor
from ..backend import array_module


def sum_to(grad, shape):
    """Sum a broadcast gradient back down to the operand's shape."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, size in enumerate(shape)
                                      if size == 1 and grad.shape[lead + i] != 1)
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


class Add(Function):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, grad):
        return sum_to(grad, self.shapes[0]), sum_to(grad, self.shapes[1])


class Sub(Function):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, grad):
        return sum_to(grad, self.shapes[0]), sum_to(-grad, self.shapes[1])


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, grad):
        grad_a = sum_to(grad * self.b, self.a.shape) if self.needs_grad[0] else None
        grad_b = sum_to(grad * self.a, self.b.shape) if self.needs_grad[1] else None
        return grad_a, grad_b


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, grad):
        grad_a = grad / self.b
        grad_b = sum_to(-grad_a * self.a / self.b, self.b.shape) if self.needs_grad[1] else None
        return sum_to(grad_a, self.a.shape), grad_b


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, grad):
        return -grad


class MatMul(Function):
    def forward(self, a, b):
        if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
            raise ValueError(f"matmul: cannot multiply shapes {a.shape} and {b.shape} "
                             f"(both need 2+ dims and matching inner sizes)")
        self.a, self.b = a, b
        return a @ b

    def backward(self, grad):
        grad_a = sum_to(grad @ self.b.swapaxes(-1, -2), self.a.shape) if self.needs_grad[0] else None
        grad_b = sum_to(self.a.swapaxes(-1, -2) @ grad, self.b.shape) if self.needs_grad[1] else None
        return grad_a, grad_b


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


class Sum(Function):
    def __init__(self, dim, keepdim):
        self.dim, self.keepdim = dim, keepdim

    def forward(self, a):
        self.in_shape = a.shape
        return a.sum(axis=self.dim, keepdims=self.keepdim)

    def backward(self, grad):
        xp = array_module(grad)
        if self.dim is not None and not self.keepdim:
            grad = xp.expand_dims(grad, self.dim)
        return xp.ascontiguousarray(xp.broadcast_to(grad, self.in_shape))


def add(a, b):
    return Add()(a, b)


def sub(a, b):
    return Sub()(a, b)


def mul(a, b):
    return Mul()(a, b)


def div(a, b):
    return Div()(a, b)


def neg(a):
    return Neg()(a)


def matmul(a, b):
    return MatMul()(a, b)


def reshape(a, *shape):
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Reshape(shape)(a)


def sum(a, dim=None, keepdim=False):  # noqa: A001  (torch's name)
    return Sum(dim, keepdim)(a)


def mean(a, dim=None, keepdim=False):
    dims = range(a.ndim) if dim is None else (dim,) if isinstance(dim, int) else dim
    count = 1
    for d in dims:
        count *= a.shape[d]
    return sum(a, dim, keepdim) / count


def flatten(a, start_dim=1):
    return reshape(a, *a.shape[:start_dim], -1)


def setup_tensor():
    """Bind these ops to Tensor as its operators and methods (called once, by minigan/__init__)."""
    def reflected(op):  # `other OP tensor`, where other is no Tensor: op(other, tensor)
        return lambda self, other: op(other, self)
    Tensor.__neg__ = neg
    Tensor.__add__, Tensor.__radd__ = add, reflected(add)
    Tensor.__sub__, Tensor.__rsub__ = sub, reflected(sub)
    Tensor.__mul__, Tensor.__rmul__ = mul, reflected(mul)
    Tensor.__truediv__, Tensor.__rtruediv__ = div, reflected(div)
    Tensor.__matmul__, Tensor.__rmatmul__ = matmul, reflected(matmul)
    Tensor.reshape, Tensor.sum, Tensor.mean = reshape, sum, mean
