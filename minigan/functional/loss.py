"""Losses, with torch.nn.functional's names, signatures and reductions.

binary_cross_entropy_with_logits and cross_entropy run on fused kernels; the others are array
ops. The classification losses check their targets' range, which on the GPU reads one value back.
"""
import math

from ..autograd import Function, unwrap
from ..backend import array_module, kernels
from . import reduction as reductions
from .activation import sigmoid
from .loss_reduction import reduction_mode
from .math import clamp, log, where
from .shape import unsqueeze
from .softmax import softmax


class BCEWithLogits(Function):
    """softplus(x) - x * t, written so exp never sees a positive argument, then reduced. The mean
    (the GAN losses') is one fused kernel that gives the loss and d loss / d x together, so its
    backward only scales; sum and none take the elementwise terms, and a kernel for the gradient."""

    def __init__(self, reduction):
        self.reduction = reduction

    def forward(self, x, target):
        table = kernels(array_module(x))
        if self.reduction == "mean":
            loss, grad_x = table.bce_with_logits_mean(x, target)
            self.grad_x = grad_x if self.needs_grad[0] else None
            self.x = x if self.needs_grad[1] else None
            return loss
        self.x, self.target = x, target
        terms = table.bce_with_logits_terms(x, target)
        return terms if self.reduction == "none" else terms.sum()

    def backward(self, grad):
        grad_x = grad_t = None
        if self.needs_grad[0] and self.reduction == "mean":
            grad_x = grad * self.grad_x
        elif self.needs_grad[0] and self.reduction == "none":
            grad_x = grad * (kernels(array_module(grad)).sigmoid(self.x) - self.target)
        elif self.needs_grad[0]:
            grad_x = kernels(array_module(grad)).bce_with_logits_backward(self.x, self.target, grad, 1)
        if self.needs_grad[1]:
            grad_t = grad * -self.x / (self.x.size if self.reduction == "mean" else 1)
        return grad_x, grad_t

    def backward_graph(self, grad):
        x, target = self.inputs
        upstream = grad / math.prod(x.shape) if self.reduction == "mean" else grad
        grad_x = upstream * (sigmoid(x) - target) if self.needs_grad[0] else None
        return grad_x, -upstream * x if self.needs_grad[1] else None


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,  # noqa: A002
                                     reduction="mean", pos_weight=None):
    """The BCE of logits input against target, as torch.nn.functional.binary_cross_entropy_with_logits."""
    reduction = reduction_mode("binary_cross_entropy_with_logits", size_average, reduce, reduction)
    _no_weight("binary_cross_entropy_with_logits", weight)
    if pos_weight is not None:
        raise NotImplementedError("binary_cross_entropy_with_logits: pos_weight is not supported (only "
                                  "pos_weight=None)")
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"binary_cross_entropy_with_logits: target shape {tuple(target.shape)} "
                         f"does not match input shape {tuple(input.shape)}")
    return BCEWithLogits(reduction)(input, target)


# --- reductions ------------------------------------------------------------------------------

BCE_EPSILON = 9.999999960041972e-13  # torch's clamp of BCE's gradient denominator: 1e-12 as a float32


def _reduce(terms, reduction):
    """The elementwise terms as they are, summed or averaged (the reduction ops' sum and mean)."""
    return terms if reduction == "none" else getattr(reductions, reduction)(terms)


def _check_same_shape(op, input, target):  # noqa: A002  (torch's names)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{op}: target shape {tuple(target.shape)} does not match input shape "
                         f"{tuple(input.shape)} (minigan does not broadcast a loss's target)")


def _no_weight(op, weight):
    if weight is not None:
        raise NotImplementedError(f"{op}: weight is not supported (only weight=None)")


# --- regression losses ------------------------------------------------------------------------

