"""Every op's backward against float64 finite differences (minigan.gradcheck), and the checker itself.

gradcheck differentiates sum(fn(x) * u) with a random upstream gradient u
(never all-ones), element by element for small inputs and along random
directions for inputs larger than `elementwise_limit`. The last section
feeds it deliberately wrong backwards and expects GradcheckError naming the
input, so a checker that passes everything would fail here.
"""
import itertools

import numpy
import pytest

import minigan
from minigan import Function, GradcheckError, Tensor, gradcheck, nn
from minigan import functional as F

f64 = numpy.float64


@pytest.fixture(autouse=True)
def one_kernel_thread():
    """Gradchecks launch the Numba kernels hundreds of times on tiny arrays, where waking a
    thread pool costs more than the work (milliseconds on a busy 2-core machine). The
    parallel launches themselves are tested in tests/kernels/ and test_parity.py."""
    numba = pytest.importorskip("numba")
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(previous)


@pytest.fixture
def leaf(xp):
    """leaf(array): a float64 Tensor on xp that requires grad (None stays None)."""
    def make(array):
        if array is None:
            return None
        return Tensor(xp.asarray(numpy.asarray(array, dtype=f64)), requires_grad=True)
    return make


def device_of(xp):
    return "cpu" if xp is numpy else "cuda"


# --- convolution -----------------------------------------------------------

CONV_SHAPES = [(1, 2, 5, 4), (2, 1, 4, 6)]  # (N, C, H, W): a batch of 1, and H != W both ways


