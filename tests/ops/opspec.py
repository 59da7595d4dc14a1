"""The op spec format (entries in specs/) and the one run every generated check shares.

An `Op` entry says once, for one op:
  name      the op's name in minigan.functional, and by default the function called:
            F.<name>(*inputs, **kwargs), with F minigan.functional or torch's (`TorchFunctional`)
  inputs    inputs(**axes) -> one item per positional input: a shape (standard normal values),
            an `Input` (normal, nonzero, uniform, fixed; running: a buffer the op updates in
            place, compared after the call), a Python number (passed as it is) or None
  cases     points made by `grid` (a product of axes) and `case` (one point), added together;
            the axes that `inputs` names make the inputs, the others are keyword arguments
  call      call(F, *inputs, **kwargs), where the op is not F.<name>
  torch     torch's side as torch(F, *inputs, **kwargs), where call cannot serve for both
  kinks     values of the first input where the derivative is a convention (ReLU's 0), and
  extremes  values where a naive formula overflows: both checked against torch and between
            backends (not by finite differences), with the keyword arguments of every case;
            the other inputs come from inputs(shape=the values' shape)
  dtypes    the dtypes of the torch-parity and device checks (the gradient check is float64)
  rtol      {check: {dtype: rtol}} where an op needs other tolerances than RTOL
  matmul    the GPU matmul engines (minigan.config's "matmul") of the device check
  errors    `Bad(message, *inputs, **kwargs)`: a misuse, and what its message must say
  differentiable  False for ops whose output carries no gradient (argmax, comparisons): their
            outputs are compared, and the gradient check does not run them

A point may narrow the checks that run it (`checks=`), its dtypes (`dtypes=`) and pass
options to minigan.gradcheck (`gradcheck=`). The checks are tests/ops/test_op_*.py.
"""
import dataclasses
import inspect
import itertools
from typing import Any, Callable

import numpy
import pytest

from minigan import Tensor, backend
from minigan import functional as minigan_functional
from support.parity import as_numpy, assert_close

F64, F32 = numpy.float64, numpy.float32
GRADCHECK, PARITY, DEVICE = "gradcheck", "parity", "device"
ALL = frozenset({GRADCHECK, PARITY, DEVICE})
HOST = frozenset({GRADCHECK, PARITY})  # the checks without the emulated GPU
RTOL = {PARITY: {F64: 1e-9, F32: 1e-5}, DEVICE: {F64: 1e-10, F32: 1e-5}}


# --- inputs -----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Input:
    """One positional input: draw(rng) gives its float64 values; grad: whether it gets a
    gradient; state: the op updates it in place (compared after the call, never a gradient)."""
    draw: Callable
    grad: bool = True
    state: bool = False
    integer: bool = False  # int64 values (class indices, positions): kept as they are, never cast


def normal(shape, scale=1.0, shift=0.0):
    return Input(lambda rng: rng.standard_normal(shape) * scale + shift)


def nonzero(shape, low=0.1, high=2.0):
    """|values| in [low, high), random signs: no kink at 0 (ReLU, LeakyReLU) or division by 0."""
    return Input(lambda rng: rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape))


def uniform(shape, low=0.0, high=1.0):
    return Input(lambda rng: rng.uniform(low, high, size=shape))


def integers(shape, high, low=0):
    """int64 values in [low, high): class indices, embedding rows, gather positions."""
    return Input(lambda rng: rng.integers(low, high, size=shape), grad=False, integer=True)


def fixed(values):
    return Input(lambda rng: numpy.array(values, dtype=F64))


def running(value):
    """A buffer the op updates in place, as batchnorm's running statistics."""
    return dataclasses.replace(as_input(value), grad=False, state=True)


def as_input(value):
    """A shape becomes normal(shape); Inputs, numbers and None stay as they are."""
    return normal(value) if isinstance(value, tuple) else value


# --- cases ------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Point:
    axes: dict
    checks: frozenset = ALL
    dtypes: tuple = None  # None: the op's dtypes
    gradcheck: dict = dataclasses.field(default_factory=dict)


def grid(checks=ALL, dtypes=None, gradcheck=None, **axes):
    """Every combination of the axes' values. A value that is a dict sets several axes at once
    (for settings that go together, such as a rectangular kernel with its stride)."""
    points = []
    for values in itertools.product(*axes.values()):
        point = {}
        for name, value in zip(axes, values):
            point.update(value if isinstance(value, dict) else {name: value})
        points.append(Point(point, frozenset(checks), dtypes, gradcheck or {}))
    return points


