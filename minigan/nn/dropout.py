"""Dropout and Dropout2d, with torch.nn's arguments and repr: active in training mode only."""
from .. import functional as F
from ..functional.dropout import check_dropout_args
from .module import Module

__all__ = ["Dropout", "Dropout2d"]


class Dropout(Module):
    """Zero each element with probability p in training mode (scaling the rest by 1 / (1 - p))."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        check_dropout_args(type(self).__name__, p)
        self.p, self.inplace = p, inplace

    def forward(self, input):  # noqa: A002  (torch's names)
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Zero each channel of an (N, C, H, W) input with probability p in training mode."""

    def forward(self, input):  # noqa: A002
        return F.dropout2d(input, self.p, self.training, self.inplace)
