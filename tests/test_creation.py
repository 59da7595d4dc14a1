"""minigan.tensor, minigan.from_numpy and the thread count, against torch's behaviour."""
import numpy
import pytest
from threadpoolctl import threadpool_info

import minigan


@pytest.mark.parametrize("data", [[1.5, 2.0], [1, 2], [True, False], 3.0, 7, [[1, 2], [3, 4]]])
def test_tensor_takes_torchs_default_dtypes(torch, data):
    assert str(minigan.tensor(data).dtype) == str(torch.tensor(data).dtype).removeprefix("torch.")
    numpy.testing.assert_array_equal(minigan.tensor(data).numpy(), torch.tensor(data).numpy())


def test_tensor_copies_and_from_numpy_shares():
    array = numpy.zeros(3, dtype=numpy.float64)
    copied, shared = minigan.tensor(array), minigan.from_numpy(array)
    array[0] = 5
    assert copied.data[0] == 0 and shared.data[0] == 5
    assert copied.dtype == shared.dtype == numpy.float64


def test_tensor_dtype_and_requires_grad():
    t = minigan.tensor([1, 2], dtype=numpy.float64, requires_grad=True)
    assert t.dtype == numpy.float64 and t.requires_grad


@pytest.mark.parametrize("call, error, message", [
    (lambda: minigan.tensor("abc"), TypeError, "cannot make a tensor of str"),
    (lambda: minigan.tensor([1, 2], requires_grad=True), RuntimeError, "only floating-point tensors"),
    (lambda: minigan.from_numpy([1.0]), TypeError, "expected a numpy.ndarray, got list"),
    (lambda: minigan.set_num_threads(0), ValueError, "positive int, got 0"),
])
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_set_num_threads_limits_numba_and_the_blas():
    before = minigan.get_num_threads()
    try:
        minigan.set_num_threads(1)
        assert minigan.get_num_threads() == 1
        assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")
    finally:
        minigan.set_num_threads(before)
