"""The specs of the elementwise math ops: exp, log, sqrt, abs, pow, clamp, maximum/minimum,
where, and the comparisons (the format is in ../opspec.py).

Each op runs as a function (F.exp(a), torch.exp(a)) and as a Tensor method or operator
(a.exp(), a ** b, a < b); the places where torch defines the gradient by convention (abs at 0,
clamp at its bounds, pow at a zero base or exponent, maximum at ties) are fixed-value cases
that the torch-parity and device checks run.
"""
import dataclasses
import operator

import numpy

from ..opspec import DEVICE, HOST, PARITY, Op, bad, case, fixed, grid, normal, uniform

EDGES = {PARITY, DEVICE}  # not differentiable there: compared with torch, not finite differences


def constant(shape):
    """A normal input that gets no gradient: the source of a condition or a comparison's side."""
    return dataclasses.replace(normal(shape), grad=False)


def unary(name, draw, **settings):
    """An op of one tensor, as F.name(a) and a.name(); draw(shape) gives its input."""
    return Op(name, lambda shape: [draw(shape)],
              grid(shape=[(3, 4), (2, 3, 4)], form=["function", "method"], checks=HOST)
              + case(shape=(2, 3, 4), form="method", checks={DEVICE}),
              call=lambda F, a, form: getattr(a, name)() if form == "method" else getattr(F, name)(a),
              **settings)


EXP = unary("exp", normal, extremes=(-100.0, -30.0, 0.0, 30.0, 80.0))  # exp(89) overflows float32
LOG = unary("log", lambda shape: uniform(shape, 0.2, 5.0))
SQRT = unary("sqrt", lambda shape: uniform(shape, 0.2, 5.0))
ABS = unary("abs", normal, kinks=(0.0, -0.0, 1.0, -1.0))

# pow: (base, exponent), a tensor or a number on either side; bases kept positive where the
# exponent is no integer (a negative base has no real power then).
POW_OPERANDS = {
    "tensor-int": lambda: [normal((3, 4)), 3],
    "tensor-negative": lambda: [uniform((3, 4), 0.5, 2.0), -1.5],
    "tensor-half": lambda: [uniform((3, 4), 0.5, 2.0), 0.5],
    "number-tensor": lambda: [2.5, normal((3, 4))],
    "tensor-tensor": lambda: [uniform((2, 3, 4), 0.5, 2.0), normal((3, 4))],
    "broadcast": lambda: [uniform((3, 1), 0.5, 2.0), normal((1, 4))],
    # torch's conventions: the base's gradient is 0 where the exponent is 0; the exponent's is 0
    # where the base is 0 and the exponent >= 0 (inf where it is < 0).
    "zeros": lambda: [fixed([[0.0, 0.0, 0.0, 2.0], [0.0, 1.5, 0.0, 0.5]]),
                      fixed([[0.0, 1.0, 2.5, 0.0], [3.0, 0.0, 2.0, 1.0]])],
    "zero-number": lambda: [0.0, fixed([0.0, 1.0, 2.0])],
}


def power(F, base, exponent, form):
    if form == "operator":
        return base ** exponent
    if form == "method":
        return base.pow(exponent)
    return F.pow(base, exponent)


POW = Op("pow", lambda operands: POW_OPERANDS[operands](),
         grid(operands=[k for k in POW_OPERANDS if not k.startswith("zero")], form=["operator", "function"],
              checks=HOST)
         + grid(operands=["tensor-tensor"], form=["method"], checks=HOST)
         + grid(operands=["zeros", "zero-number"], form=["operator"], checks=EDGES)
         + case(operands="broadcast", form="operator", checks={DEVICE}),
         call=power)

CLAMP_BOUNDS = [dict(min=-0.5, max=0.5), dict(min=-0.5), dict(max=0.5), dict(min=0.5, max=-0.5)]  # min > max: all max


def clamp(F, a, form, **bounds):
    return a.clamp(**bounds) if form == "method" else F.clamp(a, **bounds)


