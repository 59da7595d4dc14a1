"""The safe unpickler: benign CIFAR-10 batches load at every protocol, malicious pickles are
refused naming the global, and the allowed globals are exactly the set the design names.
"""

import builtins
import codecs
import copyreg
import ctypes
import functools
import importlib
import io
import operator
import os
import pickle
import shutil
import socket
import subprocess
import sys
import tracemalloc
import types

import numpy as np
import pytest

import minigan.data.safe_pickle as safe_pickle
from minigan.data import DatasetError, cifar10, safe_load

# What numpy and Python write for plain numeric data, written here from the design, not read
# from the code: numpy 1's names (numpy.core) and numpy 2's (numpy._core), and protocols 0-2's
# names for bytes (_codecs.encode, __builtin__.bytes for b'') and sets.
EXPECTED_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),
    ("builtins", "bytes"), ("__builtin__", "bytes"),
    ("builtins", "set"), ("__builtin__", "set"),
}

_reconstruct = importlib.import_module("numpy._core.multiarray")._reconstruct
_frombuffer = importlib.import_module("numpy._core.numeric")._frombuffer


class Reduce:
    """Pickles as `func(*args)`, with `state` given to BUILD if not None."""

    def __init__(self, func, args, state=None):
        self.reduced = (func, args) if state is None else (func, args, state)

    def __reduce__(self):
        return self.reduced


def write_batch(root, obj, protocol=2):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(exist_ok=True)
    (folder / "test_batch").write_bytes(obj if isinstance(obj, bytes) else pickle.dumps(obj, protocol=protocol))
    return folder / "test_batch"


# ---------- benign batches ----------

def tiny_batch(n=5):
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, n)
    return images, labels


LABELS = {
    "int": lambda labels: [int(v) for v in labels],
    "np.int64": lambda labels: [np.int64(v) for v in labels],
    "np.int32": lambda labels: [np.int32(v) for v in labels],
    "int64 array": lambda labels: labels.astype(np.int64),
    "uint8 array": lambda labels: labels.astype(np.uint8),
}
DATA = {  # each row: the R, G, B planes, row-major
    "uint8 array": lambda images: images.reshape(len(images), 3072),
    "int64 array": lambda images: images.reshape(len(images), 3072).astype(np.int64),
}


@pytest.mark.parametrize("labels_as", LABELS)
@pytest.mark.parametrize("data_as", DATA)
@pytest.mark.parametrize("protocol", range(6))
def test_benign_python3_batches_load_at_every_protocol(tmp_path, protocol, data_as, labels_as):
    images, labels = tiny_batch()
    batch = {b"batch_label": b"testing batch 1 of 1", b"labels": LABELS[labels_as](labels),
             b"data": DATA[data_as](images), b"filenames": [b"img_%d.png" % i for i in range(4)] + [b""]}
    path = write_batch(tmp_path, batch, protocol)

    got_images, got_labels = cifar10(tmp_path, train=False, download=False)
    assert got_images.dtype == np.uint8 and got_labels.dtype == np.int64
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)

    with open(path, "rb") as f:
        loaded = safe_load(f, encoding="bytes")
    assert loaded[b"batch_label"] == b"testing batch 1 of 1" and loaded[b"filenames"][-1] == b""
    assert loaded[b"filenames"] == batch[b"filenames"]


