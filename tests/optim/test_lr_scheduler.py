"""Every scheduler's learning rate equals torch's, exactly, at every step for 40 steps, over two
param groups, through a state_dict save and load, and when made with last_epoch >= 0 to resume."""
import re
import warnings

import numpy
import pytest

from minigan import Tensor, optim
from minigan.optim import lr_scheduler

torch = pytest.importorskip("torch", reason="PyTorch is the test oracle: pip install torch==2.13.0")


class Warmup:
    """A callable object: LambdaLR's state_dict saves its attributes (a function's it cannot)."""

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.steps) * 0.97 ** epoch


SCHEDULERS = {
    "StepLR": lambda lib, opt: lib.StepLR(opt, step_size=7, gamma=0.3),
    "MultiStepLR": lambda lib, opt: lib.MultiStepLR(opt, milestones=[3, 9, 9, 20], gamma=0.5),
    "ExponentialLR": lambda lib, opt: lib.ExponentialLR(opt, gamma=0.93),
    "CosineAnnealingLR": lambda lib, opt: lib.CosineAnnealingLR(opt, T_max=11, eta_min=0.001),
    "CosineAnnealingLR-restarts": lambda lib, opt: lib.CosineAnnealingLR(opt, T_max=5),
    "LinearLR": lambda lib, opt: lib.LinearLR(opt, start_factor=0.25, end_factor=0.9, total_iters=13),
    "LinearLR-defaults": lambda lib, opt: lib.LinearLR(opt),
    "LambdaLR": lambda lib, opt: lib.LambdaLR(opt, lambda epoch: 0.9 ** epoch + 0.1 * (epoch % 3)),
    "LambdaLR-per-group": lambda lib, opt: lib.LambdaLR(opt, [Warmup(5), lambda epoch: 1 / (1 + epoch)]),
}
STEPS = 40


def optimizers():
    """minigan's and torch's SGD over two param groups of different learning rates."""
    values = [numpy.ones((2, 2)), numpy.ones(3)]
    mine = [Tensor(v, requires_grad=True) for v in values]
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    groups = lambda params: [{"params": params[:1]}, {"params": params[1:], "lr": 0.05}]  # noqa: E731
    return optim.SGD(groups(mine), lr=0.2, momentum=0.9), torch.optim.SGD(groups(theirs), lr=0.2, momentum=0.9)


def assert_same_lrs(mine, theirs, when):
    assert mine.get_last_lr() == theirs.get_last_lr(), when
    assert [g["lr"] for g in mine.optimizer.param_groups] == [g["lr"] for g in theirs.optimizer.param_groups], when
    assert mine.last_epoch == theirs.last_epoch, when


def stepped(mine, theirs, count, start=0):
    """count steps of both; the learning rates they went through."""
    seen = set()
    for step in range(start, start + count):
        mine.optimizer.step()
        theirs.optimizer.step()
        mine.step()
        theirs.step()
        assert_same_lrs(mine, theirs, f"after step {step + 1}")
        seen.add(tuple(mine.get_last_lr()))
    return seen


@pytest.mark.parametrize("name", SCHEDULERS)
def test_learning_rate_equals_torch_at_every_step(name):
    mine_opt, theirs_opt = optimizers()
    mine, theirs = SCHEDULERS[name](lr_scheduler, mine_opt), SCHEDULERS[name](torch.optim.lr_scheduler, theirs_opt)
    assert_same_lrs(mine, theirs, "when made")
    assert len(stepped(mine, theirs, STEPS)) > 3  # the schedule moves


def plain(state):
    """A scheduler's state_dict as it would come back from a file: plain lists and dicts."""
    return {k: dict(v) if isinstance(v, dict) else list(v) if isinstance(v, (list, tuple)) else v
            for k, v in state.items()}


@pytest.mark.parametrize("name", SCHEDULERS)
def test_state_dict_load_goes_on_as_torch(name):
    """Save mid-run, make a fresh optimizer and scheduler, load both states (the optimizer's
    first, as torch advises), go on: the learning rates stay torch's."""
    mine_opt, theirs_opt = optimizers()
    mine, theirs = SCHEDULERS[name](lr_scheduler, mine_opt), SCHEDULERS[name](torch.optim.lr_scheduler, theirs_opt)
    stepped(mine, theirs, 13)
    saved_opt, saved = mine_opt.state_dict(), plain(mine.state_dict())
    assert "optimizer" not in saved and saved["last_epoch"] == 13

    fresh_opt, _ = optimizers()
    fresh = SCHEDULERS[name](lr_scheduler, fresh_opt)
    fresh_opt.load_state_dict(saved_opt)
    fresh.load_state_dict(saved)
    assert_same_lrs(fresh, theirs, "after load_state_dict")
    stepped(fresh, theirs, STEPS - 13, start=13)


@pytest.mark.parametrize("name", SCHEDULERS)
def test_state_dicts_move_both_ways_between_minigan_and_torch(name):
    mine_opt, theirs_opt = optimizers()
    mine, theirs = SCHEDULERS[name](lr_scheduler, mine_opt), SCHEDULERS[name](torch.optim.lr_scheduler, theirs_opt)
    stepped(mine, theirs, 9)
    into_mine_opt, into_theirs_opt = optimizers()
    into_mine = SCHEDULERS[name](lr_scheduler, into_mine_opt)
    into_theirs = SCHEDULERS[name](torch.optim.lr_scheduler, into_theirs_opt)
    into_mine_opt.load_state_dict(_no_state(theirs_opt.state_dict()))
    into_theirs_opt.load_state_dict(_no_state(mine_opt.state_dict()))
    into_mine.load_state_dict(theirs.state_dict())
    into_theirs.load_state_dict(mine.state_dict())
    assert_same_lrs(into_mine, into_theirs, "after loading each other's state")
    stepped(into_mine, into_theirs, 20, start=9)


