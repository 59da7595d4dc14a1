"""The engine's hook point (autograd.FunctionHook) and the timing hook built on it."""
import numpy
import pytest

import minigan
from minigan import functional as F
from minigan.config import config
from minigan.function_hooks import TimerHook


class Recorder(minigan.FunctionHook):
    def __init__(self):
        self.calls = []

    def forward_preprocess(self, function, arrays):
        self.calls.append(("forward pre", type(function).__name__, len(arrays)))

    def forward_postprocess(self, function, arrays):
        self.calls.append(("forward post", type(function).__name__, len(arrays)))

    def backward_preprocess(self, function, grad_output):
        self.calls.append(("backward pre", type(function).__name__, grad_output.shape))

    def backward_postprocess(self, function, grad_output):
        self.calls.append(("backward post", type(function).__name__, grad_output.shape))


def graph():
    x = minigan.Tensor(numpy.arange(6.0).reshape(2, 3), requires_grad=True)
    return x, F.relu(x * 2).sum()


def test_a_hook_sees_every_forward_and_backward_in_order_while_installed():
    recorder = Recorder()
    with recorder:
        x, y = graph()
        y.backward()
    assert recorder.calls == [
        ("forward pre", "Mul", 2), ("forward post", "Mul", 2),
        ("forward pre", "LeakyReLU", 1), ("forward post", "LeakyReLU", 1),
        ("forward pre", "Sum", 1), ("forward post", "Sum", 1),
        ("backward pre", "Sum", ()), ("backward post", "Sum", ()),
        ("backward pre", "LeakyReLU", (2, 3)), ("backward post", "LeakyReLU", (2, 3)),
        ("backward pre", "Mul", (2, 3)), ("backward post", "Mul", (2, 3))]
    graph()[1].backward()  # uninstalled: nothing more
    assert len(recorder.calls) == 12 and config.function_hooks == ()


def test_hooks_nest_and_leave_in_any_order():
    outer, inner = Recorder(), Recorder()
    with outer:
        with inner:
            graph()
        graph()
    assert len(outer.calls) == 12 and len(inner.calls) == 6
    outer.__enter__(), inner.__enter__()
    outer.__exit__(None, None, None)
    assert config.function_hooks == (inner,)
    inner.__exit__(None, None, None)
    assert config.function_hooks == ()


def test_timer_sums_seconds_per_function_and_direction_and_syncs_around_each_call():
    syncs = []
    with TimerHook(synchronize=lambda: syncs.append(1)) as timer:
        x, y = graph()
        y.backward()
        F.relu(x)  # a second LeakyReLU forward (relu is one) sums into the same row
    rows = {(name, direction) for name in ("Mul", "LeakyReLU", "Sum")
            for direction in ("forward", "backward")}
    assert set(timer.seconds) == rows and all(s >= 0 for s in timer.seconds.values())
    assert timer.calls[("LeakyReLU", "forward")] == 2 and timer.calls[("LeakyReLU", "backward")] == 1
    assert len(syncs) == 2 * sum(timer.calls.values())


def test_timer_rows_can_be_labelled_by_the_recorded_inputs():
    w = minigan.Tensor(numpy.ones(3), requires_grad=True)
    names = {id(w): "scale"}

    def label(function):
        return next((names[id(t)] for t in function.inputs if id(t) in names), type(function).__name__)
    with TimerHook(label=label) as timer:
        (minigan.Tensor(numpy.ones(3)) * w).sum().backward()
    assert set(timer.calls) == {("scale", "forward"), ("scale", "backward"), ("Sum", "forward"),
                                ("Sum", "backward")}


def test_a_failing_op_leaves_the_timer_usable():
    with TimerHook() as timer:
        with pytest.raises(ValueError):
            minigan.Tensor(numpy.ones((2, 3))) @ minigan.Tensor(numpy.ones((2, 3)))
        graph()
    assert timer.calls[("Mul", "forward")] == 1 and ("MatMul", "forward") not in timer.calls
