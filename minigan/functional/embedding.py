"""embedding, as torch.nn.functional.embedding: rows of weight gathered by integer indices.

The gradient sums back into the rows gathered (kernels/embedding.py, deterministic on both
backends); as in torch, row padding_idx gets none. The indices' range is checked, which on
the GPU reads one value back. For recorded gradients that sum is an op (EmbeddingGrad) whose
backward is the gather again, zero where an index is padding_idx (torch's double backward).
"""
from ..autograd import Function, unwrap
from ..backend import array_module, kernels


class Embedding(Function):
    def __init__(self, padding_idx):
        self.padding_idx = padding_idx  # -1: none

    def forward(self, indices, weight):
        self.indices, self.num_embeddings = indices.reshape(-1), weight.shape[0]
        return weight[indices]

    def backward(self, grad):
        grad = grad.reshape(-1, grad.shape[-1])
        grad_weight = kernels(array_module(grad)).embedding_backward(grad, self.indices, self.num_embeddings,
                                                                     self.padding_idx)
        return None, grad_weight

    def backward_graph(self, grad):
        return None, EmbeddingGrad(self)(grad)


class EmbeddingGrad(Function):
    """Embedding's weight gradient as an op: grad's rows summed into the rows they were gathered
    from (Embedding.backward); its backward gathers them back, zeros at padding_idx."""

    def __init__(self, embedding):  # copied: the Embedding's own saved arrays are freed after its backward
        self.indices, self.num_embeddings = embedding.indices, embedding.num_embeddings
        self.padding_idx = embedding.padding_idx

    def forward(self, grad):
        self.grad_shape = grad.shape
        return Embedding.backward(self, grad)[1]  # it reads only what self copied

    def backward(self, grad_weight):
        gathered = grad_weight[self.indices]
        if self.padding_idx >= 0:
            gathered = gathered * (self.indices != self.padding_idx)[:, None]
        return gathered.reshape(self.grad_shape)

    def backward_graph(self, grad_weight):
        gathered = Embedding(-1)(self.indices.reshape(self.grad_shape[:-1]), grad_weight)
        if self.padding_idx >= 0:
            gathered = gathered * (self.indices != self.padding_idx).reshape(*self.grad_shape[:-1], 1)
        return gathered


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,  # noqa: A002
              sparse=False):
    """weight[input] for an integer tensor input of any shape; weight is (num_embeddings, embedding_dim)."""
    for name, value, default in (("max_norm", max_norm, None), ("scale_grad_by_freq", scale_grad_by_freq, False),
                                 ("sparse", sparse, False)):
        if value != default:
            raise NotImplementedError(f"embedding: {name}={value!r} is not supported (only {name}={default!r})")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape "
                         f"{tuple(weight.shape)}")
    rows = weight.shape[0]
    if input.dtype.kind not in "iu":
        raise TypeError(f"embedding: input must hold indices (an integer tensor, as int64), got {input.dtype} "
                        f"of shape {tuple(input.shape)}")
    padding = check_padding_idx("embedding", padding_idx, rows)
    indices = unwrap(input)
    outside = (indices < 0) | (indices >= rows)
    if bool(outside.any()):  # one host read: the range must be known to raise here
        bad = int(indices[outside].reshape(-1)[0])
        raise IndexError(f"embedding: index {bad} is out of range for {rows} embeddings (weight {tuple(weight.shape)})")
    return Embedding(padding)(input, weight)


def check_padding_idx(op, padding_idx, num_embeddings):
    """padding_idx as a row in [0, num_embeddings) (a negative one counts from the end), -1 for None."""
    if padding_idx is None:
        return -1
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{op}: padding_idx {padding_idx} must be within num_embeddings {num_embeddings}")
    return padding_idx % num_embeddings
