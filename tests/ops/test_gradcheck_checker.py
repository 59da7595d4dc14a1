"""The gradient checker itself: it must fail on wrong backwards, naming the input and where.

A checker that passed everything would let every gradient check in test_op_gradcheck.py pass;
here it is fed deliberately wrong backwards, in both its elementwise and directional modes.
"""
import numpy
import pytest

import minigan
from minigan import Function, GradcheckError, Tensor, gradcheck


@pytest.fixture
def leaf(xp):
    """leaf(array): a float64 Tensor on xp that requires grad."""
    return lambda array: Tensor(xp.asarray(numpy.asarray(array, dtype=numpy.float64)), requires_grad=True)


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


class Cube(Function):
    """y = x**3 with a right first-order backward; backward_graph is right, wrong in x (a wrong
    second derivative) or wrong in the upstream gradient (it detaches it, a constant to S)."""

    def __init__(self, mode):
        self.mode = mode

    def forward(self, x):
        self.x = x
        return x ** 3

    def backward(self, grad):
        return 3 * self.x ** 2 * grad

    def backward_graph(self, grad):
        x = self.inputs[0]
        if self.mode == "wrong in x":
            return 3 * x * grad
        if self.mode == "wrong in the upstream gradient":
            return 3 * x * x * Tensor(grad.data)
        return 3 * x * x * grad


@pytest.mark.parametrize("mode, words", [("wrong in x", "input 0"),
                                         ("wrong in the upstream gradient", "input 1")])
def test_wrong_double_backward_is_caught(xp, leaf, mode, words):
    """gradgradcheck differentiates S(x, u) = <d<f(x), u>/dx, p>: a wrong second derivative shows
    in x (its input 0), a backward_graph that drops the upstream gradient's dependence in u (1)."""
    x = leaf([0.5, -1.2, 2.0, 0.7])
    assert minigan.gradgradcheck(lambda x: Cube("right")(x), [x])
    with pytest.raises(GradcheckError, match=words):
        minigan.gradgradcheck(lambda x: Cube(mode)(x), [x])