def case(checks=ALL, dtypes=None, gradcheck=None, **axes):
    """One point."""
    return grid(checks, dtypes, gradcheck, **{name: [value] for name, value in axes.items()})


def _label(value):
    if isinstance(value, tuple) and any(isinstance(v, tuple) for v in value):
        return "(" + ",".join(_label(v) for v in value) + ")"
    if isinstance(value, tuple):
        return "x".join(_label(v) for v in value) or "scalar"
    if callable(value):
        return value.__name__
    return str(value)


def _point_id(axes):
    return "-".join(f"{name}={_label(value)}" for name, value in axes.items()) or "defaults"


@dataclasses.dataclass(frozen=True)
class Case:
    """One point of one op, ready to run: its inputs, its keyword arguments, where it runs."""
    op: Any
    id: str
    inputs: tuple
    kwargs: dict
    checks: frozenset
    dtypes: tuple
    gradcheck: dict

    def call(self, F, *inputs):
        return self.op.call(F, *inputs, **self.kwargs)

    def call_torch(self, F, *inputs):
        return (self.op.torch or self.op.call)(F, *inputs, **self.kwargs)

    def draw(self, rng):
        """Each input's float64 NumPy values (numbers and None as they are)."""
        return [x.draw(rng) if isinstance(x, Input) else x for x in self.inputs]


@dataclasses.dataclass(frozen=True)
class Bad:
    """A misuse: inputs (shapes are float32 ones; arrays, numbers and None as they are),
    keyword arguments, and the error with a fragment its message must contain."""
    message: str
    inputs: tuple
    kwargs: dict
    error: type = ValueError


def bad(message, *inputs, error=ValueError, **kwargs):
    return Bad(message, inputs, kwargs, error)


def _split(fn, axes):
    """The axes fn takes by name, and the rest."""
    names = inspect.signature(fn).parameters
    return ({k: v for k, v in axes.items() if k in names},
            {k: v for k, v in axes.items() if k not in names})


@dataclasses.dataclass
class Op:
    name: str
    inputs: Callable
    cases: list
    call: Callable = None
    torch: Callable = None
    kinks: tuple = ()
    extremes: tuple = ()
    dtypes: tuple = (F64, F32)
    rtol: dict = dataclasses.field(default_factory=dict)
    matmul: tuple = ("cublas",)
    errors: list = dataclasses.field(default_factory=list)
    differentiable: bool = True

    def __post_init__(self):
        if self.call is None:
            self.call = lambda F, *inputs, **kwargs: getattr(F, self.name)(*inputs, **kwargs)
        self.expanded = []
        for point in self.cases:
            named, kwargs = _split(self.inputs, point.axes)
            inputs = tuple(as_input(x) for x in self.inputs(**named))
            self._add(_point_id(point.axes), inputs, kwargs, point)
        for label, values in (("kinks", self.kinks), ("extremes", self.extremes)):
            # The first input takes the values; the others come from inputs(shape=their shape).
            named = {"shape": numpy.shape(values)} if "shape" in inspect.signature(self.inputs).parameters else {}
            for kwargs in _distinct(_split(self.inputs, p.axes)[1] for p in self.cases) if values else ():
                inputs = (fixed(values), *(as_input(x) for x in self.inputs(**named)[1:]))
                self._add(f"{label}-{_point_id(kwargs)}", inputs, kwargs, Point({}, frozenset({PARITY, DEVICE})))

    def _add(self, id, inputs, kwargs, point):
        checks = point.checks if self.differentiable else point.checks - {GRADCHECK}
        self.expanded.append(Case(self, id, inputs, kwargs, checks, point.dtypes or self.dtypes, point.gradcheck))

    def tolerance(self, check, dtype):
        return self.rtol.get(check, {}).get(dtype, RTOL[check][dtype])


def _distinct(dicts):
    seen = []
    for d in dicts:
        if d not in seen:
            seen.append(d)
    return seen


# --- torch under minigan's names ------------------------------------------------------------

class TorchFunctional:
    """torch.nn.functional (else torch) under minigan.functional's names and signatures; the
    few places where they differ are written out here."""

    def __init__(self, torch):
        self.torch = torch

    def reshape(self, a, *shape):
        return a.reshape(*shape)

    def __getattr__(self, name):
        found = getattr(self.torch.nn.functional, name, None)
        return found if found is not None else getattr(self.torch, name)


