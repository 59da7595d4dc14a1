"""minigan.save and minigan.load round trips: state dicts, optimizer states shaped as torch's,
plain containers, the format as its docstring documents it, and unsupported objects refused."""
import json
import math
import os
from collections import OrderedDict

import numpy
import pytest

import minigan
from minigan import SerializationError, Tensor, serialization
from minigan.models.dcgan import Generator
from support.nested import assert_same


def test_a_dcgan_state_dict_round_trips_into_a_fresh_model(tmp_path):
    G = Generator(nz=8, ngf=4)
    minigan.init.normal_(G.main[0].weight, 0, 1, numpy.random.default_rng(1))
    G.main[1].num_batches_tracked.data[...] = 7
    minigan.save(G.state_dict(), tmp_path / "g.mg")
    loaded = minigan.load(tmp_path / "g.mg")
    assert_same(loaded, G.state_dict())
    fresh = Generator(nz=8, ngf=4)
    fresh.load_state_dict(loaded)
    z = numpy.random.default_rng(2).standard_normal((2, 8, 1, 1)).astype(numpy.float32)
    numpy.testing.assert_array_equal(fresh.eval()(Tensor(z)).data, G.eval()(Tensor(z)).data)


def test_plain_containers_keep_their_types_and_values(tmp_path):
    rng = numpy.random.default_rng(0)
    obj = {
        "none": None, "flags": [True, False], "int": -3, "big": 2**70, "float": 0.1, "neg_zero": -0.0,
        "nan": math.nan, "inf": math.inf, "-inf": -math.inf, "text": "ünïcode \"quoted\" {\"list\": 1}",
        "tuple": (1, (2.5, "x"), []), "empty": {}, 7: "an int key", 2.5: "a float key", None: "a None key",
        True: "a bool key",
        "arrays": [rng.standard_normal((3, 4)).astype(numpy.float32), numpy.arange(5, dtype=numpy.int64),
                   numpy.array([True, False]), numpy.zeros((0, 3)), numpy.array(3.5),
                   numpy.asfortranarray(rng.standard_normal((2, 3))), rng.standard_normal((4, 6))[::2, ::3],
                   numpy.array([1 + 2j], numpy.complex64), numpy.arange(4, dtype=numpy.uint8)],
        "scalars": [numpy.float32(1.5), numpy.float64(0.25), numpy.int64(-2), numpy.bool_(True)],
        "tensors": [Tensor(numpy.ones((2, 2), numpy.float32), requires_grad=True), Tensor(numpy.zeros(3))],
        "ordered": OrderedDict([("b", 1), ("a", 2)]),
    }
    minigan.save(obj, tmp_path / "c.mg")
    assert_same(minigan.load(tmp_path / "c.mg"), obj)


def test_a_torch_optimizer_state_dict_round_trips(tmp_path, torch):
    """The structure torch's optimizers use: int keys, tensors and floats, lists, tuples, None."""
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999), amsgrad=True)
    model(torch.ones(4, 3)).sum().backward()
    optimizer.step()

    def as_numpy(value):
        if isinstance(value, torch.Tensor):
            return value.numpy()
        if isinstance(value, dict):
            return type(value)((k, as_numpy(v)) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return type(value)(as_numpy(v) for v in value)
        return value

    state = as_numpy(optimizer.state_dict())
    assert isinstance(next(iter(state["state"])), int) and state["param_groups"][0]["foreach"] is None
    minigan.save(state, tmp_path / "opt.mg")
    assert_same(minigan.load(tmp_path / "opt.mg"), state)


@pytest.mark.parametrize("make", [lambda p: minigan.optim.Adam(p, lr=1e-2, amsgrad=True),
                                  lambda p: minigan.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)])
def test_a_minigan_optimizer_resumed_from_its_saved_state_steps_as_the_original(tmp_path, make):
    rng = numpy.random.default_rng(3)
    x = Tensor(rng.standard_normal((4, 3)).astype(numpy.float32))

    def step(model, optimizer):
        optimizer.zero_grad()
        (model(x) * model(x)).sum().backward()
        optimizer.step()

    model = minigan.nn.Linear(3, 2)
    optimizer = make(model.parameters())
    step(model, optimizer)
    minigan.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, tmp_path / "ckpt.mg")
    checkpoint = minigan.load(tmp_path / "ckpt.mg")
    assert_same(checkpoint["optimizer"], optimizer.state_dict())
    resumed = minigan.nn.Linear(3, 2)
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer = make(resumed.parameters())
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    step(model, optimizer)
    step(resumed, resumed_optimizer)
    for a, b in zip(model.parameters(), resumed.parameters()):
        numpy.testing.assert_array_equal(a.data, b.data)


