"""Optimizer state_dict(): torch's layout, an exact round trip (save mid-run, load into a fresh
optimizer, go on: bit-identical to a run never interrupted), both ways between minigan and torch,
and loads refused, naming what does not fit, before anything changes."""
import re

import numpy
import pytest

from minigan import Tensor, optim
from support.optim_twins import SHAPES, Twins, to_numpy_state, torch_state_as_numpy
from support.parity import as_numpy

CASES = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, capturable=True)),
    ("AdamW", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
]
IDS = ["SGD", "Adam-amsgrad", "Adam-capturable", "AdamW", "RMSprop"]


def parameters(xp, values):
    return [Tensor(xp.asarray(v), requires_grad=True) for v in values]


def run(opt, params, grads, xp):
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad_buffer[...] = xp.asarray(g)
            p.grad = p.grad_buffer
        opt.step()


def assert_same(a, b, what):
    """Two state dicts equal exactly: the same keys in the same order, the same values."""
    assert a["param_groups"] == b["param_groups"], what
    assert list(a["state"]) == list(b["state"]), what
    for index, state in a["state"].items():
        assert list(state) == list(b["state"][index]), (what, index)
        for key, value in state.items():
            numpy.testing.assert_array_equal(as_numpy(value), as_numpy(b["state"][index][key]),
                                             err_msg=f"{what}: state[{index}][{key!r}]")


def check_round_trip(xp, rng, name, kwargs):
    values = [rng.standard_normal(shape) for shape in SHAPES]
    grads = [[rng.standard_normal(shape) for shape in SHAPES] for _ in range(10)]
    make = getattr(optim, name)

    straight = parameters(xp, values)
    run(make(straight, **kwargs), straight, grads, xp)

    first = parameters(xp, values)
    opt = make(first, **kwargs)
    run(opt, first, grads[:5], xp)
    saved = to_numpy_state(opt.state_dict())  # as it would be written to disk
    resumed = parameters(xp, [as_numpy(p) for p in first])
    again = make(resumed, **kwargs)
    again.load_state_dict(saved)
    assert_same(to_numpy_state(again.state_dict()), saved, "after load_state_dict")
    run(again, resumed, grads[5:], xp)
    for index, (p, q) in enumerate(zip(resumed, straight)):
        numpy.testing.assert_array_equal(as_numpy(p), as_numpy(q), err_msg=f"parameter {index} after resuming")


@pytest.mark.parametrize("name, kwargs", CASES, ids=IDS)
def test_round_trip_is_exact_and_resumes_bit_identically(xp, rng, name, kwargs):
    check_round_trip(xp, rng, name, kwargs)


@pytest.mark.parametrize("name, kwargs", CASES, ids=IDS)
def test_round_trip_on_the_emulated_gpu(device_xp, rng, name, kwargs):
    check_round_trip(device_xp, rng, name, kwargs)


def test_state_dict_is_a_snapshot(rng):
    params = parameters(numpy, [rng.standard_normal(shape) for shape in SHAPES])
    opt = optim.Adam(params, lr=0.1)
    run(opt, params, [[numpy.ones(shape) for shape in SHAPES]], numpy)
    saved = opt.state_dict()
    before = saved["state"][0]["exp_avg"].copy()
    run(opt, params, [[numpy.ones(shape) for shape in SHAPES]], numpy)
    numpy.testing.assert_array_equal(saved["state"][0]["exp_avg"], before)
    assert saved["state"][0]["step"] == 1 and opt.state_dict()["state"][0]["step"] == 2


@pytest.mark.parametrize("name, kwargs", [c for c in CASES if not c[1].get("capturable")],
                         ids=[i for i, c in zip(IDS, CASES) if not c[1].get("capturable")])
def test_state_dicts_move_both_ways_between_minigan_and_torch(rng, torch, name, kwargs):
    """minigan's state_dict loads into torch's optimizer, and torch's into minigan's: both go on
    as the optimizer they came from would have."""
    twins = Twins(numpy, rng, torch)
    mine, theirs = getattr(optim, name)(twins.mine, **kwargs), getattr(torch.optim, name)(twins.theirs, **kwargs)
    for _ in range(4):
        twins.give(twins.draw())
        mine.step()
        theirs.step()
    mine_saved, theirs_saved = to_numpy_state(mine.state_dict()), torch_state_as_numpy(theirs.state_dict())
    assert list(mine_saved["state"]) == list(theirs_saved["state"]) == [0, 1, 2]
    assert [g["params"] for g in mine_saved["param_groups"]] == [g["params"] for g in theirs_saved["param_groups"]]

    into_torch = getattr(torch.optim, name)(twins.theirs, **kwargs)
    into_torch.load_state_dict({"state": {i: {k: v if k == "step" else torch.from_numpy(v) for k, v in s.items()}
                                          for i, s in mine_saved["state"].items()},
                                "param_groups": mine_saved["param_groups"]})
    into_mine = getattr(optim, name)(twins.mine, **kwargs)
    into_mine.load_state_dict(theirs_saved)
    assert list(into_mine.state_dict()["param_groups"][0]) == list(theirs_saved["param_groups"][0])
    for _ in range(4):
        twins.give(twins.draw())
        into_mine.step()
        into_torch.step()
        twins.assert_close("after loading each other's state")