@pytest.mark.parametrize("shape", CONV_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("padding", [0, 1])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("kernel", [1, 3, 4])
def test_conv2d(xp, rng, leaf, shape, kernel, stride, padding, bias):
    n, c, h, w = shape
    x = leaf(rng.standard_normal(shape))
    weight = leaf(rng.standard_normal((3, c, kernel, kernel)))
    b = leaf(rng.standard_normal(3) if bias else None)
    assert gradcheck(lambda x, weight, b: F.conv2d(x, weight, b, stride, padding), [x, weight, b])


@pytest.mark.parametrize("kernel,stride,padding", [
    ((3, 2), (2, 1), (1, 0)),
    ((2, 3), (1, 2), (0, 1)),
    ((1, 4), (2, 2), (1, 1)),
])
def test_conv2d_rectangular_kernel_stride_padding(xp, rng, leaf, kernel, stride, padding):
    x = leaf(rng.standard_normal((2, 2, 5, 6)))
    weight = leaf(rng.standard_normal((2, 2, *kernel)))
    b = leaf(rng.standard_normal(2))
    assert gradcheck(lambda x, weight, b: F.conv2d(x, weight, b, stride, padding), [x, weight, b])


CONVT_SETTINGS = [(s, p, q) for s, p, q in itertools.product([1, 2], [0, 1], [0, 1]) if q < s]


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("kernel", [3, 4])
@pytest.mark.parametrize("stride,padding,output_padding", CONVT_SETTINGS)
def test_conv_transpose2d(xp, rng, leaf, stride, padding, output_padding, kernel, bias):
    x = leaf(rng.standard_normal((2, 2, 3, 2)))  # H != W
    weight = leaf(rng.standard_normal((2, 3, kernel, kernel)))  # (in, out, kh, kw)
    b = leaf(rng.standard_normal(3) if bias else None)

    def fn(x, weight, b):
        return F.conv_transpose2d(x, weight, b, stride, padding, output_padding)
    assert gradcheck(fn, [x, weight, b])


def test_conv_transpose2d_batch_of_one_rectangular(xp, rng, leaf):
    x = leaf(rng.standard_normal((1, 3, 2, 3)))
    weight = leaf(rng.standard_normal((3, 2, 3, 2)))
    b = leaf(rng.standard_normal(2))

    def fn(x, weight, b):
        return F.conv_transpose2d(x, weight, b, stride=(2, 1), padding=(1, 0), output_padding=(1, 0))
    assert gradcheck(fn, [x, weight, b])


def test_conv2d_large_input_uses_directions(xp, rng, leaf):
    """The input (2*3*12*11 = 792 values) is over elementwise_limit=512: checked along directions."""
    x = leaf(rng.standard_normal((2, 3, 12, 11)))
    weight = leaf(rng.standard_normal((2, 3, 3, 3)))
    b = leaf(rng.standard_normal(2))
    assert x.size > 512
    assert gradcheck(lambda x, weight, b: F.conv2d(x, weight, b, 2, 1), [x, weight, b], directions=8)


# --- batch normalization -----------------------------------------------------

@pytest.mark.parametrize("affine", ["weight_and_bias", "weight_none"])
@pytest.mark.parametrize("shape", [(3, 2, 2, 3), (1, 3, 3, 2)], ids=["3x2x2x3", "batch1"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batch_norm(xp, rng, leaf, shape, training, affine):
    c = shape[1]
    x = leaf(rng.standard_normal(shape) * 2 + 0.5)
    weight = leaf(rng.uniform(0.5, 2.0, c) * rng.choice([-1, 1], c)) if affine == "weight_and_bias" else None
    bias = leaf(rng.standard_normal(c)) if affine == "weight_and_bias" else None
    running_mean = xp.asarray(rng.standard_normal(c))
    running_var = xp.asarray(rng.uniform(0.5, 2.0, c))

    def fn(x, weight, bias):
        return F.batch_norm(x, running_mean, running_var, weight, bias, training=training,
                            momentum=0.1, eps=1e-5)
    assert gradcheck(fn, [x, weight, bias])


def test_batch_norm_bias_only(xp, rng, leaf):
    x = leaf(rng.standard_normal((2, 2, 3, 2)))
    bias = leaf(rng.standard_normal(2))
    assert gradcheck(lambda x, bias: F.batch_norm(x, None, None, None, bias, training=True), [x, bias])


# --- activations, linear, loss ----------------------------------------------

@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 2, 2)], ids=["2d", "4d"])
@pytest.mark.parametrize("op", [
    pytest.param(lambda x: F.leaky_relu(x), id="leaky_relu_default"),
    pytest.param(lambda x: F.leaky_relu(x, 0.2), id="leaky_relu_0.2"),
    pytest.param(lambda x: F.leaky_relu(x, -0.3), id="leaky_relu_-0.3"),
    pytest.param(F.relu, id="relu"),
    pytest.param(F.tanh, id="tanh"),
    pytest.param(F.sigmoid, id="sigmoid"),
])
def test_activation(xp, rng, leaf, nonzero, op, shape):
    x = leaf(nonzero(rng, shape, low=0.1, high=3.0))  # no kink within eps of any input
    assert gradcheck(op, [x])


@pytest.mark.parametrize("in_shape", [(4, 3), (2, 3, 3), (3,)], ids=["2d", "3d", "1d"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_linear(xp, rng, leaf, in_shape, bias):
    x = leaf(rng.standard_normal(in_shape))
    weight = leaf(rng.standard_normal((5, 3)))
    b = leaf(rng.standard_normal(5) if bias else None)
    assert gradcheck(F.linear, [x, weight, b])


@pytest.mark.parametrize("shape", [(6, 1), (2, 3, 2)])
def test_binary_cross_entropy_with_logits_input_and_target(xp, rng, leaf, shape):
    x = leaf(rng.standard_normal(shape) * 3)
    target = leaf(rng.uniform(0.05, 0.95, shape))
    assert gradcheck(F.binary_cross_entropy_with_logits, [x, target])


def test_binary_cross_entropy_with_logits_large_logits(xp, rng, leaf):
    """Logits of +-30 exercise the overflow-free branch of softplus and sigmoid."""
    x = leaf(numpy.array([[-30.0, 30.0, -12.5], [12.5, 0.3, -0.7]]))
    target = Tensor(xp.asarray(rng.uniform(0, 1, (2, 3))))
    assert gradcheck(F.binary_cross_entropy_with_logits, [x, target])


# --- tensor arithmetic --------------------------------------------------------

BROADCAST_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((1, 4), (3, 1)), ((), (2, 3))]


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=lambda s: f"{s[0]}-{s[1]}")
@pytest.mark.parametrize("op", [
    pytest.param(lambda a, b: a + b, id="add"),
    pytest.param(lambda a, b: a - b, id="sub"),
    pytest.param(lambda a, b: a * b, id="mul"),
    pytest.param(lambda a, b: a / b, id="div"),
])
def test_binary_op_broadcasting(xp, rng, leaf, nonzero, op, shapes):
    a = leaf(rng.standard_normal(shapes[0]))
    b = leaf(nonzero(rng, shapes[1], low=0.5, high=2.0))  # the divisor stays away from 0
    assert gradcheck(op, [a, b])
    assert gradcheck(lambda b, a: op(b, a), [b, leaf(nonzero(rng, shapes[0], 0.5, 2.0))])


