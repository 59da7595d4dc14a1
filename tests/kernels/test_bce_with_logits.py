"""The BCE-with-logits kernels (kernels/bce_with_logits.py) on every backend: the elementwise
terms and their gradient against NumPy's float64 formulas, the fused mean against the loss
written out in float64 with Python's math (log1p, exp) term by term."""
import math

import numpy
import pytest

DTYPES = [numpy.float32, numpy.float64]


@pytest.mark.parametrize("dtype", DTYPES)
def test_terms_and_their_gradient(kernel_backend, dtype):
    k = kernel_backend
    rng = numpy.random.default_rng(3)
    x = numpy.concatenate([rng.standard_normal(600) * 4, [-800, -100, -20, 0, 20, 100, 800]]).astype(dtype)
    t = rng.uniform(size=x.shape).astype(dtype)
    x64, t64 = x.astype(numpy.float64), t.astype(numpy.float64)
    with numpy.errstate(over="ignore"):  # exp(800) is inf in float64 too: 1 / (1 + inf) = 0, right
        sigmoid = 1 / (1 + numpy.exp(-x64))
        expected = numpy.log(1 + numpy.exp(x64)) - x64 * t64
    expected = numpy.where(numpy.isinf(expected), x64 * (1 - t64), expected)  # softplus(x) = x, large x
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == numpy.float32 else dict(rtol=1e-12, atol=1e-14)
    terms = k.get(k.table.bce_with_logits_terms(k.put(x), k.put(t)))
    assert numpy.isfinite(terms).all()
    numpy.testing.assert_allclose(terms, expected, **tol)
    grad = k.put(numpy.asarray(0.5, dtype=dtype))
    numpy.testing.assert_allclose(k.get(k.table.bce_with_logits_backward(k.put(x), k.put(t), grad, x.size)),
                                  0.5 * (sigmoid - t64) / x.size, **tol)


def loss_and_gradient_by_definition(x, t):
    """The mean of softplus(x) - x*t and (sigmoid(x) - t) / n, one element at a time in float64."""
    terms, grad = [], []
    for v, target in zip(x.ravel().tolist(), t.ravel().tolist()):
        softplus = v + math.log1p(math.exp(-v)) if v > 0 else math.log1p(math.exp(v))
        sigmoid = 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))
        terms.append(softplus - v * target)
        grad.append((sigmoid - target) / x.size)
    return math.fsum(terms) / x.size, numpy.array(grad).reshape(x.shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (7, 1), (128, 1), (3, 300)])  # 900 > one pass of the block
def test_loss_and_gradient_in_one_pass(kernel_backend, dtype, shape):
    k = kernel_backend
    rng = numpy.random.default_rng(sum(shape))
    x = (rng.standard_normal(shape) * 6).astype(dtype)
    x.flat[:3] = [-800, 40, 0][:x.size]  # exp's overflow-free branches, where n allows
    t = rng.uniform(size=shape).astype(dtype)
    loss, grad = k.table.bce_with_logits_mean(k.put(x), k.put(t))
    loss, grad = k.get(loss), k.get(grad)
    assert loss.shape == () and loss.dtype == dtype and grad.shape == shape and grad.dtype == dtype
    expected_loss, expected_grad = loss_and_gradient_by_definition(x.astype(numpy.float64), t.astype(numpy.float64))
    tol = dict(rtol=2e-6, atol=1e-7 / x.size) if dtype == numpy.float32 else dict(rtol=1e-13, atol=1e-16)
    numpy.testing.assert_allclose(loss, expected_loss, **tol)
    numpy.testing.assert_allclose(grad, expected_grad, **tol)


def test_the_loss_is_the_same_on_every_run(kernel_backend):
    k = kernel_backend
    x = k.put(numpy.random.default_rng(1).standard_normal(1000).astype(numpy.float32))
    t = k.put(numpy.full(1000, 0.3, numpy.float32))
    first = k.get(k.table.bce_with_logits_mean(x, t)[0])
    assert all(k.get(k.table.bce_with_logits_mean(x, t)[0]) == first for _ in range(3))


def test_a_target_unlike_x_is_refused(kernel_backend):
    k = kernel_backend
    with pytest.raises(ValueError, match=r"target is float32 \(3,\), expected x's float32 \(3, 1\)"):
        k.table.bce_with_logits_mean(k.put(numpy.zeros((3, 1), numpy.float32)), k.put(numpy.zeros(3, numpy.float32)))
