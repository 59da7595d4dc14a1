"""y = x W^T + b, as torch.nn.functional.linear; weight is (out_features, in_features)."""
from ..autograd import Function
from .reduction import sum as reduce_sum
from .shape import reshape, transpose


class Linear(Function):
    def forward(self, x, weight, bias=None):
        self.x, self.weight = x, weight
        y = x @ weight.T
        return y if bias is None else y + bias

    def backward(self, grad_y):
        grad_x = grad_y @ self.weight if self.needs_grad[0] else None
        flat_grad = grad_y.reshape(-1, grad_y.shape[-1])
        grad_w = flat_grad.T @ self.x.reshape(-1, self.x.shape[-1]) if self.needs_grad[1] else None
        grad_b = flat_grad.sum(axis=0) if len(self.needs_grad) == 3 and self.needs_grad[2] else None
        return grad_x, grad_w, grad_b

    def backward_graph(self, grad_y):
        # backward's products as recorded matmuls, on the inputs flattened to 2-D (matmul's minimum)
        x, weight = self.inputs[:2]
        flat_grad = reshape(grad_y, (-1, grad_y.shape[-1]))
        grad_x = reshape(flat_grad @ weight, self.x.shape) if self.needs_grad[0] else None
        grad_w = transpose(flat_grad, 0, 1) @ reshape(x, (-1, x.shape[-1])) if self.needs_grad[1] else None
        grad_b = reduce_sum(flat_grad, 0) if len(self.needs_grad) == 3 and self.needs_grad[2] else None
        return grad_x, grad_w, grad_b


def linear(input, weight, bias=None):  # noqa: A002
    if input.ndim < 1 or weight.ndim != 2 or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input {tuple(input.shape)} does not match weight "
                         f"{tuple(weight.shape)} (expects last input dim {weight.shape[1:]})")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    return Linear()(input, weight) if bias is None else Linear()(input, weight, bias)