@pytest.mark.parametrize("op", [
    pytest.param(lambda a: a * 2.5 - 1, id="scalar_mul_sub"),
    pytest.param(lambda a: 3 / a + 2, id="scalar_rdiv_radd"),
    pytest.param(lambda a: 1 - a / 4, id="scalar_rsub_div"),
    pytest.param(lambda a: -a, id="neg"),
    pytest.param(lambda a: -(a * a), id="neg_of_square"),
])
def test_unary_and_scalar_ops(xp, rng, leaf, nonzero, op):
    assert gradcheck(op, [leaf(nonzero(rng, (3, 2), low=0.5, high=2.0))])


@pytest.mark.parametrize("shapes", [((3, 4), (4, 2)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (1, 4, 2)),
                                    ((3, 4), (2, 4, 3))],
                         ids=["2d", "batched-2d", "batch-broadcast", "2d-batched"])
def test_matmul(xp, rng, leaf, shapes):
    a, b = leaf(rng.standard_normal(shapes[0])), leaf(rng.standard_normal(shapes[1]))
    assert gradcheck(lambda a, b: a @ b, [a, b])
    assert gradcheck(F.matmul, [a, b])


@pytest.mark.parametrize("fn", [
    pytest.param(lambda a: a.reshape(6, 4), id="reshape_args"),
    pytest.param(lambda a: a.reshape((4, -1)), id="reshape_tuple_minus1"),
    pytest.param(lambda a: F.reshape(a, 2, 12), id="F.reshape"),
    pytest.param(lambda a: F.flatten(a), id="flatten"),
    pytest.param(lambda a: F.flatten(a, 2), id="flatten_2"),
])
def test_reshape(xp, rng, leaf, fn):
    assert gradcheck(fn, [leaf(rng.standard_normal((2, 3, 2, 2)))])


REDUCTIONS = [(None, False), (0, False), (1, True), (-1, False), (-2, True), ((0, 2), False),
              ((0, 2), True), ((1, -1), False)]


@pytest.mark.parametrize("dim,keepdim", REDUCTIONS, ids=[f"dim{d}-keep{k}" for d, k in REDUCTIONS])
@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_reductions(xp, rng, leaf, reduce, dim, keepdim):
    a = leaf(rng.standard_normal((2, 3, 4)))
    as_method = lambda a: getattr(a, reduce)(dim, keepdim)  # noqa: E731
    as_function = lambda a: getattr(F, reduce)(a, dim=dim, keepdim=keepdim)  # noqa: E731
    assert gradcheck(as_method, [a])
    assert gradcheck(as_function, [a])


def test_tensor_used_twice(xp, rng, leaf, nonzero):
    """A diamond: a feeds two branches whose results meet again."""
    a = leaf(nonzero(rng, (3, 3), low=0.5, high=2.0))
    b = leaf(rng.standard_normal((3, 3)))
    assert gradcheck(lambda a, b: F.tanh(a * b) + a @ b - a / (b * b + 1), [a, b])


# --- small GAN modules end to end -------------------------------------------

