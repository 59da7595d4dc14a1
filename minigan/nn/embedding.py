"""Embedding, with torch.nn's arguments, N(0, 1) initialisation, padding row and repr."""
import numpy

from .. import backend, init
from .. import functional as F
from ..autograd import unwrap
from ..functional.embedding import check_padding_idx
from .module import Module, Parameter

__all__ = ["Embedding"]


class Embedding(Module):
    """A (num_embeddings, embedding_dim) weight, N(0, 1) from minigan's generator as torch's, with
    row padding_idx zeroed; indexing it by integer tensors gives their rows."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None,
                 dtype=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        padding = check_padding_idx("Embedding", padding_idx, num_embeddings)
        self.padding_idx = None if padding_idx is None else padding
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            weight = Parameter(numpy.empty((num_embeddings, embedding_dim), dtype=dtype or numpy.float32),
                               requires_grad=not _freeze)
            init.normal_(weight)
            if self.padding_idx is not None:
                weight.data[self.padding_idx] = 0
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {tuple(_weight.shape)}, expected "
                                 f"({num_embeddings}, {embedding_dim})")
            weight = Parameter(unwrap(_weight), requires_grad=not _freeze)
        self.weight = weight
        if device is not None:
            self.to(device)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        """An Embedding whose weight is embeddings (2-D), trainable only if freeze=False, as torch's."""
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {tuple(embeddings.shape)}")
        rows, dim = embeddings.shape
        return cls(rows, dim, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=backend.as_array(unwrap(embeddings)).copy(), _freeze=freeze)

    def forward(self, input):  # noqa: A002  (torch's names)
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse is not False:
            s += ", sparse=True"
        return s