@pytest.mark.parametrize("protocol", range(6))
def test_arrays_scalars_and_shared_objects_load_as_plain_pickle_gives_them(protocol):
    shared = np.arange(6, dtype=np.float32).reshape(2, 3)
    cycle = []
    data = {"fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)), "big endian": np.arange(3, dtype=">i4"),
            "strided": np.arange(10)[::3], "empty": np.zeros((0, 4), np.int16), "bool": np.array([True, False]),
            "complex": np.complex64(1 - 2j), "scalars": (np.float64(0.5), np.uint8(7), np.bool_(True)),
            "shared": [shared, (shared, {"again": shared})], "dtype": np.dtype(">f8"), "set": {1, 2}, "cycle": cycle}
    cycle.append((cycle, np.ones(2)))
    loaded = safe_load(io.BytesIO(pickle.dumps(data, protocol=protocol)))
    expected = pickle.loads(pickle.dumps(data, protocol=protocol))
    for key in ("fortran", "big endian", "strided", "empty", "bool"):
        got, want = loaded[key], expected[key]
        assert type(got) is np.ndarray and not got.flags.writeable  # views of the pickle's bytes
        assert got.dtype.newbyteorder("=") == want.dtype.newbyteorder("=")  # numpy swaps to native below 5
        assert got.flags.f_contiguous == want.flags.f_contiguous
        np.testing.assert_array_equal(got, want)
    assert loaded["complex"] == np.complex64(1 - 2j) and type(loaded["complex"]) is np.complex64
    assert [type(x) for x in loaded["scalars"]] == [np.float64, np.uint8, np.bool_]
    assert loaded["scalars"] == expected["scalars"]
    first, (second, inner) = loaded["shared"]
    assert type(first) is np.ndarray and first is second is inner["again"]
    assert loaded["dtype"] == np.dtype(">f8") and loaded["set"] == {1, 2}
    (back, ones), = loaded["cycle"]
    assert back is loaded["cycle"] and type(ones) is np.ndarray


@pytest.mark.parametrize("labels, message", [
    ([0.0, 1.0], "labels must be integers 0..9, got float64"),
    (np.array([0, 1], np.float32), "labels must be integers 0..9, got float32"),
    (["0", "1"], "labels must be integers 0..9, got str"),
    ([b"0", b"1"], "labels must be integers 0..9, got bytes"),
    ([True, False], "labels must be integers 0..9, got bool"),
    ([0, [1]], "labels must be integers 0..9, got a nested list"),
    ([[0] * 1000] * 2, "labels must be integers 0..9, got a nested list"),
    ([0, 10], "labels must be integers 0..9, got values from 0 to 10"),
    ([-1, 3], "labels must be integers 0..9, got values from -1 to 3"),
])
def test_labels_that_are_not_integers_0_to_9_are_named(tmp_path, labels, message):
    path = write_batch(tmp_path, {b"data": np.zeros((2, 3072), np.uint8), b"labels": labels})
    with pytest.raises(DatasetError, match=f"^{path}: {message}$"):
        cifar10(tmp_path, train=False, download=False)


def test_pixels_outside_0_to_255_are_named(tmp_path):
    path = write_batch(tmp_path, {b"data": np.full((1, 3072), 256), b"labels": [0]})
    with pytest.raises(DatasetError, match=f"^{path}: pixels must be integers 0..255, got values from 256 to 256$"):
        cifar10(tmp_path, train=False, download=False)


def test_pixels_as_shared_lists_are_refused_before_numpy_expands_them(tmp_path):
    row = [0] * 3072
    path = write_batch(tmp_path, {b"data": [row] * 100_000, b"labels": [[0] * 100_000] * 100_000})
    assert path.stat().st_size < 1_000_000  # 2.5 GB of int64 pixels and 80 GB of labels, had numpy expanded them
    with pytest.raises(DatasetError, match=f"^{path}: the pixels must be a numpy array, got a list$"):
        cifar10(tmp_path, train=False, download=False)
    write_batch(tmp_path, {b"data": np.zeros((1, 3072), np.uint8), b"labels": [[0] * 100_000] * 100_000})
    with pytest.raises(DatasetError, match="labels must be integers 0..9, got a nested list"):
        cifar10(tmp_path, train=False, download=False)


# ---------- malicious pickles ----------

THREE_GB = 3_000_000_000
PADDING = b"\0" * 400_000
LIVE = ["os.system", "builtins.eval", "builtins.exec", "subprocess.call"]


