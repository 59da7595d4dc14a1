"""Every op's backward against float64 finite differences, one test per case in specs/.

minigan.gradcheck differentiates sum(op(x) * u) with a random upstream gradient u (never
all-ones), element by element for small inputs and along random directions for inputs over
its elementwise_limit; tests/ops/test_gradcheck_checker.py shows it failing on wrong backwards.
"""
import numpy
import pytest

from minigan import Tensor, gradcheck
from minigan import functional as F

from .opspec import GRADCHECK, Input, input_array, params
from .specs import OPS

pytestmark = pytest.mark.usefixtures("one_kernel_thread")


@pytest.mark.parametrize("case", params(OPS, GRADCHECK, dtypes=False))
def test_gradcheck(xp, rng, case):
    inputs = [Tensor(xp.asarray(input_array(spec, a, numpy.float64)), requires_grad=spec.grad)
              if isinstance(spec, Input) else a for spec, a in zip(case.inputs, case.draw(rng))]
    assert all(x.dtype == numpy.float64 for x in inputs if isinstance(x, Tensor) and x.requires_grad)
    assert gradcheck(lambda *inputs: case.call(F, *inputs), inputs, **case.gradcheck)
