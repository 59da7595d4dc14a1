"""The specs of the first ops: convolution, transposed convolution, batchnorm, pooling, the
activations, linear, the BCE loss and tensor arithmetic (the format is in ../opspec.py); the
reductions, shape ops and elementwise math have their own modules here."""
import itertools
import math

import numpy

from minigan import nn

from ..opspec import (DEVICE, F32, F64, GRADCHECK, HOST, PARITY, Input, Op, TorchFunctional, bad, case, fixed,
                     grid, nonzero, normal, running, torch_weight_of_ones, uniform)


def pair(k):
    return (k, k) if isinstance(k, int) else k


def ones(*shape):
    """A float64 input among the float32 ones of a bad call."""
    return numpy.ones(shape)


# --- convolution ------------------------------------------------------------------------------

def conv_inputs(shape, kernel, bias=True, out=4):
    return [shape, (out, shape[1], *pair(kernel)), (out,) if bias else None]


def conv_transpose_inputs(shape, kernel, bias=True, out=3):
    return [shape, (shape[1], out, *pair(kernel)), (out,) if bias else None]  # weight (in, out, kh, kw)


# Transposed convolution: (stride, padding, output_padding), output_padding < stride; with kernels of
# 1, 3 and 4, except 1 with padding 1 (it would crop a 1-pixel-per-input output to nothing).
CONVT_SETTINGS = [dict(stride=s, padding=p, output_padding=q)
                  for s, p, q in itertools.product([1, 2], [0, 1], [0, 1]) if q < s]
CONVT_KERNEL_SETTINGS = [dict(kernel=k, **s) for k in [1, 3, 4] for s in CONVT_SETTINGS
                         if not (k == 1 and s["padding"] == 1)]
CONV_RECTANGULAR = [dict(kernel=(3, 2), stride=(2, 1), padding=(1, 0)),
                    dict(kernel=(2, 3), stride=(1, 2), padding=(0, 1)),
                    dict(kernel=(1, 4), stride=(2, 2), padding=(1, 1)),
                    dict(kernel=(1, 4), stride=(3, 2), padding=(1, 2))]
CONVT_RECTANGULAR = [dict(kernel=(3, 2), stride=(2, 1), padding=(1, 0), output_padding=(1, 0)),
                     dict(kernel=(4, 3), stride=(3, 2), padding=(1, 1), output_padding=(2, 1)),
                     dict(kernel=(2, 4), stride=(1, 2), padding=(0, 1), output_padding=(0, 1)),
                     dict(kernel=(3, 3), stride=(2, 2), padding=(2, 2), output_padding=(1, 0))]  # padding > kernel - 1
STRIDES_MISSING_ONE = [0, -1, (1, 0), (-1, 2)]

