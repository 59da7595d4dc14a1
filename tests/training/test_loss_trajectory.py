"""The engine's Fashion-MNIST losses over 100 steps equal the committed trajectory (written by the
engine before the batch-innermost layout, tests/training/loss_trajectory.py) to float32 rounding:
a change of memory layout or summation order may move the last bits, not the training."""
import json

import numpy
import pytest

from minigan.data.fashion_mnist import DEBIAN_DIR

from .loss_trajectory import REFERENCE, SETUP, trajectory


@pytest.mark.slow
@pytest.mark.skipif(not DEBIAN_DIR.is_dir(), reason="needs Debian's dataset-fashion-mnist package")
def test_losses_equal_the_reference_trajectory(tmp_path):
    reference = json.loads(REFERENCE.read_text())
    assert reference["setup"] == SETUP
    expected = numpy.array(reference["scalars"], dtype=numpy.float32)
    actual = trajectory(tmp_path)
    # Float32 rounding differences grow a little through 100 steps of Adam; a real change
    # (a wrong gradient, a skipped tap, a changed statistic) moves them by percents.
    numpy.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)
