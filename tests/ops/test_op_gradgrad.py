"""Every op's double backward (create_graph=True), one test per case in specs/: against float64
finite differences of its recorded gradient (minigan.gradgradcheck, random upstream gradients at
both levels), and against torch's second derivatives.

An op's second derivatives are those of S = sum_i <dL/dx_i, p_i>, with L = <op(x), u> and u,
p_i random: S's gradient in x_i is the Hessian of L along p, and in u the Jacobian of op along
p. tests/ops/test_gradcheck_checker.py shows gradgradcheck failing on a wrong double backward.
"""
import numpy
import pytest

from minigan import Tensor, gradgradcheck
from minigan import functional as F

from .opspec import F64, GRADCHECK, PARITY, Input, TorchFunctional, input_array, params
from .specs import OPS
from support.parity import as_numpy

pytestmark = pytest.mark.usefixtures("one_kernel_thread")


def _tensors(case, arrays, make):
    return [make(input_array(spec, a, F64), spec.grad) if isinstance(spec, Input) else a
            for spec, a in zip(case.inputs, arrays)]


@pytest.mark.parametrize("case", params(OPS, GRADCHECK, dtypes=False))
def test_gradgradcheck(xp, rng, case):
    inputs = _tensors(case, case.draw(rng), lambda a, grad: Tensor(xp.asarray(a), requires_grad=grad))
    assert gradgradcheck(lambda *inputs: case.call(F, *inputs), inputs)


def _second_derivatives(library, case, arrays, rng_arrays, make, grad_fn):
    """S's gradients in u and in every differentiable input, as NumPy arrays (see the module doc)."""
    inputs = _tensors(case, arrays, make)
    checked = [x for spec, x in zip(case.inputs, inputs) if isinstance(spec, Input) and spec.grad]
    out = case.call(F, *inputs) if library == "minigan" else case.call_torch(TorchFunctional(grad_fn[1]), *inputs)
    u = make(rng_arrays["u"](tuple(out.shape)), True)
    grads = grad_fn[0](out, checked, u)
    total = sum((g * make(rng_arrays["p"](i, tuple(x.shape)), False)).sum()
                for i, (g, x) in enumerate(zip(grads, checked)) if g is not None)
    total.backward()
    return [_second_derivative(x) for x in [u, *checked]]


def _second_derivative(x):
    """x.grad as NumPy; zeros where S does not depend on x (None), or torch says so (a ZeroTensor)."""
    if x.grad is None or getattr(x.grad, "_is_zerotensor", lambda: False)():
        return numpy.zeros(tuple(x.shape))
    return as_numpy(x.grad)


def _draws(rng):
    drawn = {}

    def u(shape):
        return drawn.setdefault(("u", shape), rng.standard_normal(shape))

    def p(i, shape):
        return drawn.setdefault(("p", i, shape), rng.standard_normal(shape))
    return {"u": u, "p": p}


# The cases that finite differences can check too: not the kinks and edges, where a derivative
# is a convention (torch's second derivatives there are often nan).
@pytest.mark.parametrize("case", [p for p in params(OPS, PARITY, dtypes=False) if GRADCHECK in p.values[0].checks
                                  and p.values[0].op.differentiable and F64 in p.values[0].dtypes])
def test_second_derivatives_match_torch(xp, rng, torch, case):
    import minigan
    arrays, draws = case.draw(rng), _draws(rng)
    theirs = _second_derivatives(
        "torch", case, arrays, draws, lambda a, grad: torch.tensor(a, requires_grad=grad),
        (lambda out, xs, u: torch.autograd.grad(out, xs, u, create_graph=True, allow_unused=True), torch))
    mine = _second_derivatives(
        "minigan", case, arrays, draws, lambda a, grad: Tensor(xp.asarray(a), requires_grad=grad),
        (lambda out, xs, u: minigan.grad(out, xs, u, create_graph=True, allow_unused=True), None))
    rtol = case.op.tolerance(PARITY, F64)
    for label, a, b in zip(["u"] + [f"input {i}" for i in range(len(mine) - 1)], mine, theirs):
        # Relative to at least 1: a second derivative that is 0 in exact arithmetic (std over two
        # elements is linear) comes out as rounding noise of either sign on both sides.
        error = numpy.abs(a - b).max(initial=0.0) / max(1.0, numpy.abs(b).max(initial=0.0))
        assert error <= rtol, f"second derivative in {label}: relative error {error:.3g} > {rtol:g}"