CONV2D = Op(
    "conv2d", conv_inputs,
    # A batch of 1, one channel, H > W and H < W: the gradient check (its cost grows with the input
    # size) on the smaller two, torch parity on the larger two.
    grid(shape=[(1, 2, 5, 4), (2, 1, 4, 6)], kernel=[1, 3, 4], stride=[1, 2], padding=[0, 1],
         bias=[True, False], checks={GRADCHECK})
    + grid(shape=[(2, 3, 7, 6), (1, 2, 5, 8)], kernel=[1, 3, 4], stride=[1, 2], padding=[0, 1],
           bias=[True, False], checks={PARITY}, dtypes=[F64])
    + grid(shape=[(2, 3, 6, 7)], kernel=[1, 3, 4], stride=[1, 2], padding=[0, 1], out=[5], checks={PARITY},
           dtypes=[F32])
    + grid(shape=[(2, 2, 5, 6)], out=[2], bias=[True, False], rectangular=CONV_RECTANGULAR, checks=HOST)
    + grid(shape=[(2, 3, 6, 9)], out=[2], bias=[True, False], rectangular=CONV_RECTANGULAR)
    + case(shape=(2, 3, 12, 11), kernel=3, stride=2, padding=1, out=2, gradcheck=dict(directions=8))  # > 512
    + case(shape=(4, 16, 16, 16), kernel=4, stride=2, padding=1, out=32, checks={PARITY})  # a real layer's GEMM
    + case(shape=(3, 4, 8, 8), kernel=4, stride=2, padding=1, out=5)  # DCGAN's inner layers
    + case(shape=(2, 3, 7, 6), kernel=3, stride=1, padding=1)
    + case(shape=(3, 8, 4, 4), kernel=4, out=1, bias=False),  # DCGAN's last layer: k x k -> 1 x 1, dense
    matmul=("cublas", "exact"),
    errors=[
        bad("conv2d: input has 3 channels (shape (2, 3, 5, 6)) but weight (4, 2, 3, 3) expects 2",
            (2, 3, 5, 6), (4, 2, 3, 3)),
        *[bad(f"conv2d: input must be 4-D (N, C, H, W), got shape {shape}", shape, (2, 3, 3, 3))
          for shape in [(3, 5, 5), (5, 5), (1, 1, 3, 5, 5)]],
        bad("conv2d: weight must be 4-D (N, C, H, W), got shape (2, 3, 3)", (1, 3, 5, 5), (2, 3, 3)),
        bad("kernel (5, 5) is larger than the padded input (3, 4) (input (3, 4), padding (0, 0))",
            (1, 1, 3, 4), (1, 1, 5, 5)),
        bad("kernel (6, 3) is larger than the padded input (5, 6) (input (3, 4), padding (1, 1))",
            (1, 1, 3, 4), (1, 1, 6, 3), padding=1),
        bad("kernel (3, 3) is larger than the padded input (8, 2) (input (8, 2), padding (0, 0))",
            (1, 1, 8, 2), (1, 1, 3, 3)),  # only the width is too small
        *[bad(f"stride must be an int >= 1 or a pair of them, got {stride!r}", (1, 1, 5, 5), (1, 1, 3, 3),
              stride=stride) for stride in STRIDES_MISSING_ONE],
        bad("padding must be an int >= 0 or a pair of them, got -1", (1, 1, 5, 5), (1, 1, 3, 3), padding=-1),
        bad("conv2d: bias must have shape (4,), got (3,)", (1, 2, 5, 5), (4, 2, 3, 3), (3,)),
        bad("Conv2d: inputs mix dtypes (float32 (1, 2, 4, 4), float64 (3, 2, 3, 3))",
            (1, 2, 4, 4), ones(3, 2, 3, 3), error=TypeError),
    ])

CONV_TRANSPOSE2D = Op(
    "conv_transpose2d", conv_transpose_inputs,
    # H != W, a batch of 1, and 1 x 1 inputs (the dense 1 x 1 -> k x k path where padding is 0):
    # the gradient check on the smaller two, torch parity on the larger two.
    grid(shape=[(2, 2, 3, 2), (2, 3, 1, 1)], settings=CONVT_KERNEL_SETTINGS, bias=[True, False],
         checks={GRADCHECK})
    + grid(shape=[(2, 3, 4, 5), (1, 2, 3, 2)], settings=CONVT_KERNEL_SETTINGS, bias=[True, False],
           checks={PARITY}, dtypes=[F64])
    + grid(shape=[(2, 4, 3, 5)], kernel=[4], settings=CONVT_SETTINGS, out=[2], checks={PARITY}, dtypes=[F32])
    + grid(shape=[(2, 3, 4, 3)], out=[2], rectangular=CONVT_RECTANGULAR)
    + grid(shape=[(1, 3, 2, 3)], out=[2], rectangular=CONVT_RECTANGULAR, checks=HOST)
    + case(shape=(4, 32, 4, 4), kernel=4, stride=2, padding=1, out=16, bias=False, checks={PARITY})  # DCGAN
    + case(shape=(3, 5, 4, 4), kernel=4, stride=2, padding=1, out=4)  # DCGAN's inner layers
    + case(shape=(2, 3, 5, 4), kernel=3, stride=2, padding=1, output_padding=1, out=2, bias=False)
    + case(shape=(3, 6, 1, 1), kernel=4, out=8, bias=False),  # DCGAN's first layer: 1 x 1 -> k x k, dense
    matmul=("cublas", "exact"),
    errors=[
        bad("conv_transpose2d: input has 3 channels (shape (1, 3, 4, 4)) but weight (2, 5, 3, 3) expects 2",
            (1, 3, 4, 4), (2, 5, 3, 3)),
        *[bad(f"conv_transpose2d: input must be 4-D (N, C, H, W), got shape {shape}", shape, (3, 2, 3, 3))
          for shape in [(3, 5, 5), (5, 5), (1, 1, 3, 5, 5)]],
        *[bad(f"stride must be an int >= 1 or a pair of them, got {stride!r}", (1, 1, 3, 3), (1, 1, 3, 3),
              stride=stride) for stride in STRIDES_MISSING_ONE],
        *[bad(f"output_padding {pair(q)} must be smaller than stride {pair(s)}", (1, 2, 3, 3), (2, 1, 3, 3),
              stride=s, output_padding=q) for s, q in [(1, 1), (2, 2), (2, 3), ((2, 1), (1, 1))]],
        bad("output size (0, 0) is empty for input (1, 1, 2, 2), kernel (1, 1), stride (1, 1), padding (1, 1)",
            (1, 1, 2, 2), (1, 1, 1, 1), padding=1),
        bad("conv_transpose2d: bias must have shape (5,), got (2,)", (1, 2, 3, 3), (2, 5, 3, 3), (2,)),
    ])