class SquaredError(Function):
    def forward(self, x, target):
        self.diff = x - target
        return self.diff * self.diff

    def backward(self, grad):
        grad_x = 2 * grad * self.diff
        return grad_x if self.needs_grad[0] else None, -grad_x if self.needs_grad[1] else None

    def backward_graph(self, grad):
        x, target = self.inputs
        grad_x = 2 * grad * (x - target)
        return grad_x if self.needs_grad[0] else None, -grad_x if self.needs_grad[1] else None


class AbsoluteError(Function):
    """|x - t|; at x = t the gradient is 0, torch's sign(0)."""

    def forward(self, x, target):
        xp = array_module(x)
        diff = x - target
        self.sign = xp.sign(diff)
        return xp.abs(diff)

    def backward(self, grad):
        grad_x = grad * self.sign
        return grad_x if self.needs_grad[0] else None, -grad_x if self.needs_grad[1] else None

    backward_graph = backward  # grad times a constant sign: the same ops record on Tensors


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):  # noqa: A002
    """(input - target)^2, reduced."""
    reduction = reduction_mode("mse_loss", size_average, reduce, reduction)
    _no_weight("mse_loss", weight)
    _check_same_shape("mse_loss", input, target)
    return _reduce(SquaredError()(input, target), reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):  # noqa: A002
    """|input - target|, reduced."""
    reduction = reduction_mode("l1_loss", size_average, reduce, reduction)
    _no_weight("l1_loss", weight)
    _check_same_shape("l1_loss", input, target)
    return _reduce(AbsoluteError()(input, target), reduction)


# --- binary cross-entropy on probabilities ----------------------------------------------------

class BinaryCrossEntropy(Function):
    """-(t * log(p) + (1 - t) * log(1 - p)) with each log clamped to >= -100, as torch, so that
    p = 0 or 1 gives a finite loss. torch's gradient, grad * (p - t) / max((1 - p) * p, eps),
    clamps the denominator instead."""

    def forward(self, p, target):
        xp = array_module(p)
        # The logs of p and 1 - p, -inf at 0 (without log(0)'s warning), then torch's clamp.
        zero, one, neg_inf = (p.dtype.type(v) for v in (0, 1, -math.inf))
        log_p = xp.where(p > 0, xp.log(xp.where(p > 0, p, one)), neg_inf)
        log_q = xp.where(p < 1, xp.log1p(-xp.where(p < 1, p, zero)), neg_inf)
        self.p, self.target = p, target
        self.logit = log_p - log_q if self.needs_grad[1] else None  # torch's target gradient: -logit(p)
        floor = p.dtype.type(-100)
        return -(target * xp.maximum(log_p, floor) + (1 - target) * xp.maximum(log_q, floor))

    def backward(self, grad):
        xp = array_module(grad)
        grad_p = None
        if self.needs_grad[0]:
            grad_p = grad * (self.p - self.target) / xp.maximum((1 - self.p) * self.p, grad.dtype.type(BCE_EPSILON))
        return grad_p, -grad * self.logit if self.needs_grad[1] else None

    def backward_graph(self, grad):
        p, target = self.inputs
        grad_p = None
        if self.needs_grad[0]:
            grad_p = grad * (p - target) / clamp((1 - p) * p, min=BCE_EPSILON)
        return grad_p, -grad * (log(p) - log(1 - p)) if self.needs_grad[1] else None


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,  # noqa: A002
                         reduction="mean"):
    """The BCE of probabilities input (in [0, 1]) against target, each log clamped to >= -100."""
    reduction = reduction_mode("binary_cross_entropy", size_average, reduce, reduction)
    _no_weight("binary_cross_entropy", weight)
    _check_same_shape("binary_cross_entropy", input, target)
    xp = array_module(unwrap(input))
    if bool(xp.any((unwrap(input) < 0) | (unwrap(input) > 1))):  # NaNs pass, as in torch
        raise ValueError(f"binary_cross_entropy: all elements of input should be between 0 and 1 "
                         f"(input of shape {tuple(input.shape)}, min {unwrap(input).min()}, max {unwrap(input).max()})")
    return _reduce(BinaryCrossEntropy()(input, target), reduction)


# --- classification: negative log-likelihood and cross-entropy ----------------------------------

