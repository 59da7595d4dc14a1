"""The backends every kernel test runs on: the cpu table on NumPy, the cuda table on the
emulated GPU (tests/support/cuda_emulator.py), and on CuPy where a GPU is (marked gpu)."""
import types

import numpy
import pytest

from minigan import backend
from minigan.kernels import table


@pytest.fixture(params=["cpu", "emulated-cuda", pytest.param("cuda", marks=pytest.mark.gpu)])
def kernel_backend(request):
    """.name, .table (the kernels), .put(array) (a host array onto the backend), .get(array) (back as NumPy)."""
    if request.param == "cpu":
        xp, kernels = numpy, table.cpu
    elif request.param == "emulated-cuda":
        xp, kernels = request.getfixturevalue("fake_cupy"), request.getfixturevalue("emulated_gpu")
    else:
        try:
            xp, kernels = backend.require_cupy(), table.cuda
        except RuntimeError as error:  # require_cupy says what is missing
            pytest.skip(str(error))
    return types.SimpleNamespace(name=request.param, table=kernels, put=xp.asarray, get=backend.to_numpy)
