"""The specs of softmax, log_softmax and the losses: cross-entropy, NLL, MSE, L1 and BCE on
probabilities (the format is in ../opspec.py)."""
import dataclasses

import numpy

from ..opspec import DEVICE, F32, F64, HOST, PARITY, Input, Op, bad, case, grid, integers, nonzero, uniform

IGNORED = -100  # torch's default ignore_index


def constant(input_):
    """input_ without a gradient (class weights: torch has no gradient for them)."""
    return dataclasses.replace(input_, grad=False)


def targets(shape, classes, ignored=0):
    """Class indices in [0, classes), the first `ignored` of them (in flat order) set to -100."""
    def draw(rng):
        values = rng.integers(0, classes, size=shape)
        values.reshape(-1)[:ignored] = IGNORED
        return values
    return Input(draw, grad=False, integer=True)


# --- softmax and log_softmax -----------------------------------------------------------------

# (1, 3, 4): every dim of the grid exists
SOFTMAX_EXTREMES = (((-700.0, 0.0, 700.0, 30.0), (100.0, -100.0, 0.5, 100.0), (-1e4, -1e4, -1e4, -1e4)),)


def softmax_op(name):
    return Op(
        name, lambda shape: [shape],
        grid(shape=[(3, 5)], dim=[0, 1, -1], scale=[1.0]) + grid(shape=[(2, 3, 4)], dim=[0, 1, 2, -2])
        + case(shape=(7,), dim=0) + case(shape=(), dim=-1)  # a 0-d input: one dim, itself (as torch)
        + case(shape=(64, 10), dim=1, checks={PARITY, DEVICE}),  # a classifier's batch
        call=lambda F, x, dim, scale=1.0: getattr(F, name)(x * scale, dim=dim),
        extremes=SOFTMAX_EXTREMES,
        errors=[bad(f"{name}: give dim, the dimension to normalise over", (3, 4), dim=None, error=TypeError),
                bad(f"{name}: dim 2 is out of range for a tensor of shape (3, 4) (expected a dim in [-2, 1])",
                    (3, 4), dim=2, error=IndexError),
                bad(f"{name}: dim -3 is out of range for a tensor of shape (3, 4)", (3, 4), dim=-3, error=IndexError),
                bad(f"{name}: dim must be an int, got float 1.0", (3, 4), dim=1.0, error=TypeError)])


SOFTMAX, LOG_SOFTMAX = softmax_op("softmax"), softmax_op("log_softmax")


# --- cross-entropy and NLL ---------------------------------------------------------------------

def classification_inputs(shape, weighted=False, ignored=0):
    """logits (or log-probabilities), targets (classes along dim 1; dim 0 of a 1-D input), weights."""
    classes = shape[1] if len(shape) > 1 else shape[0]
    target_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    return [nonzero(shape, low=0.1, high=3.0), targets(target_shape, classes, ignored),
            constant(uniform((classes,), 0.5, 2.0)) if weighted else None]


def class_indices(*values):
    return numpy.array(values, dtype=numpy.int64)


def classification_errors(name):
    return [
        bad(f"{name}: target 5 is out of bounds for 3 classes (input (2, 3))", (2, 3), class_indices(0, 5),
            error=IndexError),
        bad(f"{name}: target -1 is out of bounds for 3 classes (input (2, 3))", (2, 3), class_indices(-1, 0),
            error=IndexError),
        bad(f"{name}: target 3 is out of bounds for 3 classes (input (2, 3, 2))", (2, 3, 2),
            numpy.array([[0, 3], [1, 2]]), error=IndexError),
        bad(f"{name}: target shape (3,) does not match input shape (2, 3): expected (2,)", (2, 3),
            class_indices(0, 1, 2)),
        bad(f"{name}: target must hold class indices (an integer tensor, as int64), got float32 of shape (2,)",
            (2, 3), (2,), error=TypeError),
        bad(f"{name}: weight must have shape (3,), one per class of input (2, 3), got (4,)", (2, 3),
            class_indices(0, 1), (4,)),
        bad(f"{name}: 'average' is not a valid value for reduction", (2, 3), class_indices(0, 1),
            reduction="average"),
    ]