CLAMP = Op("clamp", lambda shape: [shape],
           grid(shape=[(3, 4)], bounds=CLAMP_BOUNDS, form=["function", "method"], checks=HOST)
           + case(shape=(2, 3, 4), bounds=CLAMP_BOUNDS[0], form="method", checks={DEVICE}),
           call=clamp, kinks=(-0.5, 0.5, -0.0, 1.0, -1.0),  # at a bound the gradient passes, as torch
           errors=[bad("clamp: at least one of min and max must not be None (input of shape (2, 3))",
                       (2, 3), form="function")])

# Pairs of operands for maximum/minimum and where; "ties" has equal elements, where the two
# inputs share the gradient (maximum/minimum).
PAIRS = {
    "same": lambda: [(3, 4), (3, 4)],
    "broadcast": lambda: [(2, 1, 4), (3, 1)],
    "ties": lambda: [fixed([[1.0, 2.0, -3.0], [0.5, 0.5, 4.0]]), fixed([[1.0, -2.0, -3.0], [0.5, 0.7, 4.0]])],
}


def extremum(name):
    short = name[:3]  # torch.max(a, b) is torch.maximum(a, b)
    return Op(name, lambda pair: PAIRS[pair](),
              grid(pair=["same", "broadcast"], form=["function", short], checks=HOST)
              + case(pair="ties", form="function", checks=EDGES)
              + case(pair="broadcast", form="function", checks={DEVICE}),
              call=lambda F, a, b, form: getattr(F, name if form == "function" else short)(a, b),
              errors=[bad("inputs mix dtypes (float32 (2, 3), float64 (3,))", (2, 3), numpy.ones(3),
                          form="function", error=TypeError)])


MAXIMUM, MINIMUM = extremum("maximum"), extremum("minimum")

WHERE_SHAPES = {"same": ((3, 4), (3, 4), (3, 4)), "broadcast": ((3, 1), (1, 4), (2, 1, 1))}


def where(F, condition, a, *other, form):
    """other: one tensor, or none for the form that takes a number instead."""
    if form == "raw":  # the condition as it is: a float tensor is refused
        return F.where(condition, a, *other)
    if form == "number":
        return F.where(condition > 0, a, 0.5)
    if form == "method":
        return a.where(condition > 0, *other)
    return F.where(condition > 0, a, *other)


WHERE = Op("where", lambda shapes: [constant(shapes[0]), *shapes[1:]],
           grid(shapes=list(WHERE_SHAPES.values()), form=["function", "method"], checks=HOST)
           + grid(shapes=[((3, 4), (3, 4)), ((2, 1, 4), (3, 1))], form=["number"], checks=HOST)
           + case(shapes=WHERE_SHAPES["broadcast"], form="function", checks={DEVICE}),
           call=where,
           errors=[bad("where: the condition must be a bool tensor (a comparison's result), got float32 of "
                       "shape (2, 3)", (2, 3), (2, 3), (2, 3), form="raw", error=TypeError)])

# Comparisons: a tensor or a number on either side, broadcasting, and equal elements.
COMPARED = {
    "same": lambda: [constant((3, 4)), constant((3, 4))],
    "broadcast": lambda: [constant((2, 1, 4)), constant((3, 1))],
    "number-right": lambda: [constant((3, 4)), 0.25],
    "number-left": lambda: [0.25, constant((3, 4))],
    "equal": lambda: [fixed([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]), fixed([[3.0, 2.0, 1.0], [3.0, 2.0, 1.0]])],
}


def comparison(name, symbol):
    def compare(F, a, b, form):
        return symbol(a, b) if form == "operator" else getattr(F, name)(a, b)
    return Op(name, lambda operands: COMPARED[operands](),
              grid(operands=list(COMPARED), form=["operator"], checks=HOST)
              + grid(operands=["same", "number-right"], form=["function"], checks=HOST)
              + case(operands="equal", form="operator", checks={DEVICE}),
              call=compare, differentiable=False)


LT, LE = comparison("lt", operator.lt), comparison("le", operator.le)
GT, GE = comparison("gt", operator.gt), comparison("ge", operator.ge)
EQ, NE = comparison("eq", operator.eq), comparison("ne", operator.ne)

OPS = [EXP, LOG, SQRT, ABS, POW, CLAMP, MAXIMUM, MINIMUM, WHERE, LT, LE, GT, GE, EQ, NE]