# --- batch normalization ---------------------------------------------------------------------

def batch_norm_inputs(shape, affine=True, statistics=True):
    """x, running_mean, running_var, weight, bias: affine "bias_only" has no weight."""
    c = shape[1]
    stats = [running(normal((c,))), running(uniform((c,), 0.5, 2.0))] if statistics else [None, None]
    weight = normal((c,)) if affine is True else None
    bias = normal((c,)) if affine else None
    return [normal(shape, scale=3.0, shift=1.0), *stats, weight, bias]


BATCH_NORM = Op(
    "batch_norm", batch_norm_inputs,
    grid(shape=[(4, 3, 3, 2), (1, 2, 3, 4), (3, 2, 2, 3), (1, 3, 3, 2)], training=[True, False],
         affine=[True, False], momentum=[0.25], eps=[1e-3])
    + grid(shape=[(3, 2, 2, 2), (2, 2, 3, 2)], affine=[True, "bias_only"], statistics=[False], training=[True])
    + grid(shape=[(4, 3, 5, 5)], training=[True, False])  # torch's default momentum and eps
    + case(shape=(4, 3, 5, 5), statistics=False, training=True),
    torch=torch_weight_of_ones("batch_norm", 3),
    errors=[
        *[bad(f"batch_norm: input must be 4-D (N, C, H, W), got shape {shape}", shape, None, None, training=True)
          for shape in [(4, 3), (2, 3, 5), (1, 3, 2, 2, 2)]],
        bad("batch_norm: weight must have shape (3,) for input (2, 3, 4, 4), got (4,)",
            (2, 3, 4, 4), None, None, (4,), (3,), training=True),
        bad("batch_norm: running_var must have shape (3,) for input (2, 3, 4, 4), got (2,)",
            (2, 3, 4, 4), (3,), (2,)),
        bad("more than 1 value per channel, got input shape (1, 3, 1, 1)", (1, 3, 1, 1), None, None,
            training=True),
        bad("needs running_mean and running_var", (2, 3, 2, 2), None, None, training=False),
    ])


def batch_norm_then_leaky_relu(F, *inputs, negative_slope=0.01, **kwargs):
    """torch's side of the fused op: its batch_norm (with a weight of ones where a bias comes
    alone, as batch_norm's spec), then its leaky_relu."""
    return F.leaky_relu(torch_weight_of_ones("batch_norm", 3)(F, *inputs, **kwargs), negative_slope)