def payloads(marker):
    """{name: (object to pickle, what the refusal must say)}; the LIVE ones create `marker` when run.

    Protocols < 3 write Python 2's module names: __builtin__, commands.
    """
    u1 = np.dtype(np.uint8)
    create = f"open({str(marker)!r}, 'w').close()"
    return {
        "os.system": (Reduce(os.system, (f"touch {marker}",)), r"global (posix|os|nt)\.system"),
        "builtins.eval": (Reduce(builtins.eval, (create,)), r"global (__builtin__|builtins)\.eval"),
        "builtins.exec": (Reduce(builtins.exec, (create,)), r"global (__builtin__|builtins)\.exec"),
        "subprocess.call": (Reduce(subprocess.call, (["touch", str(marker)],)), r"global (subprocess|commands)\.call"),
        "builtins.getattr": (Reduce(getattr, ("x", "upper")), r"global (__builtin__|builtins)\.getattr"),
        "shutil.rmtree": (Reduce(shutil.rmtree, ("/nonexistent",)), "global shutil.rmtree"),
        "_codecs.encode of bytes": (Reduce(codecs.encode, (b"abc", "latin1")), r"_codecs.encode\(bytes, 'latin1'\)"),
        "_codecs.encode to utf-16": (Reduce(codecs.encode, ("abc", "utf-16")), r"_codecs.encode\(str, 'utf-16'\)"),
        "_codecs.encode rot13": (Reduce(codecs.encode, ("abc", "rot13")), r"_codecs.encode\(str, 'rot13'\)"),
        "bytes(10 GB)": (Reduce(bytes, (10 ** 10,)), r"bytes\(10000000000,\)"),
        "object array": (np.array([1, "a"], dtype=object), r"numpy.dtype\('O8'\), a non-numeric dtype object"),
        "structured array": (np.zeros(2, "u1,f4"), r"numpy.dtype\('V5'\), a non-numeric dtype void"),
        "datetime array": (np.zeros(2, "M8[s]"), r"numpy.dtype\('M8'\), a non-numeric dtype datetime64"),
        "masked array": (np.ma.array([1, 2], mask=[0, 1]), r"global numpy.ma.core._mareconstruct"),
        "dtype with fields": (Reduce(np.dtype, ("u1", False, True), (3, "|", None, ("a",), {"a": 1}, -1, -1, 0)),
                              "numpy.dtype state"),
        "3 GB by _reconstruct": ((Reduce(_reconstruct, (np.ndarray, (THREE_GB,), b"b")), PADDING),
                                 rf"numpy _reconstruct\(numpy.ndarray, \({THREE_GB},\), b'b'\)"),
        "3 GB by array state": (Reduce(_reconstruct, (np.ndarray, (0,), b"b"), (1, (THREE_GB,), u1, False, PADDING)),
                                rf"numpy array state: an array declared as uint8 \({THREE_GB},\), {THREE_GB} bytes, "
                                rf"holds 400000 bytes"),
        "3 GB by _frombuffer": (Reduce(_frombuffer, (PADDING, u1, (THREE_GB,), "C")),
                                rf"numpy _frombuffer: an array declared as uint8 \({THREE_GB},\), {THREE_GB} bytes, "
                                rf"holds 400000 bytes"),
        "negative shape": (Reduce(_frombuffer, (bytes(4), u1, (-1, -4), "C")),
                           r"numpy _frombuffer: shape \(-1, -4\) is not a tuple of non-negative ints"),
        "object data": (Reduce(_reconstruct, (np.ndarray, (0,), b"b"), (1, (2,), u1, False, [1, 2])),
                        "numpy array state: data of type list, where only bytes are allowed"),
        "state twice": (Reduce(_frombuffer, (b"abc", u1, (3,), "C"), (1, (3,), u1, False, b"abc")),
                        r"numpy array state .*: expected \(1, shape, dtype, fortran, data\) once"),
        "int64 scalar of 1 byte": (Reduce(np.int64(0).__reduce__()[0], (np.dtype(np.int64), b"\1")),
                                   r"numpy scalar: an array declared as int64 \(\), 8 bytes, holds 1 bytes"),
        "array with no state": (Reduce(_reconstruct, (np.ndarray, (0,), b"b")), "numpy array whose data never came"),
        "_frombuffer order 'A'": (Reduce(_frombuffer, (b"abc", u1, (3,), "A")),
                                 "numpy _frombuffer with order 'A': only 'C' and 'F' are allowed"),
        "_frombuffer of a str dtype": (Reduce(_frombuffer, (b"abc", "u1", (3,), "C")),
                                       "numpy _frombuffer given a str for its dtype"),
        "scalar of a str dtype": (Reduce(np.int64(0).__reduce__()[0], ("i8", bytes(8))),
                                  "numpy scalar given a str for its dtype"),
        "the set type itself": (set, "it holds a global never called"),
    }


