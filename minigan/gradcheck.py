"""Numerical gradient checking: float64 central differences against a random upstream gradient,
of first derivatives (gradcheck) and of second ones (gradgradcheck).

The scalar that is differentiated is L(x) = sum(fn(x) * u) with u random. An
all-ones u would hide bugs whose error sums to zero (batchnorm's input
gradient sums to ~0 against ones). Small inputs are checked element by
element; large ones along random directions, comparing the directional
derivative (L(x + h d) - L(x - h d)) / 2h with <grad, d>.
"""
import numpy

from .autograd import Tensor, grad, no_grad
from .config import using_config
from .backend import array_module, to_numpy


class GradcheckError(AssertionError):
    """A backward disagrees with finite differences; the message says which input and where."""


def _wanting_grad(inputs):
    """{position in inputs: tensor} of the inputs that are Tensors with requires_grad, in order."""
    return {i: t for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad}


def gradcheck(fn, inputs, eps=1e-6, atol=1e-7, rtol=1e-5, elementwise_limit=512,
              directions=6, seed=0):
    """Check every input with requires_grad of fn(*inputs); raise GradcheckError on a mismatch.

    inputs are float64 Tensors (others are passed through untouched).
    Returns True so it can be asserted.
    """
    rng = numpy.random.default_rng(seed)
    wanting = _wanting_grad(inputs)
    checked = list(wanting.values())
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

    for (position, t), grad in zip(wanting.items(), analytic):
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


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-4, directions=4, seed=0):
    """Check the recorded gradients of fn (create_graph=True) by gradcheck, as torch's gradgradcheck.

    With random u (the upstream gradient) and random probes p_i, gradcheck differentiates
    S(x, u) = sum_i <d<fn(x), u>/dx_i, p_i>, a scalar: its gradient in x is the second
    derivative along p, in u the first derivative along p. Both levels are random, so no error
    cancels against ones. The checks go along random directions. First, the recorded gradients
    must equal those of the fast backward (which gradcheck proves): an op's backward_graph is a
    second implementation of its gradient, which S's derivatives alone would not see consistently wrong.
    """
    rng = numpy.random.default_rng(seed)
    wanting = _wanting_grad(inputs)
    checked = list(wanting.values())
    with no_grad():
        out = fn(*inputs)
    xp = array_module(out.data)
    upstream = Tensor(xp.asarray(rng.standard_normal(out.shape)), requires_grad=True)
    probes = [xp.asarray(rng.standard_normal(t.shape)) for t in checked]
    with using_config("grad_enabled", True):
        recorded = grad(fn(*inputs), checked, upstream, create_graph=True, allow_unused=True)
        fast = grad(fn(*inputs), checked, upstream.data, allow_unused=True)
    for (position, t), mine, reference in zip(wanting.items(), recorded, fast):
        mine, reference = (numpy.zeros(t.shape) if g is None else to_numpy(g.data) for g in (mine, reference))
        if not numpy.allclose(mine, reference, atol=atol, rtol=rtol):
            worst = numpy.unravel_index(numpy.argmax(numpy.abs(mine - reference)), t.shape)
            raise GradcheckError(f"gradgradcheck failed for input {position} (shape {t.shape}): the recorded "
                                 f"gradient (create_graph=True) differs from backward's; worst at index "
                                 f"{tuple(int(i) for i in worst)}: {mine[worst]:.10g} against {reference[worst]:.10g}")

    def projected_gradient(*arguments):
        *arguments, u = arguments
        with using_config("grad_enabled", True):
            grads = grad(fn(*arguments), checked, u, create_graph=True, allow_unused=True)
        terms = [(g * p).sum() for g, p in zip(grads, probes) if g is not None]
        if not terms:
            raise GradcheckError("gradgradcheck: no input of fn gets a gradient")
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total

    return gradcheck(projected_gradient, [*inputs, upstream], eps, atol, rtol,
                     elementwise_limit=0, directions=directions, seed=seed + 1)