def _no_state(state_dict):
    """An optimizer state_dict with its param_groups only (the momentum buffers are not the point here)."""
    return {"state": {}, "param_groups": state_dict["param_groups"]}


@pytest.mark.parametrize("name", SCHEDULERS)
def test_made_with_last_epoch_to_resume_as_torch(name):
    """A scheduler made with last_epoch=k over an optimizer whose groups hold initial_lr."""
    mine_opt, theirs_opt = optimizers()
    for opt in (mine_opt, theirs_opt):
        for group, initial in zip(opt.param_groups, (0.3, 0.07)):
            group["initial_lr"] = initial
    mine = _with_last_epoch(SCHEDULERS[name], lr_scheduler, mine_opt, 6)
    theirs = _with_last_epoch(SCHEDULERS[name], torch.optim.lr_scheduler, theirs_opt, 6)
    assert_same_lrs(mine, theirs, "when made")
    stepped(mine, theirs, 30)


def _with_last_epoch(make, lib, opt, last_epoch):
    """make's scheduler, made with last_epoch: each factory is wrapped to pass it on."""
    classes = {n: getattr(lib, n) for n in ("StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
                                           "LinearLR", "LambdaLR")}
    passing = type("Lib", (), {n: staticmethod(lambda *a, c=c, **k: c(*a, last_epoch=last_epoch, **k))
                               for n, c in classes.items()})
    return make(passing, opt)


@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR",
                                  "LambdaLR"])
def test_step_with_an_epoch_uses_the_closed_form_as_torch(name):
    mine_opt, theirs_opt = optimizers()
    mine, theirs = SCHEDULERS[name](lr_scheduler, mine_opt), SCHEDULERS[name](torch.optim.lr_scheduler, theirs_opt)
    for epoch in (4, 17, 9):
        with pytest.warns(UserWarning, match="epoch parameter"):
            mine.step(epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs.step(epoch)
        assert_same_lrs(mine, theirs, f"at epoch {epoch}")


def test_lambda_lr_saves_a_callable_objects_attributes_only():
    opt, _ = optimizers()
    scheduler = lr_scheduler.LambdaLR(opt, [Warmup(5), lambda epoch: 1.0])
    saved = scheduler.state_dict()
    assert saved["lr_lambdas"] == [{"steps": 5}, None]
    again = lr_scheduler.LambdaLR(opt, [Warmup(2), lambda epoch: 1.0])
    again.load_state_dict(saved)
    assert again.lr_lambdas[0].steps == 5


# --- misuse ------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda lib, opt: lib.LinearLR(opt, start_factor=0),
    lambda lib, opt: lib.LinearLR(opt, start_factor=1.5),
    lambda lib, opt: lib.LinearLR(opt, end_factor=-0.1),
    lambda lib, opt: lib.LambdaLR(opt, [lambda e: 1.0] * 3),
    lambda lib, opt: lib.StepLR(object(), step_size=2),
], ids=["start-factor-0", "start-factor-above-1", "end-factor", "lambda-count",
        "not-an-optimizer"])
def test_bad_arguments_are_refused_as_torch_refuses_them(make):
    mine_opt, theirs_opt = optimizers()
    with pytest.raises((ValueError, TypeError)) as theirs:
        make(torch.optim.lr_scheduler, theirs_opt)
    with pytest.raises(type(theirs.value), match=re.escape(str(theirs.value))):
        make(lr_scheduler, mine_opt)


@pytest.mark.parametrize("make, message", [
    (lambda opt: lr_scheduler.StepLR(opt, step_size=0), "step_size must be a positive int, got 0"),
    (lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=0), "T_max must be a positive int, got 0"),
    (lambda opt: lr_scheduler.LinearLR(opt, total_iters=0), "total_iters must be a positive int, got 0"),
    (lambda opt: lr_scheduler.MultiStepLR(opt, milestones=[2.5]), "milestones must be epoch numbers (ints)"),
    (lambda opt: lr_scheduler.ExponentialLR(opt, 0.9, last_epoch=-2), "last_epoch must be an int >= -1"),
    (lambda opt: lr_scheduler.LambdaLR(opt, 0.5), "lr_lambda should be a function, but got float"),
])
def test_arguments_torch_fails_on_later_are_refused_at_once(make, message):
    """torch takes these and fails at some step (dividing by zero, calling a float)."""
    opt, _ = optimizers()
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        make(opt)


def test_resuming_without_initial_lr_names_the_group():
    opt, _ = optimizers()
    with pytest.raises(KeyError, match=re.escape("param 'initial_lr' is not specified in param_groups[0]")):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=3)


def test_a_state_dict_of_another_scheduler_is_refused():
    opt, _ = optimizers()
    step = lr_scheduler.StepLR(opt, step_size=2)
    cosine = lr_scheduler.CosineAnnealingLR(opt, T_max=5)
    with pytest.raises(ValueError, match=re.escape("the state dict lacks ['T_max', 'eta_min'] and has unexpected "
                                                   "['gamma', 'step_size']; it is not the state of a "
                                                   "CosineAnnealingLR")):
        cosine.load_state_dict(step.state_dict())
    one_group = {**step.state_dict(), "base_lrs": [0.1], "_last_lr": [0.1]}
    with pytest.raises(ValueError, match=re.escape("base_lrs has 1 entries, but the optimizer has 2 param groups")):
        step.load_state_dict(one_group)
