"""Softmax, with torch.nn's argument and repr."""
from .. import functional as F
from .module import Module

__all__ = ["Softmax"]


class Softmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):  # noqa: A002  (torch's names)
        return F.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"