def _classes_last(xp, a):
    """a with its class dimension (1, or 0 of a 1-D input) moved last."""
    return xp.moveaxis(a, 1, -1) if a.ndim > 1 else a


def _classes_back(xp, a):
    return xp.moveaxis(a, -1, 1) if a.ndim > 1 else a


def _reduced(terms, w_t, reduction):
    """terms as they are, summed, or over the sum of the targets' weights (torch's weighted mean)."""
    if reduction == "none":
        return terms, None
    if reduction == "sum":
        return terms.sum(), None
    total_weight = w_t.sum()
    return terms.sum() / total_weight, total_weight


def _upstream(xp, grad, reduction, total_weight, shape):
    """The upstream gradient of each term, from that of the reduced loss."""
    return xp.broadcast_to(grad if reduction != "mean" else grad / total_weight, shape)


def _upstream_graph(xp, grad, reduction, total_weight, valid):
    """_upstream in recorded ops, with a class dim of 1 to broadcast against the input, and 0 in
    the ignored rows (valid: False there, classes last), even where it is not finite."""
    coef = grad / total_weight if reduction == "mean" else grad
    return where(_classes_back(xp, valid[..., None]), unsqueeze(coef, 1) if coef.ndim else coef, 0)


def _term_weights(xp, target, valid, w_t, classes, weight=None, smoothing=0.0):
    """Minus the derivative of each term in logp, a constant, classes last: (1 - eps) w[t] at
    the target's class, plus eps / C w[c] at every class c; 0 in ignored rows (there target is 0,
    valid False and w_t, the target's weight, 0)."""
    q = (1 - smoothing) * w_t[..., None] * (target[..., None] == xp.arange(classes))
    return q + smoothing / classes * weight * valid[..., None] if smoothing else q


class NLLLoss(Function):
    """torch's nll_loss of log-probabilities: each term -w[t] * logp[t], 0 where the target is
    ignore_index; 'mean' divides their sum by the sum of w[t] over the targets not ignored (NaN
    when all are ignored, as in torch)."""

    def __init__(self, ignore_index, reduction):
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, logp, target, weight=None):
        xp = array_module(logp)
        logp = _classes_last(xp, logp)
        self.classes = logp.shape[-1]
        self.valid = target != self.ignore_index
        self.target = xp.where(self.valid, target, 0)
        self.w_t = self.valid.astype(logp.dtype) if weight is None else weight[self.target] * self.valid
        picked = xp.take_along_axis(logp, self.target[..., None], axis=-1)[..., 0]
        loss, self.total_weight = _reduced(-self.w_t * picked, self.w_t, self.reduction)
        return loss

    def backward(self, grad):
        xp = array_module(grad)
        coef = _upstream(xp, grad, self.reduction, self.total_weight, self.target.shape)
        picked = (self.target[..., None] == xp.arange(self.classes)) & self.valid[..., None]
        grad_logp = xp.where(picked, (-coef * self.w_t)[..., None], 0)  # 0 where ignored, even if coef is not finite
        return _classes_back(xp, grad_logp.astype(grad.dtype, copy=False)), None, None

    def backward_graph(self, grad):
        xp = array_module(self.target)
        q = _classes_back(xp, _term_weights(xp, self.target, self.valid, self.w_t, self.classes))
        return -_upstream_graph(xp, grad, self.reduction, self.total_weight, self.valid) * q, None, None