def _adam_and_state(rng):
    params = parameters(numpy, [rng.standard_normal(shape) for shape in SHAPES])
    opt = optim.Adam(params, lr=0.1)
    run(opt, params, [[numpy.ones(shape) for shape in SHAPES]], numpy)
    return opt, to_numpy_state(opt.state_dict())


def _without(mapping, key):
    return {k: v for k, v in mapping.items() if k != key}


@pytest.mark.parametrize("damage, message", [
    (lambda s: _without(s, "param_groups"),
     "Adam.load_state_dict: expected a dict with keys 'param_groups' and 'state', as state_dict() gives; "
     "got ['state']"),
    (lambda s: {**s, "param_groups": s["param_groups"] * 2},
     "the state dict has 2 parameter groups, this optimizer 1"),
    (lambda s: {**s, "param_groups": [{**s["param_groups"][0], "params": [0, 1]}]},
     "parameter group 0 has 2 parameters in the state dict, 3 here"),
    (lambda s: {**s, "state": {**s["state"], 7: s["state"][0]}},
     "state 7 belongs to none of the parameters [0, 1, 2] of the state dict's param_groups"),
    (lambda s: {**s, "state": {**s["state"], 1: {**s["state"][1], "exp_avg": numpy.zeros(3)}}},
     "state[1]['exp_avg'] has shape (3,), but parameter 1 has shape (5,)"),
    (lambda s: {**s, "state": {**s["state"], 2: _without(s["state"][2], "exp_avg_sq")}},
     "the state of parameter 2 holds ['exp_avg', 'step'], but Adam with these hyperparameters keeps "
     "['exp_avg', 'exp_avg_sq', 'step']"),
    (lambda s: {**s, "state": {**s["state"], 0: {**s["state"][0], "momentum_buffer": numpy.zeros((4, 3))}}},
     "holds ['exp_avg', 'exp_avg_sq', 'momentum_buffer', 'step'], but Adam"),
    (lambda s: {**s, "state": {**s["state"], 0: {**s["state"][0], "step": 2.5}}},
     "state[0]['step'] is 2.5, not a step count"),
    (lambda s: {**s, "param_groups": [{**s["param_groups"][0], "lr": -1.0}]}, "Invalid learning rate: -1.0"),
], ids=["no-groups", "group-count", "param-count", "unknown-index", "shape", "missing-key", "extra-key",
        "fractional-step", "bad-lr"])
def test_a_state_dict_that_does_not_fit_is_refused_and_changes_nothing(rng, damage, message):
    opt, saved = _adam_and_state(rng)
    before = to_numpy_state(opt.state_dict())
    with pytest.raises(ValueError, match=re.escape(message)):
        opt.load_state_dict(damage(saved))
    assert_same(to_numpy_state(opt.state_dict()), before, "after a refused load")


def test_a_state_dict_of_more_hyperparameters_switches_them_on_as_in_torch(rng):
    """The saved groups' hyperparameters replace the optimizer's (torch's rule), and with them
    what the state holds: an amsgrad state loads into an Adam made without amsgrad."""
    params = parameters(numpy, [rng.standard_normal(shape) for shape in SHAPES])
    amsgrad = optim.Adam(params, lr=0.1, amsgrad=True)
    run(amsgrad, params, [[numpy.ones(shape) for shape in SHAPES]], numpy)
    plain = optim.Adam(params, lr=0.5)
    plain.load_state_dict(amsgrad.state_dict())
    assert plain.param_groups[0]["amsgrad"] and plain.param_groups[0]["lr"] == 0.1
    assert sorted(plain.state[params[0]]) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]


def test_capturable_keeps_one_step_count_per_group(rng):
    params = parameters(numpy, [rng.standard_normal(shape) for shape in SHAPES])
    opt = optim.Adam(params, capturable=True)
    run(opt, params, [[numpy.ones(shape) for shape in SHAPES]] * 2, numpy)
    saved = to_numpy_state(opt.state_dict())
    saved["state"][1]["step"] = 5
    with pytest.raises(ValueError, match=re.escape("keeps one step count for all parameters of a group; the "
                                                   "state holds steps [2, 5] for 3 of the 3 parameters of group 0")):
        opt.load_state_dict(saved)
    del saved["state"][1]
    with pytest.raises(ValueError, match=re.escape("the state holds steps [2] for 2 of the 3 parameters")):
        opt.load_state_dict(saved)
