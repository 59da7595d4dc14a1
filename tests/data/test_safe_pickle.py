"""The restricted unpickler admits plain data and numeric arrays, and runs nothing."""

import builtins
import io
import os
import pickle
import shutil
import subprocess

import numpy as np
import pytest

from minigan.data import DatasetError, safe_load


class _TouchFile:
    """Unpickling this runs `touch path` with plain pickle."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.system, (f"touch {self.path}",)


def test_malicious_pickle_is_refused_without_side_effect(tmp_path):
    payload = pickle.dumps(_TouchFile(tmp_path / "pwned"))
    with pytest.raises(DatasetError, match=r"refused to unpickle global (posix|os|nt)\.system"):
        safe_load(io.BytesIO(payload))
    assert not (tmp_path / "pwned").exists()

    pickle.loads(payload)  # control: the payload is live, so the check above can fail
    assert (tmp_path / "pwned").exists()


@pytest.mark.parametrize("func, args, name", [
    (builtins.eval, ("1 + 1",), "builtins.eval"),
    (subprocess.check_output, (["true"],), "subprocess.check_output"),
    (shutil.rmtree, ("/nonexistent",), "shutil.rmtree"),
])
def test_other_callables_are_refused(func, args, name):
    payload = pickle.dumps(type("R", (), {"__reduce__": lambda self: (func, args)})())
    with pytest.raises(DatasetError, match=f"refused to unpickle global {name}"):
        safe_load(io.BytesIO(payload))


def test_object_array_is_refused():
    payload = pickle.dumps({b"data": np.array([1, "a"], dtype=object)})
    with pytest.raises(DatasetError, match="non-numeric dtype object"):
        safe_load(io.BytesIO(payload))


def test_structured_array_is_refused():
    payload = pickle.dumps(np.zeros(2, dtype=[("a", "u1"), ("b", "f4")]))
    with pytest.raises(DatasetError, match="non-numeric dtype"):
        safe_load(io.BytesIO(payload))


@pytest.mark.parametrize("protocol", [3, 4])  # protocol 2 stores bytes through _codecs.encode
def test_plain_data_and_numeric_arrays_load(protocol):
    arrays = [np.arange(6, dtype=d).reshape(2, 3) for d in (np.uint8, np.int64, np.float32, np.complex128)]
    data = {b"labels": [1, 2, 3], "name": "x", 3: (1.5, None, True), "set": {1, 2}, "arrays": arrays,
            "bool": np.array([True, False])}
    loaded = safe_load(io.BytesIO(pickle.dumps(data, protocol=protocol)))
    assert loaded.keys() == data.keys()
    assert loaded[b"labels"] == [1, 2, 3] and loaded["name"] == "x" and loaded[3] == (1.5, None, True)
    assert loaded["set"] == {1, 2}
    for got, want in zip(loaded["arrays"] + [loaded["bool"]], arrays + [data["bool"]]):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_set_loads_from_protocol_2():
    assert safe_load(io.BytesIO(pickle.dumps({1, 2}, protocol=2))) == {1, 2}


def test_deep_nesting_does_not_hit_the_recursion_limit():
    depth = 100_000
    payload = b"\x80\x02" + b"(" * depth + b"l" * depth + b"."  # [[[...]]], built without recursion
    nested = safe_load(io.BytesIO(payload))
    for _ in range(depth - 1):
        nested = nested[0]
    assert nested == []


def test_truncated_pickle_names_the_file(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": np.zeros((3, 4), np.uint8)})[:-10])
    with open(path, "rb") as f, pytest.raises(DatasetError, match="data_batch_1 is not a valid pickle"):
        safe_load(f)