def test_an_array_saved_twice_is_stored_once_and_loads_as_one_object(tmp_path):
    weight = numpy.arange(6.0)
    minigan.save({"encoder.weight": weight, "decoder.weight": weight, "copy": weight.copy()}, tmp_path / "t.mg")
    loaded = minigan.load(tmp_path / "t.mg")
    assert loaded["encoder.weight"] is loaded["decoder.weight"]
    assert loaded["copy"] is not loaded["encoder.weight"]
    with numpy.load(tmp_path / "t.mg", allow_pickle=False) as archive:
        assert sorted(archive.files) == ["0", "1", "manifest"]


def test_the_file_is_the_documented_npz(tmp_path):
    """Read with numpy alone, as the format docstring says, not through minigan.load."""
    minigan.save({"w": numpy.ones(2), 3: (None, math.inf)}, tmp_path / "f.mg")
    with numpy.load(tmp_path / "f.mg", allow_pickle=False) as archive:
        manifest = json.loads(str(archive["manifest"]))
        assert manifest == {"format": "minigan", "version": 1, "root": {
            "dict": [["w", {"array": "0"}], [3, {"tuple": [None, {"float": "inf"}]}]]}}
        numpy.testing.assert_array_equal(archive["0"], numpy.ones(2))


@pytest.mark.parametrize("bad, where, kind", [
    ({"a": {"b": {1, 2}}}, "obj['a']['b']", "builtins.set"),
    ([1, b"bytes"], "obj[1]", "builtins.bytes"),
    ({"state": {0: {"exp_avg": object()}}}, "obj['state'][0]['exp_avg']", "builtins.object"),
    ({"labels": numpy.array(["cat", "dog"])}, "obj['labels']", "array of <U3"),
    ({"objects": numpy.array([None, 1], dtype=object)}, "obj['objects']", "array of object"),
    ({("a", 1): numpy.ones(1)}, "obj has a key of type tuple", ""),
    ({"groups": {float("nan"): 1}}, "obj['groups'] has a key of type float (nan)", ""),
    ({"module": Generator(nz=2, ngf=2)}, "obj['module']", "minigan.models.dcgan.Generator"),
])
def test_unsupported_objects_are_refused_naming_where_and_what_and_nothing_is_written(tmp_path, bad, where, kind):
    with pytest.raises(SerializationError) as raised:
        minigan.save(bad, tmp_path / "x.mg")
    assert where in str(raised.value) and kind in str(raised.value)
    assert os.listdir(tmp_path) == []


def test_nesting_deeper_than_the_bound_is_refused_both_ways(tmp_path):
    deep = []
    for _ in range(serialization.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(SerializationError, match="nested more than"):
        minigan.save(deep, tmp_path / "d.mg")
    root = {"list": []}
    for _ in range(serialization.MAX_DEPTH + 5):
        root = {"list": [root]}
    manifest = json.dumps({"format": "minigan", "version": 1, "root": root})
    numpy.savez(tmp_path / "d.npz", manifest=numpy.asarray(manifest))
    with pytest.raises(SerializationError, match="nests more than"):
        minigan.load(tmp_path / "d.npz")


def test_map_location_cuda_puts_every_array_on_the_device_keeping_ties(tmp_path, device_xp):
    weight = numpy.arange(4, dtype=numpy.float32)
    minigan.save({"a": weight, "b": weight, "t": Tensor(weight, requires_grad=True), "n": 3}, tmp_path / "m.mg")
    loaded = minigan.load(tmp_path / "m.mg", map_location="cuda")
    assert isinstance(loaded["a"], device_xp.ndarray) and loaded["a"] is loaded["b"]
    assert loaded["t"].device == "cuda" and loaded["t"].requires_grad and loaded["n"] == 3
    numpy.testing.assert_array_equal(device_xp.asnumpy(loaded["a"]), weight)


def test_device_arrays_are_saved_as_host_arrays(tmp_path, device_xp):
    minigan.save({"w": device_xp.asarray(numpy.arange(3.0))}, tmp_path / "g.mg")
    loaded = minigan.load(tmp_path / "g.mg")
    assert type(loaded["w"]) is numpy.ndarray
    numpy.testing.assert_array_equal(loaded["w"], numpy.arange(3.0))


def test_a_bad_map_location_is_refused(tmp_path):
    minigan.save({}, tmp_path / "e.mg")
    with pytest.raises(ValueError, match="map_location must be None, 'cpu' or 'cuda', got 'gpu'"):
        minigan.load(tmp_path / "e.mg", map_location="gpu")