def _module_check(module, x, xp, leaf):
    params = list(module.parameters())
    assert all(p.dtype == f64 for p in params)
    assert gradcheck(lambda x, *params: module(x), [x, *params])


def test_generator_end_to_end(xp, leaf):
    rng = numpy.random.default_rng(20240607)
    minigan.manual_seed(5)
    g = nn.Sequential(nn.ConvTranspose2d(3, 4, 3, 1, 0), nn.BatchNorm2d(4), nn.ReLU(),
                      nn.ConvTranspose2d(4, 1, 4, 2, 1), nn.Tanh())
    g.to(device=device_of(xp), dtype=f64)
    z = leaf(rng.standard_normal((2, 3, 1, 1)))
    pre_relu = g[1](g[0](z)).numpy()
    assert numpy.abs(pre_relu).min() > 1e-3, "test data: keep ReLU inputs away from 0"
    assert g(z).shape == (2, 1, 6, 6)
    _module_check(g, z, xp, leaf)


def test_discriminator_end_to_end(xp, leaf):
    rng = numpy.random.default_rng(31337)
    minigan.manual_seed(6)
    d = nn.Sequential(nn.Conv2d(1, 2, 3, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(2, 4, 3, 2, 1),
                      nn.BatchNorm2d(4), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(16, 1))
    d.to(device=device_of(xp), dtype=f64)
    x = leaf(rng.standard_normal((3, 1, 7, 6)))
    h1 = d[0](x)
    h2 = d[3](d[2](d[1](h1)))
    for h in (h1, h2):
        assert numpy.abs(h.numpy()).min() > 1e-4, "test data: keep LeakyReLU inputs away from 0"
    assert d(x).shape == (3, 1)
    _module_check(d, x, xp, leaf)


# --- the checker checks: wrong backwards must be caught ---------------------

class Scale(Function):
    """y = 3x, with a backward that multiplies by `factor` (3 is right)."""

    def __init__(self, factor):
        self.factor = factor

    def forward(self, x):
        return 3 * x

    def backward(self, grad):
        return self.factor * grad


class SquarePlusX(Function):
    """y = x*x + x; the wrong backward forgets the `+ x` term's gradient."""

    def __init__(self, correct):
        self.correct = correct

    def forward(self, x):
        self.x = x
        return x * x + x

    def backward(self, grad):
        return grad * (2 * self.x + 1) if self.correct else grad * 2 * self.x


class Product(Function):
    """y = a * b; the wrong backward gives b the gradient meant for a."""

    def __init__(self, correct):
        self.correct = correct

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, grad):
        return grad * self.b, grad * (self.a if self.correct else self.b)


class Standardize(Function):
    """Batchnorm without the affine part: each column to zero mean, unit variance.

    The exact input gradient is (g - mean(g) - x_hat * mean(g * x_hat)) / std.
    `omit` drops one of the two batch-statistics terms: "mean" (the mean-subtraction
    term, mean(g)) or "variance" (the projection on x_hat). Against an all-ones
    upstream gradient, the variance-term bug is invisible: the true gradient of
    sum(x_hat) is 0, and so is the wrong formula's (mean(x_hat) = 0).
    """

    def __init__(self, omit=None):
        self.omit = omit

    def forward(self, x):
        xp = minigan.backend.array_module(x)
        self.inv_std = 1 / xp.sqrt(x.var(axis=0) + 1e-5)
        self.x_hat = (x - x.mean(axis=0)) * self.inv_std
        return self.x_hat

    def backward(self, g):
        grad = g.copy()
        if self.omit != "mean":
            grad -= g.mean(axis=0)
        if self.omit != "variance":
            grad -= self.x_hat * (g * self.x_hat).mean(axis=0)
        return grad * self.inv_std