BATCH_NORM_LEAKY_RELU = Op(
    "batch_norm_leaky_relu", batch_norm_inputs,
    grid(shape=[(4, 3, 3, 2), (1, 2, 3, 4)], training=[True, False], affine=[True, False],
         negative_slope=[0.0, 0.2, -0.5], momentum=[0.25], eps=[1e-3])
    + grid(shape=[(3, 2, 2, 2)], affine=["bias_only"], statistics=[False], training=[True], negative_slope=[0.0])
    + case(shape=(4, 3, 5, 5), training=True)  # torch's defaults: momentum, eps and leaky_relu's slope
    + case(shape=(16, 8, 8, 8), training=True, negative_slope=0.2, checks=HOST),  # a DCGAN D layer
    torch=batch_norm_then_leaky_relu,
    errors=[
        bad("batch_norm_leaky_relu: input must be 4-D (N, C, H, W), got shape (2, 3, 5)", (2, 3, 5), None, None,
            training=True),
        bad("batch_norm_leaky_relu: bias must have shape (3,) for input (2, 3, 4, 4), got (4,)",
            (2, 3, 4, 4), None, None, (3,), (4,), training=True, negative_slope=0.0),
        bad("batch_norm_leaky_relu: training needs more than 1 value per channel, got input shape (1, 3, 1, 1)",
            (1, 3, 1, 1), None, None, training=True),
        bad("batch_norm_leaky_relu: evaluation (training=False) needs running_mean and running_var",
            (2, 3, 2, 2), (3,), None, training=False),
    ])

# --- pooling ---------------------------------------------------------------------------------

def distinct(shape):
    """Values 1/8 apart in random order: no two within a finite-difference step of each other, so
    no window's maximum is tied (max pooling's gradient at a tie is a convention: see POOL_TIES)."""
    return Input(lambda rng: rng.permutation(math.prod(shape)).reshape(shape) / 8.0)


POOL_SETTINGS = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                 dict(kernel_size=3, stride=1, padding=1),  # overlapping windows: a pixel in up to 9
                 dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1)),
                 dict(kernel_size=(3, 1), stride=(3, 2), padding=(1, 0)),  # stride > kernel: pixels in none
                 dict(kernel_size=4, padding=2)]  # padding = kernel / 2: corner windows hold one pixel
# Ties in most windows: max pooling's gradient goes to the first maximum in row-major order,
# torch's rule on the CPU (tests/kernels/test_pooling.py checks its indices as well).
POOL_TIES = ((((1, 3, 3, 0, 2, 2), (3, 2, 3, 2, 2, 0), (0, 3, 1, 1, 1, 1), (2, 2, 0, 0, 4, 4),
               (1, 1, 1, 4, 4, 0), (0, 0, 0, 0, 4, 1)),),)


# count_include_pad=False: border windows divide by their in-bounds pixels (Inception-v3's pooling).
AVG_POOL_EXCLUDING_PAD = (
    grid(shape=[(2, 3, 7, 6)], settings=[dict(kernel_size=3, stride=1, padding=1),
                                         dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1)),
                                         dict(kernel_size=4, padding=2)],
         count_include_pad=[False], form=["function"])
    + case(shape=(2, 3, 7, 6), kernel_size=(3, 2), stride=(2, 1), padding=1, count_include_pad=False,
           form="module"))
AVG_POOL_ERRORS = [bad("avg_pool2d: count_include_pad must be a bool, got 'no'", (1, 1, 5, 5), kernel_size=2,
                       count_include_pad="no", form="function", error=TypeError)]


