"""The cross-entropy kernels on every backend against the NumPy reference, and the reference
against the loss written out from its definition (log_softmax by logs of sums of exps)."""
import numpy
import pytest

from minigan.kernels import cross_entropy

RTOL = {numpy.float32: 2e-6, numpy.float64: 1e-13}
IGNORED = -100


def rows(rng, n, classes, dtype, ignored=2):
    logits = (rng.standard_normal((n, classes)) * 3).astype(dtype)
    target = rng.integers(0, classes, size=n)
    target[:ignored] = IGNORED
    weight = rng.uniform(0.5, 2.0, size=classes).astype(dtype)
    return logits, target, weight


def close(actual, expected, dtype, what):
    numpy.testing.assert_allclose(actual, expected, rtol=RTOL[dtype], atol=RTOL[dtype] * numpy.abs(expected).max(),
                                  err_msg=what)


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
@pytest.mark.parametrize("n, classes, smoothing", [(7, 5, 0.0), (9, 3, 0.2), (300, 11, 0.1), (1, 1, 0.0)])
def test_kernels_match_the_reference(kernel_backend, rng, dtype, n, classes, smoothing):
    logits, target, weight = rows(rng, n, classes, dtype, ignored=min(2, n - 1))
    coef = rng.standard_normal(n).astype(dtype)
    put, get, table = kernel_backend.put, kernel_backend.get, kernel_backend.table
    got = [get(a) for a in
           table.cross_entropy_forward(put(logits), put(target), put(weight), IGNORED, smoothing)]
    expected = cross_entropy.cross_entropy_forward_reference(logits, target, weight, IGNORED, smoothing)
    for what, a, b in zip(("logp", "terms", "w_t"), got, expected):
        assert a.dtype == dtype and a.shape == b.shape
        close(a, b, dtype, what)
    grad = get(table.cross_entropy_backward(put(expected[0]), put(target), put(weight), put(coef), IGNORED, smoothing))
    expected_grad = cross_entropy.cross_entropy_backward_reference(expected[0], target, weight, coef, IGNORED,
                                                                   smoothing)
    assert grad.dtype == dtype
    close(grad, expected_grad, dtype, "grad")
    assert (grad[target == IGNORED] == 0).all()


def test_reference_is_the_definition(rng):
    logits, target, weight = rows(rng, 6, 4, numpy.float64)
    eps = 0.3
    logp, terms, w_t = cross_entropy.cross_entropy_forward_reference(logits, target, weight, IGNORED, eps)
    for i in range(6):
        log_probs = [logits[i, c] - numpy.log(sum(numpy.exp(logits[i, k]) for k in range(4))) for c in range(4)]
        numpy.testing.assert_allclose(logp[i], log_probs, rtol=1e-12)
        if target[i] == IGNORED:
            assert terms[i] == 0 and w_t[i] == 0
            continue
        t = target[i]
        expected = -(1 - eps) * weight[t] * log_probs[t] - eps / 4 * sum(weight[c] * log_probs[c] for c in range(4))
        numpy.testing.assert_allclose(terms[i], expected, rtol=1e-12)
        assert w_t[i] == weight[t]


def test_large_logits_do_not_overflow(kernel_backend):
    logits = numpy.array([[1e4, -1e4, 0.0], [700.0, 700.0, -700.0]], numpy.float32)
    logp, terms, _ = kernel_backend.table.cross_entropy_forward(
        kernel_backend.put(logits), kernel_backend.put(numpy.array([1, 0])),
        kernel_backend.put(numpy.ones(3, numpy.float32)), IGNORED, 0.0)
    # log 2 comes out of 700 + log 2 in float32, whose spacing there is 6e-5
    numpy.testing.assert_allclose(kernel_backend.get(terms), [2e4, numpy.log(2)], rtol=1e-6, atol=1e-4)
    assert numpy.isfinite(kernel_backend.get(logp)).all()


def test_mismatched_shapes_are_refused(kernel_backend):
    with pytest.raises(ValueError, match=r"expected rows \(n, C\), targets \(n,\) and weights \(C,\), got "
                                         r"\(2, 3\), \(3,\) and \(3,\)"):
        kernel_backend.table.cross_entropy_forward(kernel_backend.put(numpy.zeros((2, 3), numpy.float32)),
                                                   kernel_backend.put(numpy.zeros(3, numpy.int64)),
                                                   kernel_backend.put(numpy.ones(3, numpy.float32)), IGNORED, 0.0)