@pytest.mark.parametrize("protocol", [2, 5])
@pytest.mark.parametrize("name", payloads("marker"))
def test_malicious_pickle_is_refused_naming_the_global(tmp_path, name, protocol):
    marker = tmp_path / "pwned"
    payload, names = payloads(marker)[name]
    path = write_batch(tmp_path, payload, protocol)
    with pytest.raises(DatasetError, match=names) as err:
        cifar10(tmp_path, train=False, download=False)
    assert str(err.value).startswith((f"{path}: ", f"refused {path}: "))
    assert not marker.exists()


@pytest.mark.parametrize("name", LIVE)
def test_the_live_payloads_do_run_under_plain_pickle(tmp_path, name):
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(payloads(marker)[name][0]))
    assert marker.exists()  # so the refusals above are of payloads that work


@pytest.mark.parametrize("name", ["3 GB by _reconstruct", "3 GB by array state", "3 GB by _frombuffer"])
def test_the_3_gb_pickles_are_small(name):
    assert len(pickle.dumps(payloads("marker")[name][0], protocol=5)) < 410_000


# ---------- shared references: a small pickle cannot build a large result ----------

@pytest.mark.parametrize("func, arg, name", [
    (codecs.encode, ("x" * 100_000, "latin1"), "_codecs.encode"),  # 100 MB of bytes
    (set, (list(range(10_000)),), "set"),  # 1000 sets of 10000 items: 500 MB
])
def test_a_stand_in_called_again_and_again_on_one_argument_is_refused(tmp_path, func, arg, name):
    path = write_batch(tmp_path, [Reduce(func, arg) for _ in range(1000)])  # `arg` pickled once, then referenced
    assert path.stat().st_size < 150_000
    with pytest.raises(DatasetError, match=f"{name}: the pickle copies more than its own size"):
        cifar10(tmp_path, train=False, download=False)


def test_arrays_over_one_shared_buffer_cost_it_once():
    buffer = bytes(100_000)
    payload = pickle.dumps([Reduce(_frombuffer, (buffer, np.dtype(np.uint8), (100, 1000), "C")) for _ in range(1000)])
    tracemalloc.start()
    try:
        arrays = safe_load(io.BytesIO(payload))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(arrays) == 1000 and all(a.shape == (100, 1000) and not a.any() for a in arrays)
    assert peak < 10 << 20, f"{peak} bytes for 1000 views of one 100 kB buffer"


# ---------- the allow-list, pinned ----------

def candidate_globals():
    """Every public and private name of the modules a malicious pickle would reach for."""
    numpy_core = [importlib.import_module(f"numpy._core.{m}") for m in ("multiarray", "numeric", "umath")]
    modules = [builtins, os, importlib.import_module(os.name), sys, subprocess, shutil, socket, importlib,
               pickle, copyreg, codecs, importlib.import_module("_codecs"), functools, operator, types, io, ctypes,
               np, np.lib, np.ctypeslib, *numpy_core]
    found = set(EXPECTED_ALLOWED)
    for module in modules:
        found.update((module.__name__, name) for name in dir(module))
    found.update(("__builtin__", name) for name in dir(builtins))
    found.update((f"numpy.core.{m.__name__.rsplit('.', 1)[1]}", name) for m in numpy_core for name in dir(m))
    return found


def allows(module, name):
    """Whether safe_load resolves the global `module.name` (loading it bare still fails later)."""
    try:
        safe_load(io.BytesIO(f"c{module}\n{name}\n.".encode()))
    except DatasetError as exc:
        return f"refused to unpickle global {module}.{name}:" not in str(exc)
    return True


def test_exactly_the_expected_globals_are_allowed():
    candidates = candidate_globals()
    assert len(candidates) > 3000
    assert ("builtins", "getattr") in candidates and ("posix", "system") in candidates
    assert {g for g in candidates if allows(*g)} == EXPECTED_ALLOWED


def test_the_allow_list_holds_nothing_more():
    assert set(safe_pickle._ALLOWED_GLOBALS) == EXPECTED_ALLOWED