def pooling(name, module):
    """avg_pool2d or max_pool2d, called as the function or as its nn module (torch's constructor)."""
    def call(F, x, form, **kwargs):
        if form == "function":
            return getattr(F, name)(x, **kwargs)
        return getattr(F.torch.nn if isinstance(F, TorchFunctional) else nn, module)(**kwargs)(x)

    return Op(
        name, lambda shape: [distinct(shape)],
        grid(shape=[(2, 3, 7, 6), (1, 2, 5, 8)], settings=POOL_SETTINGS, form=["function"])
        + case(shape=(2, 3, 7, 6), kernel_size=(3, 2), stride=(2, 1), padding=1, form="module")
        + case(shape=(4, 8, 16, 16), kernel_size=2, form="module", checks={PARITY, DEVICE})  # a CNN's layer
        + (AVG_POOL_EXCLUDING_PAD if name == "avg_pool2d" else []),
        call=call, kinks=POOL_TIES if name == "max_pool2d" else (),
        errors=(AVG_POOL_ERRORS if name == "avg_pool2d" else []) + [
            bad(f"{name}: input must be 4-D (N, C, H, W), got shape (3, 5, 5)", (3, 5, 5), kernel_size=2,
                form="function"),
            *[bad(f"{name}: kernel_size must be an int >= 1 or a pair of them, got {k!r}", (1, 1, 5, 5),
                  kernel_size=k, form="function") for k in [0, (2, 0), 2.0, (2, 2, 2), None]],
            *[bad(f"{name}: stride must be an int >= 1 or a pair of them, got {s!r}", (1, 1, 5, 5),
                  kernel_size=2, stride=s, form="function") for s in STRIDES_MISSING_ONE],
            bad(f"{name}: padding must be an int >= 0 or a pair of them, got -1", (1, 1, 5, 5), kernel_size=2,
                padding=-1, form="function"),
            bad(f"{name}: padding (2, 1) must be at most half of kernel_size (3, 3)", (1, 1, 5, 5),
                kernel_size=3, padding=(2, 1), form="function"),
            bad(f"{name}: kernel (6, 6) is larger than the padded input (5, 5)", (1, 1, 5, 5), kernel_size=6,
                form="module"),
            bad(f"{name}: ceil_mode=True is not supported", (1, 1, 5, 5), kernel_size=2, ceil_mode=True,
                form="module", error=NotImplementedError),
        ])


AVG_POOL2D, MAX_POOL2D = pooling("avg_pool2d", "AvgPool2d"), pooling("max_pool2d", "MaxPool2d")


# --- activations, linear, loss ---------------------------------------------------------------

ACTIVATION_SHAPES = [(3, 5), (2, 3, 2, 2), (3, 4, 5, 5)]
KINKS = (-1.0, 0.0, -0.0, 1.0)  # torch's derivative at 0 is the negative side's slope
SATURATION = (-700.0, -40.0, -15.0, 15.0, 40.0, 700.0)


def activation_inputs(shape):
    return [nonzero(shape, low=0.05, high=4.0)]  # no kink within reach of a finite difference


LEAKY_RELU = Op("leaky_relu", activation_inputs,
                grid(shape=ACTIVATION_SHAPES) + grid(shape=ACTIVATION_SHAPES, negative_slope=[0.2, -0.3, 1.5]),
                kinks=KINKS, extremes=SATURATION)
RELU = Op("relu", activation_inputs, grid(shape=ACTIVATION_SHAPES), kinks=KINKS, extremes=SATURATION)
TANH = Op("tanh", activation_inputs, grid(shape=ACTIVATION_SHAPES), extremes=SATURATION)
SIGMOID = Op("sigmoid", activation_inputs, grid(shape=ACTIVATION_SHAPES), extremes=SATURATION)

LINEAR = Op(
    "linear", lambda shape, bias=True, features=(3, 5): [shape, features[::-1], features[1:] if bias else None],
    grid(shape=[(4, 3), (2, 3, 3), (3,)], bias=[True, False]) + case(shape=(6, 7), features=(7, 5)),
    errors=[bad("linear: input (4, 3) does not match weight (2, 5)", (4, 3), (2, 5)),
            bad("linear: bias must have shape (2,), got (3,)", (4, 5), (2, 5), (3,))])

