"""Every optimizer against torch.optim in float64, step by step, for the option combinations that
change the update, on NumPy and on the emulated GPU (and a real one), through both of the update's
paths: the flat buffers (one launch per group) and one parameter at a time."""
import numpy
import pytest

from minigan import optim
from support.optim_twins import WITH_SCALAR, Twins, torch_state_as_numpy

torch = pytest.importorskip("torch", reason="PyTorch is the test oracle: pip install torch==2.13.0")

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.1, momentum=0.5, dampening=0.5, weight_decay=0.05, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, betas=(0.5, 0.999), amsgrad=True, maximize=True)),
    ("Adam", dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True, capturable=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(centered=True)),
    ("RMSprop", dict(momentum=0.9)),
    ("RMSprop", dict(centered=True, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.001, alpha=0.9, eps=1e-6, weight_decay=0.1, maximize=True)),
]
IDS = [f"{name}-" + ("-".join(f"{k}={v}" for k, v in kwargs.items()) or "defaults") for name, kwargs in CASES]


def make(name, kwargs, mine, theirs):
    """The minigan and torch optimizers; torch's capturable needs CUDA, and a CPU step is the same."""
    their_kwargs = {k: v for k, v in kwargs.items() if k != "capturable"}
    return getattr(optim, name)(mine, **kwargs), getattr(torch.optim, name)(theirs, **their_kwargs)


def steps(twins, mine, theirs, count, path, skip_at=()):
    for step in range(count):
        twins.give(twins.draw(), path, skip=(1,) if step in skip_at else ())
        mine.step()
        theirs.step()
        twins.assert_close(f"after step {step + 1}")


def assert_same_state(mine, theirs):
    """The same state_dict layout as torch's, with the same values; the group keys minigan has
    are torch's, with torch's values."""
    mine, theirs = mine.state_dict(), torch_state_as_numpy(theirs.state_dict())
    assert list(mine["state"]) == list(theirs["state"])
    for index, state in theirs["state"].items():
        assert list(mine["state"][index]) == list(state), f"state {index}"
        for key, value in state.items():
            numpy.testing.assert_allclose(numpy.asarray(mine["state"][index][key]), value, rtol=1e-10,
                                          atol=1e-14, err_msg=f"state[{index}][{key!r}]")
    for group, their_group in zip(mine["param_groups"], theirs["param_groups"]):
        assert set(group) <= set(their_group), sorted(set(group) - set(their_group))
        assert {k: their_group[k] for k in group if k != "capturable"} == \
            {k: v for k, v in group.items() if k != "capturable"}


# capturable updates the flat buffers only (tests/test_optim.py checks that it refuses otherwise)
PATHS = [(name, kwargs, path) for name, kwargs in CASES for path in ("flat", "per-parameter")
         if path == "flat" or not kwargs.get("capturable")]


@pytest.mark.parametrize("name, kwargs, path", PATHS,
                         ids=[f"{i}-{path}" for i, (_, kw) in zip(IDS, CASES) for path in ("flat", "per-parameter")
                              if path == "flat" or not kw.get("capturable")])
def test_matches_torch_step_for_step(xp, rng, name, kwargs, path):
    twins = Twins(xp, rng, torch, WITH_SCALAR)
    mine, theirs = make(name, kwargs, twins.mine, twins.theirs)
    steps(twins, mine, theirs, 10, path)
    assert_same_state(mine, theirs)


@pytest.mark.parametrize("name, kwargs", [case for case in CASES if not case[1].get("capturable")],
                         ids=[i for i, case in zip(IDS, CASES) if not case[1].get("capturable")])
def test_matches_torch_on_the_emulated_gpu(device_xp, rng, name, kwargs):
    twins = Twins(device_xp, rng, torch)
    mine, theirs = make(name, kwargs, twins.mine, twins.theirs)
    steps(twins, mine, theirs, 10, "flat")
    assert_same_state(mine, theirs)


@pytest.mark.parametrize("name, kwargs", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01)),
                                          ("RMSprop", dict(momentum=0.5, centered=True))],
                         ids=["SGD", "Adam", "RMSprop"])
def test_a_parameter_without_gradient_sits_the_step_out_as_in_torch(xp, rng, name, kwargs):
    """Parameter 1 has no gradient in steps 1, 4 and 5: no state at first (SGD's buffer then starts
    at its first gradient), later its step count stays behind the others'."""
    twins = Twins(xp, rng, torch)
    mine, theirs = make(name, kwargs, twins.mine, twins.theirs)
    steps(twins, mine, theirs, 8, "flat", skip_at=(0, 3, 4))
    assert_same_state(mine, theirs)


@pytest.mark.parametrize("name, kwargs, group_kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9), dict(lr=0.01, nesterov=True)),
    ("Adam", dict(lr=0.01), dict(lr=0.1, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01), dict(weight_decay=0.3, betas=(0.5, 0.9))),
    ("RMSprop", dict(lr=0.01), dict(centered=True, momentum=0.3)),
], ids=["SGD", "Adam", "AdamW", "RMSprop"])
def test_param_groups_have_their_own_hyperparameters(xp, rng, name, kwargs, group_kwargs):
    twins = Twins(xp, rng, torch)
    groups = lambda params: [{"params": params[:2]}, {"params": params[2:], **group_kwargs}]  # noqa: E731
    mine, theirs = make(name, kwargs, groups(twins.mine), groups(twins.theirs))
    steps(twins, mine, theirs, 6, "flat")
    assert_same_state(mine, theirs)
    for group in mine.param_groups:  # a learning rate changed between steps is used
        group["lr"] *= 0.5
    for group in theirs.param_groups:
        group["lr"] *= 0.5
    steps(twins, mine, theirs, 3, "flat")


def test_add_param_group_as_torch(xp, rng):
    twins = Twins(xp, rng, torch)
    mine, theirs = optim.SGD(twins.mine[:1], lr=0.1, momentum=0.9), torch.optim.SGD(twins.theirs[:1], lr=0.1,
                                                                                   momentum=0.9)
    mine.add_param_group({"params": twins.mine[1:], "lr": 0.3})
    theirs.add_param_group({"params": twins.theirs[1:], "lr": 0.3})
    steps(twins, mine, theirs, 4, "flat")
    assert_same_state(mine, theirs)


def test_step_calls_the_closure_and_returns_its_loss(rng):
    twins = Twins(numpy, rng, torch)
    mine, theirs = make("SGD", dict(lr=0.1), twins.mine, twins.theirs)
    grads = twins.draw()
    assert mine.step(lambda: twins.give(grads) or 7.0) == 7.0
    assert theirs.step(lambda: 7.0) == 7.0
    twins.assert_close("after a step with a closure")