CLASSIFICATION_GRID = dict(reduction=["mean", "sum", "none"], weighted=[False, True])
# Logits far apart, for log_softmax's shift; the other inputs come from inputs(shape=(2, 4)).
CLASSIFICATION_EXTREMES = ((-700.0, 0.0, 700.0, 30.0), (100.0, -100.0, 0.5, 100.0))

CROSS_ENTROPY = Op(
    "cross_entropy", classification_inputs,
    grid(shape=[(6, 4), (3, 4, 2, 2)], label_smoothing=[0.0, 0.2], **CLASSIFICATION_GRID)
    + grid(shape=[(5, 3)], ignored=[2], ignore_index=[IGNORED], label_smoothing=[0.0, 0.3], **CLASSIFICATION_GRID)
    + grid(shape=[(6, 4)], ignore_index=[1], weighted=[True, False])  # a real class ignored
    + grid(shape=[(5,)], reduction=["mean", "none"], weighted=[True])  # one sample, without a batch dim
    + case(shape=(128, 10), checks={PARITY, DEVICE}),  # a classifier's batch
    extremes=CLASSIFICATION_EXTREMES,
    errors=[*classification_errors("cross_entropy"),
            bad("cross_entropy: label_smoothing must be between 0.0 and 1.0, got 1.5", (2, 3), class_indices(0, 1),
                label_smoothing=1.5),
            bad("cross_entropy: input must have a class dimension, got a 0-d input", (), class_indices(0)),
            bad("cross_entropy: target must hold class indices", (2, 3), (2, 3), error=TypeError)])

NLL_LOSS = Op(
    "nll_loss", classification_inputs,
    grid(shape=[(6, 4), (3, 4, 2, 2)], **CLASSIFICATION_GRID)
    + grid(shape=[(5, 3)], ignored=[2], **CLASSIFICATION_GRID)
    + grid(shape=[(6, 4)], ignore_index=[2], weighted=[True, False])
    + case(shape=(5,), weighted=True),
    extremes=((-1000.0, -100.0, 0.0, -1e-30), (-3.0, -700.0, -0.5, -100.0)),
    errors=classification_errors("nll_loss"))


# --- regression losses and BCE on probabilities -------------------------------------------------

def pair_inputs(shape):
    return [shape, shape]


def regression(name):
    return Op(name, pair_inputs, grid(shape=[(6,), (3, 4), (2, 3, 2, 2)], reduction=["mean", "sum", "none"]),
              extremes=((-1e3, -100.0, 0.0, 100.0, 1e3),),
              errors=[bad(f"{name}: target shape (4,) does not match input shape (4, 1)", (4, 1), (4,)),
                      bad(f"{name}: 'elementwise' is not a valid value for reduction", (3,), (3,),
                          reduction="elementwise"),
                      bad(f"{name}: weight is not supported", (3,), (3,), weight=(3,), error=NotImplementedError)])


MSE_LOSS, L1_LOSS = regression("mse_loss"), regression("l1_loss")


def bce_inputs(shape, target_grad=False):
    """Probabilities away from 0 and 1, and targets in [0, 1]; torch's target gradient, -logit(p),
    is infinite at the extremes, so the target takes a gradient only where asked."""
    target = uniform(shape)
    return [uniform(shape, 0.05, 0.95), target if target_grad else constant(target)]


BINARY_CROSS_ENTROPY = Op(
    "binary_cross_entropy", bce_inputs,
    grid(shape=[(6,), (3, 4), (2, 3, 2)], reduction=["mean", "sum", "none"], target_grad=[True, False]),
    # where log(p) or log(1 - p) is -inf or below torch's clamp at -100 (1e-45 is below e^-100)
    extremes=(0.0, 1e-45, 1e-30, 1e-8, 0.5, 1 - 1e-7, 1.0),
    errors=[bad("binary_cross_entropy: target shape (4,) does not match input shape (4, 1)", (4, 1), (4,)),
            bad("binary_cross_entropy: all elements of input should be between 0 and 1 (input of shape (3,), "
                "min -0.5, max 2.0)", numpy.array([0.5, -0.5, 2.0]), (3,)),
            bad("binary_cross_entropy: weight is not supported", (3,), (3,), (3,), error=NotImplementedError)])

OPS = [SOFTMAX, LOG_SOFTMAX, CROSS_ENTROPY, NLL_LOSS, MSE_LOSS, L1_LOSS, BINARY_CROSS_ENTROPY]
