"""The loss modules, with torch.nn's arguments: each calls its functional with the reduction
fixed at construction (torch's legacy size_average and reduce turned into one there)."""
from .. import functional as F
from ..autograd import unwrap
from ..functional.loss_reduction import reduction_mode
from .module import Module

__all__ = ["BCEWithLogitsLoss", "CrossEntropyLoss", "MSELoss"]


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        self.reduction = reduction_mode(type(self).__name__, size_average, reduce, reduction)


class _WeightedLoss(_Loss):
    """A loss with per-class weights, kept as a buffer (in state_dict under 'weight', as torch's)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        if weight is None:
            self.weight = None
        else:
            self.register_buffer("weight", unwrap(weight))


class CrossEntropyLoss(_WeightedLoss):
    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):  # noqa: A002  (torch's names)
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class MSELoss(_Loss):
    def forward(self, input, target):  # noqa: A002
        return F.mse_loss(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        for name, value in (("weight", weight), ("pos_weight", pos_weight)):
            if value is not None:
                raise NotImplementedError(f"BCEWithLogitsLoss: {name} is not supported (only {name}=None)")

    def forward(self, input, target):  # noqa: A002
        return F.binary_cross_entropy_with_logits(input, target, reduction=self.reduction)
