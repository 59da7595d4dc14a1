"""Every op's misuse raises a clear exception that names the shapes or values at fault.

Each message in specs/ spells out the actual shapes of its call, so that a message that says
only "shape mismatch" fails.
"""
import re

import numpy
import pytest

from minigan import Tensor
from minigan import functional as F

from .specs import OPS

BAD = [pytest.param(op, bad, id=f"{op.name}-{index}") for op in OPS for index, bad in enumerate(op.errors)]


@pytest.mark.parametrize("op, bad", BAD)
def test_bad_input(xp, op, bad):
    inputs = [Tensor(xp.ones(x, dtype=numpy.float32)) if isinstance(x, tuple) else
              Tensor(xp.asarray(x)) if isinstance(x, numpy.ndarray) else x for x in bad.inputs]
    with pytest.raises(bad.error, match=re.escape(bad.message)):
        op.call(F, *inputs, **bad.kwargs)
