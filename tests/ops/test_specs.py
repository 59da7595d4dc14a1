"""The op specs themselves: every activation and loss declares the values where a naive formula
breaks, so that the next one added cannot skip them.

An elementwise op is exact almost everywhere and wrong only at a few inputs: a kink (ReLU's 0,
where the derivative is a convention) or an extreme (a logit of 100, where exp overflows in
float32). The gradient check and the grids keep away from those, so each such op must list them
in its spec, where the torch-parity and device checks run them in float32 and float64.
"""
import inspect

import numpy
import pytest

from minigan.functional import activation, loss

from .opspec import DEVICE, F32, F64, PARITY
from .specs import OPS

SPECS = {op.name: op for op in OPS}
ELEMENTWISE = sorted(name for module in (activation, loss) for name, fn in vars(module).items()
                     if inspect.isfunction(fn) and fn.__module__ == module.__name__ and not name.startswith("_"))
PIECEWISE = {"relu", "leaky_relu"}  # a kink at 0
PROBABILITIES = {"binary_cross_entropy"}  # inputs in [0, 1]: the extremes are 0 and 1, where a log is -inf


def test_the_modules_define_the_ops_checked_here():
    assert {"relu", "leaky_relu", "tanh", "sigmoid", "binary_cross_entropy_with_logits", "cross_entropy",
            "binary_cross_entropy"} <= set(ELEMENTWISE)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_every_activation_and_loss_runs_its_extremes_in_both_dtypes(name):
    op = SPECS.get(name)
    assert op is not None, f"{name} has no entry in tests/ops/specs/"
    assert op.extremes, f"{name}: no extreme values (where exp or log overflows in float32)"
    extremes = [c for c in op.expanded if c.id.startswith("extremes")]
    assert extremes and all({PARITY, DEVICE} <= c.checks and {F32, F64} <= set(c.dtypes) for c in extremes)
    if name in PROBABILITIES:
        assert {0.0, 1.0} <= set(numpy.ravel(op.extremes)), f"{name}: extremes miss 0 or 1 (log(0) = -inf)"
    else:
        assert numpy.abs(op.extremes).max() >= 100, f"{name}: extremes reach no logit of 100"


@pytest.mark.parametrize("name", sorted(PIECEWISE))
def test_every_kink_runs_at_both_zeros_for_every_slope(name):
    op = SPECS[name]
    assert {0.0, 1.0, -1.0} <= set(op.kinks) and any(numpy.signbit(v) and v == 0 for v in op.kinks)
    kinks = [c for c in op.expanded if c.id.startswith("kinks")]
    slopes = {c.kwargs.get("negative_slope") for c in op.expanded if not c.id.startswith(("kinks", "extremes"))}
    assert slopes == {c.kwargs.get("negative_slope") for c in kinks}, "a slope of the grid without its kinks"
    assert all({PARITY, DEVICE} <= c.checks and {F32, F64} <= set(c.dtypes) for c in kinks)
    if name == "leaky_relu":
        assert any(s is not None and s < 0 for s in slopes), "no negative slope"
