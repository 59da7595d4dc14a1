"""Every op against PyTorch, one test per case and dtype in specs/.

Both libraries get the same inputs and the same random upstream gradient; the output, every
input's gradient and every state the op updates in place (batchnorm's running statistics) must
agree to a relative error of 1e-9 in float64 and 1e-5 in float32 (relative to the largest
magnitude of torch's value). The kinks and extreme values of an op run here too.
"""
import pytest

from .opspec import PARITY, assert_same_run, params, run_minigan, run_torch, upstream_gradients
from .specs import OPS


@pytest.mark.parametrize("case, dtype", params(OPS, PARITY))
def test_parity(xp, rng, torch, case, dtype):
    arrays = case.draw(rng)
    upstream = upstream_gradients(rng, dtype)
    expected = run_torch(case, arrays, torch, dtype, upstream)
    actual = run_minigan(case, arrays, xp, dtype, upstream)
    assert_same_run(actual, expected, case.op.tolerance(PARITY, dtype))