def _all_ones_check(fn, x, eps=1e-6):
    """The weak check (DeZero's): backward of sum(fn(x)) against finite differences of it."""
    x.grad = None
    fn(x).backward(minigan.backend.array_module(x.data).ones(fn(x).shape))
    analytic = minigan.backend.to_numpy(x.grad)
    numeric = numpy.empty(x.shape)
    for idx in numpy.ndindex(*x.shape):
        original = x.data[idx].item()
        x.data[idx] = original + eps
        plus = float(fn(x).data.sum())
        x.data[idx] = original - eps
        minus = float(fn(x).data.sum())
        x.data[idx] = original
        numeric[idx] = (plus - minus) / (2 * eps)
    return numpy.allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


WRONG = [
    pytest.param(lambda x: Scale(3.03)(x), lambda x: Scale(3)(x), id="off-by-1%"),
    pytest.param(lambda x: SquarePlusX(False)(x), lambda x: SquarePlusX(True)(x), id="missing-term"),
    pytest.param(lambda x: Standardize("mean")(x), lambda x: Standardize()(x), id="bn-without-mean-term"),
    pytest.param(lambda x: Standardize("variance")(x), lambda x: Standardize()(x),
                 id="bn-without-variance-term"),
]
MODES = [pytest.param(dict(), "elements differ", id="elementwise"),
         pytest.param(dict(elementwise_limit=0), "along random direction", id="directional")]


@pytest.mark.parametrize("mode,words", MODES)
@pytest.mark.parametrize("wrong,right", WRONG)
def test_wrong_backward_is_caught(xp, rng, leaf, wrong, right, mode, words):
    x = leaf(rng.standard_normal((5, 3)))
    assert gradcheck(right, [x], **mode)  # the same op with a correct backward passes...
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(5, 3\)\)") as failure:
        gradcheck(wrong, [x], **mode)  # ...and the wrong one does not
    assert words in str(failure.value)


def test_bn_variance_bug_fools_an_all_ones_check_but_not_gradcheck(xp, rng, leaf):
    """Why the upstream gradient must be random: ones hide a wrong batchnorm backward."""
    x = leaf(rng.standard_normal((5, 3)))
    assert _all_ones_check(lambda x: Standardize("variance")(x), x)
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(5, 3\)\)"):
        gradcheck(lambda x: Standardize("variance")(x), [x])


def test_wrong_backward_in_large_input_is_caught_along_directions(xp, rng, leaf):
    """An input over the default elementwise_limit (40*16 = 640 > 512) goes through directional mode."""
    x = leaf(rng.standard_normal((40, 16)))
    assert gradcheck(lambda x: Standardize()(x), [x])
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(40, 16\)\) along random direction"):
        gradcheck(lambda x: Standardize("variance")(x), [x])


@pytest.mark.parametrize("mode", [dict(), dict(elementwise_limit=0)], ids=["elementwise", "directional"])
def test_failure_names_the_wrong_input_among_several(xp, rng, leaf, mode):
    a, b = leaf(rng.standard_normal((2, 3))), leaf(rng.standard_normal((2, 3)) + 3)
    c = leaf(rng.standard_normal((4,)))
    # Only b's gradient is wrong; a (input 0) and c (input 2) are right.
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(2, 3\)\)"):
        gradcheck(lambda a, b, c: Product(False)(a, b).sum() * c, [a, b, c], **mode)


def test_elementwise_failure_reports_the_worst_index(xp, leaf):
    """Only element [1, 2] is wrong; the report must point there."""

    class OneWrongElement(Function):
        def forward(self, x):
            return 2 * x

        def backward(self, grad):
            out = 2 * grad
            out[1, 2] *= 1.5
            return out

    x = leaf(numpy.arange(12.0).reshape(3, 4))
    with pytest.raises(GradcheckError, match=r"1 of 12 elements differ; worst at index \(1, 2\)"):
        gradcheck(lambda x: OneWrongElement()(x), [x])


def test_gradcheck_refuses_float32(xp):
    x = Tensor(xp.ones((2, 2), dtype=numpy.float32), requires_grad=True)
    with pytest.raises(TypeError, match=r"float64.*float32.*\(2, 2\)"):
        gradcheck(lambda x: x * 2, [x])