def torch_weight_of_ones(name, weight_position):
    """torch's F.name given a weight of ones (no gradient) where a bias comes without a weight, the
    same function: torch 2.13's double backward of batch, instance and layer norm fails on a bias
    alone ("Expected a proper Tensor but got None")."""
    def call(F, *inputs, **kwargs):
        weight, bias = inputs[weight_position:weight_position + 2]
        if weight is None and bias is not None:
            inputs = (*inputs[:weight_position], F.torch.ones_like(bias), *inputs[weight_position + 1:])
        return getattr(F, name)(*inputs, **kwargs)
    return call


# --- one run: forward and backward of a case on one library --------------------------------

@dataclasses.dataclass
class Run:
    """An op's output, and by input position each gradient and each state after the call, as
    NumPy arrays."""
    output: numpy.ndarray
    grads: dict
    states: dict


def upstream_gradients(rng, dtype):
    """upstream(shape): a random upstream gradient, drawn once per shape, so that both sides
    of a comparison get the same one."""
    drawn = {}

    def upstream(shape):
        if shape not in drawn:
            drawn[shape] = numpy.asarray(rng.standard_normal(shape), dtype=dtype)
        return drawn[shape]
    return upstream


def _collect(case, inputs, output):
    """A run's output, and by input position each gradient and each state, as they are."""
    pairs = [(i, spec, x) for i, (spec, x) in enumerate(zip(case.inputs, inputs)) if isinstance(spec, Input)]
    # A non-differentiable op's inputs may require grad (its output must not): no gradients to compare.
    return Run(output, {i: x.grad for i, spec, x in pairs if spec.grad and case.op.differentiable},
               {i: x for i, spec, x in pairs if spec.state})


def _as_numpy(run):
    return Run(as_numpy(run.output), {i: as_numpy(g) for i, g in run.grads.items()},
               {i: as_numpy(x) for i, x in run.states.items()})


def input_array(spec, values, dtype):
    """An input's values as a NumPy array of the case's dtype (integer inputs stay int64)."""
    return numpy.asarray(values, numpy.int64 if spec.integer else dtype)


def run_minigan(case, arrays, xp, dtype, upstream):
    """The case on minigan with backend xp; checks that every result is an xp array of dtype
    (a non-differentiable op's output: on xp, carrying no gradient)."""
    inputs = [Tensor(xp.asarray(input_array(spec, a, dtype)), requires_grad=spec.grad)
              if isinstance(spec, Input) else a for spec, a in zip(case.inputs, arrays)]
    out = case.call(minigan_functional, *inputs)
    if not case.op.differentiable:
        assert not out.requires_grad, f"{case.op.name}'s output requires grad"
        assert backend.array_module(out.data) is xp, f"output on {backend.array_module(out.data).__name__}"
        return _as_numpy(_collect(case, inputs, out.data))
    out.backward(xp.asarray(upstream(out.shape)))
    run = _collect(case, inputs, out.data)
    for what, array in [("output", run.output), *((f"gradient of input {i}", g) for i, g in run.grads.items())]:
        assert array is not None, f"{what}: none"
        assert backend.array_module(array) is xp, f"{what} on {backend.array_module(array).__name__}"
        assert array.dtype == dtype, f"{what} is {array.dtype}, the inputs {numpy.dtype(dtype)}"
    return _as_numpy(run)


def run_torch(case, arrays, torch, dtype, upstream):
    inputs = [torch.tensor(input_array(spec, a, dtype), requires_grad=spec.grad)
              if isinstance(spec, Input) else a for spec, a in zip(case.inputs, arrays)]
    out = case.call_torch(TorchFunctional(torch), *inputs)
    if case.op.differentiable:
        out.backward(torch.from_numpy(upstream(tuple(out.shape))))
    return _as_numpy(_collect(case, inputs, out))


def assert_same_run(actual, expected, rtol):
    """Output, every gradient and every state of two runs agree to rtol, relative to the
    largest magnitude of the expected value."""
    assert_close(actual.output, expected.output, "output", rtol)
    for label, mine, theirs in (("gradient", actual.grads, expected.grads), ("state", actual.states, expected.states)):
        for index in theirs:
            assert_close(mine[index], theirs[index], f"{label} of input {index}", rtol)


def params(ops, check, dtypes=True):
    """pytest.param(case[, dtype]) for every case of ops that runs `check`, with readable ids."""
    found = []
    for op in ops:
        for c in op.expanded:
            if check not in c.checks:
                continue
            if not dtypes:
                found.append(pytest.param(c, id=f"{op.name}-{c.id}"))
                continue
            for dtype in c.dtypes:
                found.append(pytest.param(c, dtype, id=f"{op.name}-{c.id}-{numpy.dtype(dtype).name}"))
    return found
