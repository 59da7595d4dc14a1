"""assert_same: two nested objects (dicts, lists, tuples, Tensors, arrays, numbers) equal in value
and in every type, as a save and load round trip must keep them."""
import math

import numpy

from minigan import Tensor


def assert_same(loaded, expected, where="obj"):
    """Equal values of exactly the same types, recursively (bool is not int, tuple is not list)."""
    assert type(loaded) is type(expected), f"{where}: {type(loaded)} != {type(expected)}"
    if isinstance(expected, dict):
        assert list(loaded) == list(expected), where
        assert [type(k) for k in loaded] == [type(k) for k in expected], where
        for key in expected:
            assert_same(loaded[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, (list, tuple)):
        assert len(loaded) == len(expected), where
        for i, (a, b) in enumerate(zip(loaded, expected)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(expected, Tensor):
        assert loaded.requires_grad == expected.requires_grad, where
        assert_same(loaded.data, expected.data, f"{where}.data")
    elif isinstance(expected, (numpy.ndarray, numpy.generic)):
        assert loaded.dtype == expected.dtype and loaded.shape == expected.shape, where
        numpy.testing.assert_array_equal(loaded, expected, err_msg=where)
    elif isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(loaded), where
    else:
        assert loaded == expected, where
