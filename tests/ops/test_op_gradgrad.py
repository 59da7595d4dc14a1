"""Every op's double backward (create_graph=True), one test per case in specs/: against float64
finite differences of its recorded gradient (minigan.gradgradcheck, random upstream gradients at
both levels), and against torch's second derivatives.

An op's second derivatives are those of S = sum_i <dL/dx_i, p_i>, with L = <op(x), u> and u,
p_i random: S's gradient in x_i is the Hessian of L along p, and in u the Jacobian of op along
p. tests/ops/test_gradcheck_checker.py shows gradgradcheck failing on a wrong double backward.
On the cupy backend (the emulated GPU, and a real one) the second derivatives of one case per
op are compared with numpy's. Where an op's recorded gradient is an op of its own (conv2d's weight
gradient, the poolings' and gathers' gradients), one case goes through gradgradcheck a level up,
which checks that op's double backward (third derivatives of the op).
"""
import numpy
import pytest

from minigan import Tensor, gradgradcheck
from minigan import functional as F

from minigan import backend
from minigan.config import using_config

from .opspec import DEVICE, F64, GRADCHECK, PARITY, Input, TorchFunctional, input_array, params
from .specs import OPS
from support.parity import as_numpy, assert_close

pytestmark = pytest.mark.usefixtures("one_kernel_thread")


def _tensors(case, arrays, make):
    return [make(input_array(spec, a, F64), spec.grad) if isinstance(spec, Input) else a
            for spec, a in zip(case.inputs, arrays)]


@pytest.mark.parametrize("case", params(OPS, GRADCHECK, dtypes=False))
def test_gradgradcheck(xp, rng, case):
    inputs = _tensors(case, case.draw(rng), lambda a, grad: Tensor(xp.asarray(a), requires_grad=grad))
    assert gradgradcheck(lambda *inputs: case.call(F, *inputs), inputs)


# One case of each op whose recorded gradient is made by ops of its own (by name and case id).
GRADIENT_OPS = {"conv2d": "shape=2x2x5x6-out=2-bias=True-kernel=3x2-stride=2x1-padding=1x0",
                "conv_transpose2d": "shape=1x3x2x3-out=2-kernel=4x3-stride=3x2-padding=1x1-output_padding=2x1",
                "avg_pool2d": "shape=2x3x7x6-kernel_size=3-stride=2-padding=1-form=function",
                "max_pool2d": "shape=2x3x7x6-kernel_size=3-stride=2-padding=1-form=function",
                "interpolate": "shape=2x3x5x7-scale_factor=1.7-mode=nearest",
                "pad": "shape=2x3x5x7-pad=2x3x4x1-mode=reflect",
                "embedding": "shape=5x6"}


@pytest.mark.parametrize("case", [p for p in params(OPS, GRADCHECK, dtypes=False)
                                  if GRADIENT_OPS.get(p.values[0].op.name) == p.values[0].id])
def test_gradgradcheck_of_the_recorded_gradient(xp, rng, case):
    """gradgradcheck of S(x, u) = sum_i <dL/dx_i, p_i> (see the module doc), whose recorded
    gradient runs the double backward of the ops that the op's own double backward recorded."""
    import minigan
    inputs = _tensors(case, case.draw(rng), lambda a, grad: Tensor(xp.asarray(a), requires_grad=grad))
    checked = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    probes = [Tensor(xp.asarray(rng.standard_normal(x.shape))) for x in checked]
    u = Tensor(xp.asarray(rng.standard_normal(case.call(F, *inputs).shape)), requires_grad=True)

    def projected_gradient(*arguments):
        *arguments, u = arguments
        wanted = [x for x in arguments if isinstance(x, Tensor) and x.requires_grad]
        with using_config("grad_enabled", True):  # also where gradgradcheck evaluates it under no_grad
            grads = minigan.grad(case.call(F, *arguments), wanted, u, create_graph=True, allow_unused=True)
        return sum((g * p).sum() for g, p in zip(grads, probes) if g is not None)
    assert gradgradcheck(projected_gradient, [*inputs, u])


def _second_derivatives(library, case, arrays, rng_arrays, make, grad_fn, xp=None):
    """S's gradients in u and in every differentiable input, as NumPy arrays (see the module doc);
    with xp, each checked to be an xp array."""
    inputs = _tensors(case, arrays, make)
    checked = [x for spec, x in zip(case.inputs, inputs) if isinstance(spec, Input) and spec.grad]
    out = case.call(F, *inputs) if library == "minigan" else case.call_torch(TorchFunctional(grad_fn[1]), *inputs)
    u = make(rng_arrays["u"](tuple(out.shape)), True)
    grads = grad_fn[0](out, checked, u)
    total = sum((g * make(rng_arrays["p"](i, tuple(x.shape)), False)).sum()
                for i, (g, x) in enumerate(zip(grads, checked)) if g is not None)
    total.backward()
    for i, x in enumerate([u, *checked]):
        assert xp is None or x.grad is None or backend.array_module(x.grad) is xp, \
            f"second derivative {i} on {backend.array_module(x.grad).__name__}"
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
# is a convention (torch's second derivatives there are often nan). Embedding's padding_idx is a
# convention that its double backward follows (the gradient gathered back is zero at that row),
# with no kink: compared with torch too.
@pytest.mark.parametrize("case", [p for p in params(OPS, PARITY, dtypes=False) if p.values[0].op.differentiable
                                  and F64 in p.values[0].dtypes and (GRADCHECK in p.values[0].checks or
                                                                     "padding_idx" in p.values[0].kwargs)])
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


def _one_device_case_per_op():
    """The first float64 case of the device check of each differentiable op."""
    chosen = {}
    for p in params(OPS, DEVICE, dtypes=False):
        case = p.values[0]
        if case.op.differentiable and F64 in case.dtypes:
            chosen.setdefault(case.op.name, p)
    return list(chosen.values())


@pytest.mark.parametrize("case", _one_device_case_per_op())
def test_second_derivatives_on_device(device_xp, rng, case):
    import minigan
    arrays, draws = case.draw(rng), _draws(rng)

    def second_derivatives(xp):
        return _second_derivatives(
            "minigan", case, arrays, draws, lambda a, grad: Tensor(xp.asarray(a), requires_grad=grad),
            (lambda out, xs, u: minigan.grad(out, xs, u, create_graph=True, allow_unused=True), None), xp)
    expected, actual = second_derivatives(numpy), second_derivatives(device_xp)
    for label, a, b in zip(["u"] + [f"input {i}" for i in range(len(expected) - 1)], actual, expected):
        assert_close(a, b, f"second derivative in {label}", case.op.tolerance(DEVICE, F64))
