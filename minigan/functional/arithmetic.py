"""Tensor arithmetic with NumPy broadcasting, and setup_tensor: every op bound to Tensor."""
from ..autograd import Function, Tensor
from . import indexing, math, reduction, shape
from .broadcast import sum_to
from .shape import sum_to_size


class Add(Function):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, grad):
        return sum_to(grad, self.shapes[0]), sum_to(grad, self.shapes[1])

    def backward_graph(self, grad):
        return sum_to_size(grad, self.shapes[0]), sum_to_size(grad, self.shapes[1])


class Sub(Function):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, grad):
        return sum_to(grad, self.shapes[0]), sum_to(-grad, self.shapes[1])

    def backward_graph(self, grad):
        return sum_to_size(grad, self.shapes[0]), sum_to_size(-grad, self.shapes[1])


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, grad):
        grad_a = sum_to(grad * self.b, self.a.shape) if self.needs_grad[0] else None
        grad_b = sum_to(grad * self.a, self.b.shape) if self.needs_grad[1] else None
        return grad_a, grad_b

    def backward_graph(self, grad):
        a, b = self.inputs
        grad_a = sum_to_size(grad * b, self.a.shape) if self.needs_grad[0] else None
        grad_b = sum_to_size(grad * a, self.b.shape) if self.needs_grad[1] else None
        return grad_a, grad_b


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, grad):
        grad_a = grad / self.b
        grad_b = sum_to(-grad_a * self.a / self.b, self.b.shape) if self.needs_grad[1] else None
        return sum_to(grad_a, self.a.shape), grad_b

    def backward_graph(self, grad):
        a, b = self.inputs
        grad_a = grad / b
        grad_b = sum_to_size(-grad_a * a / b, self.b.shape) if self.needs_grad[1] else None
        return sum_to_size(grad_a, self.a.shape), grad_b


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, grad):
        return -grad

    def backward_graph(self, grad):
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

    def backward_graph(self, grad):
        a, b = self.inputs
        grad_a = sum_to_size(grad @ shape.transpose(b, -1, -2), self.a.shape) if self.needs_grad[0] else None
        grad_b = sum_to_size(shape.transpose(a, -1, -2) @ grad, self.b.shape) if self.needs_grad[1] else None
        return grad_a, grad_b


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


def setup_tensor():
    """Bind the ops to Tensor as its operators and methods, under torch's names (called once, by
    minigan/__init__)."""
    def reflected(op):  # `other OP tensor`, where other is no Tensor: op(other, tensor)
        return lambda self, other: op(other, self)
    Tensor.__neg__ = neg
    Tensor.__add__, Tensor.__radd__ = add, reflected(add)
    Tensor.__sub__, Tensor.__rsub__ = sub, reflected(sub)
    Tensor.__mul__, Tensor.__rmul__ = mul, reflected(mul)
    Tensor.__truediv__, Tensor.__rtruediv__ = div, reflected(div)
    Tensor.__matmul__, Tensor.__rmatmul__ = matmul, reflected(matmul)
    Tensor.__pow__, Tensor.__rpow__ = math.pow, reflected(math.pow)
    Tensor.__abs__ = math.abs
    Tensor.__eq__, Tensor.__ne__ = math.eq, math.ne
    Tensor.__lt__, Tensor.__le__, Tensor.__gt__, Tensor.__ge__ = math.lt, math.le, math.gt, math.ge
    Tensor.__getitem__ = indexing.getitem
    Tensor.where = lambda self, condition, other: math.where(condition, self, other)
    for module, names in [
            (math, "abs clamp eq exp ge gt le log lt maximum minimum ne pow sqrt"),
            (reduction, "argmax argmin logsumexp max mean min std sum var"),
            (shape, "chunk expand flatten permute reshape split squeeze sum_to_size transpose unsqueeze view")]:
        for name in names.split():
            setattr(Tensor, name, getattr(module, name))