class CrossEntropy(Function):
    """nll_loss(log_softmax(x)) with torch's label smoothing eps: each term (1 - eps) * -w[t] *
    logp[t] + eps / C * -sum_c w[c] logp[c], reduced as NLLLoss's. The kernels
    (kernels/cross_entropy.py) make one pass over the (rows, classes) logits each way."""

    def __init__(self, ignore_index, reduction, label_smoothing):
        self.ignore_index, self.reduction, self.smoothing = ignore_index, reduction, label_smoothing

    def forward(self, x, target, weight=None):
        xp = array_module(x)
        rows = _classes_last(xp, x)
        self.rows_shape, classes = rows.shape, rows.shape[-1]
        self.target = target.reshape(-1).astype(xp.int64, copy=False)
        self.weight = xp.ones(classes, dtype=x.dtype) if weight is None else weight
        self.logp, terms, w_t = kernels(xp).cross_entropy_forward(
            xp.ascontiguousarray(rows).reshape(-1, classes), self.target, self.weight, self.ignore_index,
            self.smoothing)
        loss, self.total_weight = _reduced(terms.reshape(target.shape), w_t, self.reduction)
        return loss

    def backward(self, grad):
        xp = array_module(grad)
        coef = _upstream(xp, grad, self.reduction, self.total_weight, self.rows_shape[:-1]).reshape(-1)
        grad_rows = kernels(xp).cross_entropy_backward(self.logp, self.target, self.weight, coef,
                                                       self.ignore_index, self.smoothing)
        return _classes_back(xp, grad_rows.reshape(self.rows_shape)), None, None

    def backward_graph(self, grad):
        x = self.inputs[0]
        xp = array_module(self.target)
        valid = self.target != self.ignore_index
        target = xp.where(valid, self.target, 0)
        q = _term_weights(xp, target, valid, self.weight[target] * valid, self.weight.shape[0], self.weight,
                          self.smoothing)
        q = _classes_back(xp, q.reshape(self.rows_shape))
        classes_dim = 1 if x.ndim > 1 else 0
        # d loss / dx = coef * (softmax(x) * sum_c q - q), log_softmax's gradient of -q
        p = softmax(x, dim=classes_dim)
        coef = _upstream_graph(xp, grad, self.reduction, self.total_weight, valid.reshape(self.rows_shape[:-1]))
        return coef * (p * q.sum(axis=classes_dim, keepdims=True) - q), None, None


def _check_classification(op, input, target, weight, ignore_index, label_smoothing):  # noqa: A002
    """torch's checks of a classification loss's arguments, with messages naming the shapes and values."""
    shape = tuple(input.shape)
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class dimension, got a 0-d input")
    expected = shape[:1] + shape[2:] if input.ndim > 1 else ()
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold class indices (an integer tensor, as int64), got "
                        f"{target.dtype} of shape {tuple(target.shape)}; probability targets are not supported")
    if tuple(target.shape) != expected:
        raise ValueError(f"{op}: target shape {tuple(target.shape)} does not match input shape {shape}: "
                         f"expected {expected} (the input without its class dimension)")
    classes = shape[1] if input.ndim > 1 else shape[0]
    if weight is not None and tuple(weight.shape) != (classes,):
        raise ValueError(f"{op}: weight must have shape ({classes},), one per class of input {shape}, "
                         f"got {tuple(weight.shape)}")
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    t = unwrap(target)
    outside = (t != ignore_index) & ((t < 0) | (t >= classes))
    if bool(outside.any()):  # one host read: the range must be known to raise here
        bad = int(t[outside].reshape(-1)[0])
        raise IndexError(f"{op}: target {bad} is out of bounds for {classes} classes (input {shape}); "
                         f"targets must be in [0, {classes - 1}] or ignore_index ({ignore_index})")


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,  # noqa: A002
             reduction="mean"):
    """The negative log-likelihood of class indices target under log-probabilities input."""
    reduction = reduction_mode("nll_loss", size_average, reduce, reduction)
    _check_classification("nll_loss", input, target, weight, ignore_index, 0.0)
    return NLLLoss(ignore_index, reduction)(input, target, weight)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,  # noqa: A002
                  reduction="mean", label_smoothing=0.0):
    """nll_loss of log_softmax(input) over the class dim, with torch's label smoothing."""
    reduction = reduction_mode("cross_entropy", size_average, reduce, reduction)
    _check_classification("cross_entropy", input, target, weight, ignore_index, label_smoothing)
    return CrossEntropy(ignore_index, reduction, label_smoothing)(input, target, weight)
