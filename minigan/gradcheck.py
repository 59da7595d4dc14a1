"""Numerical gradient checking: float64 central differences against a random upstream gradient.

The scalar that is differentiated is L(x) = sum(fn(x) * u) with u random. An
all-ones u would hide bugs whose error sums to zero (batchnorm's input
gradient sums to ~0 against ones). Small inputs are checked element by
element; large ones along random directions, comparing the directional
derivative (L(x + h d) - L(x - h d)) / 2h with <grad, d>.
"""
import numpy

from .autograd import Tensor, no_grad
from .backend import array_module, to_numpy


class GradcheckError(AssertionError):
    """A backward disagrees with finite differences; the message says which input and where."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-7, rtol=1e-5, elementwise_limit=512,
              directions=6, seed=0):
    """Check every input with requires_grad of fn(*inputs); raise GradcheckError on a mismatch.

    inputs are float64 Tensors (others are passed through untouched).
    Returns True so it can be asserted.
    """
    rng = numpy.random.default_rng(seed)
    checked = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    for t in checked:
        if t.dtype != numpy.float64:
            raise TypeError(f"gradcheck needs float64 inputs (float32 differences are noise), "
                            f"got {t.dtype} for an input of shape {t.shape}")
    out = fn(*inputs)
    xp = array_module(out.data)
    upstream = xp.asarray(rng.standard_normal(out.shape))
    for t in checked:
        t.grad = None
    out.backward(upstream)
    analytic = [to_numpy(t.grad) if t.grad is not None else numpy.zeros(t.shape) for t in checked]

    def loss():
        with no_grad():
            return float((fn(*inputs).data * upstream).sum())

    for t, grad in zip(checked, analytic):
        position = next(i for i, x in enumerate(inputs) if x is t)
        where = f"input {position} (shape {t.shape})"
        if t.numel() <= elementwise_limit:
            _check_elements(t, grad, loss, eps, atol, rtol, where)
        else:
            _check_directions(t, grad, loss, eps, atol, rtol, where, rng, directions)
    return True


def _perturbed(t, delta, loss):
    """L at t + delta, restoring t afterwards."""
    original = t.data.copy()
    t.data += delta
    try:
        return loss()
    finally:
        t.data[...] = original


def _check_elements(t, grad, loss, eps, atol, rtol, where):
    xp = array_module(t.data)
    numeric = numpy.empty(t.shape)
    for idx in numpy.ndindex(*t.shape):
        delta = xp.zeros(t.shape)
        delta[idx] = eps
        numeric[idx] = (_perturbed(t, delta, loss) - _perturbed(t, -delta, loss)) / (2 * eps)
    bad = ~numpy.isclose(grad, numeric, atol=atol, rtol=rtol)
    if bad.any():
        worst = numpy.unravel_index(numpy.argmax(numpy.abs(grad - numeric) * bad), t.shape)
        raise GradcheckError(f"gradcheck failed for {where}: {int(bad.sum())} of {t.numel()} elements "
                             f"differ; worst at index {tuple(int(i) for i in worst)}: backward gives "
                             f"{grad[worst]:.10g}, finite differences {numeric[worst]:.10g}")


def _check_directions(t, grad, loss, eps, atol, rtol, where, rng, directions):
    xp = array_module(t.data)
    for k in range(directions):
        direction = rng.standard_normal(t.shape)
        direction /= numpy.linalg.norm(direction)
        delta = xp.asarray(direction * eps)
        numeric = (_perturbed(t, delta, loss) - _perturbed(t, -delta, loss)) / (2 * eps)
        analytic = float((grad * direction).sum())
        if not numpy.isclose(analytic, numeric, atol=atol, rtol=rtol):
            raise GradcheckError(f"gradcheck failed for {where} along random direction {k}: "
                                 f"backward gives directional derivative {analytic:.10g}, "
                                 f"finite differences {numeric:.10g}")