BCE_WITH_LOGITS = Op(
    "binary_cross_entropy_with_logits",
    lambda shape, scale=1.0, logits=None: [fixed(logits) if logits else normal(shape, scale), uniform(shape)],
    grid(shape=[(6, 1), (8, 1), (2, 3, 2)], scale=[1.0, 3.0, 40.0])
    + grid(shape=[(6, 1), (2, 3, 2)], scale=[3.0], reduction=["sum", "none"])
    + case(shape=(40,))
    # The overflow-free branches of softplus and sigmoid, also by finite differences.
    + case(shape=(2, 3), logits=[[-30.0, 30.0, -12.5], [12.5, 0.3, -0.7]]),
    extremes=(-100.0, -30.0, -12.5, 0.0, 12.5, 30.0, 100.0),
    errors=[bad("target shape (4,) does not match input shape (4, 1)", (4, 1), (4,)),
            bad("binary_cross_entropy_with_logits: 'elementwise' is not a valid value for reduction", (3,), (3,),
                reduction="elementwise"),
            bad("binary_cross_entropy_with_logits: pos_weight is not supported", (3,), (3,), pos_weight=(3,),
                error=NotImplementedError)])


# --- tensor arithmetic -----------------------------------------------------------------------
# The cupy backend runs these through CuPy's own functions: the device check takes a few cases.

BROADCAST_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((1, 4), (3, 1)), ((), (2, 3))]
# Both orders, and a Python number on either side (radd, rsub, rmul, rtruediv).
OPERANDS = BROADCAST_PAIRS + [(b, a) for a, b in BROADCAST_PAIRS if a != b] + [((3, 2), 2.5), (2.5, (3, 2))]


def operands(shapes):
    """The left operand, and the right one kept away from 0 (it may be a divisor)."""
    left, right = shapes
    return [left, nonzero(right, low=0.5, high=2.0) if isinstance(right, tuple) else right]


def binary(name, operator):
    return Op(name, operands, grid(shapes=OPERANDS, checks=HOST) + case(shapes=OPERANDS[2], checks={DEVICE}),
              call=lambda F, a, b: operator(a, b),
              errors=[bad("inputs mix dtypes (float32 (2, 3), float64 (3,))", (2, 3), ones(3), error=TypeError)])


ADD = binary("add", lambda a, b: a + b)
SUB = binary("sub", lambda a, b: a - b)
MUL = binary("mul", lambda a, b: a * b)
DIV = binary("div", lambda a, b: a / b)
NEG = Op("neg", lambda shape: [shape], grid(shape=[(3, 2), (2, 3, 4)]), call=lambda F, a: -a)

MATMUL = Op(
    "matmul", lambda shapes: shapes,
    grid(shapes=[((3, 4), (4, 2)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (1, 4, 2)), ((3, 4), (2, 4, 3)),
                 ((2, 1, 2, 3), (3, 3, 2))], form=["operator", "function"], checks=HOST)
    + case(shapes=((2, 3, 4), (1, 4, 2)), form="operator", checks={DEVICE}),
    call=lambda F, a, b, form: a @ b if form == "operator" else F.matmul(a, b),
    errors=[bad("matmul: cannot multiply shapes (2, 3) and (4, 5)", (2, 3), (4, 5), form="operator")])

# Graphs: leaves and an intermediate result used several times (diamonds: their gradients add up),
# and a chain of every arithmetic op with broadcasting.
def diamonds(F, a, b):
    h = a * b
    return F.tanh(h) + h @ b - a / (h * h + 1)


DIAMOND = Op("diamond", lambda: [nonzero((3, 3), low=0.5, high=2.0), (3, 3)], case(), call=diamonds)
ARITHMETIC_CHAIN = Op("arithmetic_chain", lambda: [(3, 4, 5), (4, 5)], case(),
                      call=lambda F, a, b: ((a * b - b / (a * a + 1)) @ b.reshape(5, 4)).sum(0) + (-a).mean())

OPS = [CONV2D, CONV_TRANSPOSE2D, BATCH_NORM, BATCH_NORM_LEAKY_RELU, AVG_POOL2D, MAX_POOL2D, LEAKY_RELU, RELU, TANH,
       SIGMOID, LINEAR, BCE_WITH_LOGITS, ADD, SUB, MUL, DIV, NEG, MATMUL, DIAMOND, ARITHMETIC_CHAIN]
