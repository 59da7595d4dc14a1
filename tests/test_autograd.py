"""The Tensor API and the backward tape: seeds, accumulation, shared inputs, depth, no_grad, dtypes.

Expected gradients here are derived by hand (d/dx of x*x is 2x, ...), not read
back from the engine.
"""
import sys

import numpy
import pytest

import minigan
from minigan import Tensor, backend, nn, no_grad
from minigan import functional as F

DTYPES = [numpy.float32, numpy.float64]


def np_(a):
    return backend.to_numpy(a.data if isinstance(a, Tensor) else a)


def test_data_is_the_backend_array(xp, tensor):
    x = tensor([[1.0, 2.0], [3.0, 4.0]])
    assert backend.array_module(x.data) is xp
    assert x.shape == (2, 2) and x.ndim == 2 and x.numel() == 4 and len(x) == 2
    assert x.device == ("cpu" if xp is numpy else "cuda")
    assert x.is_leaf and not x.requires_grad and x.grad is None
    numpy.testing.assert_array_equal(x.numpy(), [[1.0, 2.0], [3.0, 4.0]])
    assert isinstance(x.numpy(), numpy.ndarray)
    assert Tensor(numpy.float64(2.5)).item() == 2.5


def test_grad_has_the_tensor_shape_and_backend(xp, tensor):
    x = tensor(numpy.arange(6.0).reshape(2, 3), requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.shape == (2, 3)
    assert backend.array_module(x.grad) is xp
    numpy.testing.assert_array_equal(np_(x.grad), 2 * numpy.arange(6.0).reshape(2, 3))


def test_backward_without_gradient_on_a_scalar_seeds_one(xp, tensor):
    x = tensor([1.0, -2.0, 3.0], requires_grad=True)
    loss = (x * x * x).mean()  # d/dx = x^2
    assert loss.shape == ()
    loss.backward()
    numpy.testing.assert_allclose(np_(x.grad), [1.0, 4.0, 9.0], rtol=1e-6)


def test_backward_with_gradient_on_a_non_scalar(xp, tensor):
    x = tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = 3 * x - 1
    y.backward(xp.asarray([[1.0, -1.0], [0.5, 2.0]], dtype=numpy.float32))
    numpy.testing.assert_allclose(np_(x.grad), [[3.0, -3.0], [1.5, 6.0]])
    # A Tensor works as the gradient too.
    z = tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (z * z).backward(tensor([[1.0, 1.0], [0.0, -1.0]]))
    numpy.testing.assert_allclose(np_(z.grad), [[2.0, 4.0], [0.0, -8.0]])


def test_gradients_accumulate_across_backward_calls(xp, tensor):
    x = tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    numpy.testing.assert_allclose(np_(x.grad), [3 + 2, 3 + 4])


def test_backward_of_a_leaf_itself(xp, tensor):
    x = tensor([1.0, 2.0], requires_grad=True)
    x.backward(xp.asarray([5.0, 7.0], dtype=numpy.float32))
    numpy.testing.assert_array_equal(np_(x.grad), [5.0, 7.0])


def test_diamond_sums_both_paths(xp, tensor):
    """x feeds a and b, which meet again in c: dc/dx sums both paths."""
    x = tensor([0.5, -1.5, 2.0], requires_grad=True)
    a = x * 2          # da/dx = 2
    b = x * x          # db/dx = 2x
    c = a * b + a      # c = 2x^3 + 2x  ->  dc/dx = 6x^2 + 2
    c.sum().backward()
    xs = numpy.array([0.5, -1.5, 2.0])
    numpy.testing.assert_allclose(np_(x.grad), 6 * xs ** 2 + 2, rtol=1e-6)


def test_same_tensor_twice_in_one_op(xp, tensor):
    x = tensor([3.0, -4.0], requires_grad=True)
    (x + x).sum().backward()
    numpy.testing.assert_array_equal(np_(x.grad), [2.0, 2.0])
    x.grad = None
    (x.reshape(1, 2) @ x.reshape(2, 1)).backward(xp.ones((1, 1), dtype=numpy.float32))  # d(x.x)/dx = 2x
    numpy.testing.assert_array_equal(np_(x.grad), [6.0, -8.0])


def test_intermediate_used_by_many_consumers(xp, tensor):
    """One intermediate read by 50 ops: every contribution arrives once."""
    x = tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    total = h * 0
    for k in range(50):
        total = total + h * float(k)
    total.sum().backward()
    numpy.testing.assert_allclose(np_(x.grad), [2 * sum(range(50))] * 2)


def test_deep_chain_does_not_recurse(xp, tensor):
    """5000 ops in a row: backward must not hit Python's recursion limit (1000 by default)."""
    x = tensor([1.0, -2.0], requires_grad=True, dtype=numpy.float64)
    y = x
    for _ in range(2500):
        y = y * 1.0001
        y = y + 0.5
    assert sys.getrecursionlimit() < 5000
    y.sum().backward()
    numpy.testing.assert_allclose(np_(x.grad), [1.0001 ** 2500] * 2, rtol=1e-12)
    del y  # freeing the long chain must not crash either


def test_no_grad_records_nothing(xp, tensor):
    x = tensor([1.0, 2.0], requires_grad=True)
    assert minigan.is_grad_enabled()
    with no_grad():
        assert not minigan.is_grad_enabled()
        y = x * 2 + 1
        with no_grad():
            z = F.tanh(y)
        assert not minigan.is_grad_enabled()  # the inner block restores the outer state
    assert minigan.is_grad_enabled()
    for t in (y, z):
        assert not t.requires_grad and t.creator is None and t.is_leaf
    numpy.testing.assert_allclose(np_(y), [3.0, 5.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_no_grad_restores_state_after_an_exception(xp, tensor):
    with pytest.raises(ValueError):
        with no_grad():
            raise ValueError("boom")
    assert minigan.is_grad_enabled()
    x = tensor([1.0], requires_grad=True)
    assert (x * 2).requires_grad


def test_detach_cuts_the_graph(xp, tensor):
    x = tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d.grad is None
    numpy.testing.assert_array_equal(np_(d), [1.0, 4.0])
    w = tensor([3.0, 5.0], requires_grad=True)
    (w * d + x).sum().backward()
    numpy.testing.assert_array_equal(np_(w.grad), [1.0, 4.0])
    numpy.testing.assert_array_equal(np_(x.grad), [1.0, 1.0])  # only the `+ x` path, not via y


def test_inputs_without_requires_grad_get_no_gradient(xp, tensor):
    x = tensor([1.0, 2.0], requires_grad=True)
    c = tensor([4.0, 5.0])
    (x * c).sum().backward()
    assert c.grad is None
    numpy.testing.assert_array_equal(np_(x.grad), [4.0, 5.0])
    assert not (c * 2).requires_grad


def test_leaf_grad_does_not_alias_the_gradient_passed_to_backward(xp, tensor):
    """.grad is the leaf's own array, as in PyTorch: reusing the seed buffer changes nothing."""
    x = tensor([1.0, 2.0], requires_grad=True)
    seed = xp.asarray([1.0, 1.0], dtype=numpy.float32)
    (x + 0.0).backward(seed)
    seed[...] = 7.0  # the caller refills its buffer for the next backward
    numpy.testing.assert_array_equal(np_(x.grad), [1.0, 1.0])


def test_leaf_grads_do_not_alias_each_other(xp, tensor):
    """Writing into one parameter's gradient (gradient clipping does `p.grad *= scale`)
    must leave another parameter's gradient alone, as in PyTorch."""
    x = tensor([1.0, 2.0], requires_grad=True)
    w = tensor([3.0, 4.0], requires_grad=True)
    (x + w).sum().backward()
    x.grad *= 0.5
    numpy.testing.assert_array_equal(np_(x.grad), [0.5, 0.5])
    numpy.testing.assert_array_equal(np_(w.grad), [1.0, 1.0])


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("op", [
    pytest.param(lambda x: x * 2, id="mul"), pytest.param(lambda x: 2 * x, id="rmul"),
    pytest.param(lambda x: x + 1, id="add"), pytest.param(lambda x: 1.5 + x, id="radd"),
    pytest.param(lambda x: x - 1, id="sub"), pytest.param(lambda x: 1 - x, id="rsub"),
    pytest.param(lambda x: x / 2, id="div"), pytest.param(lambda x: 2 / x, id="rdiv"),
    pytest.param(lambda x: x * numpy.float64(2.0), id="numpy_scalar"),
    pytest.param(lambda x: x.mean(), id="mean"),
])
def test_python_scalars_keep_the_tensor_dtype(xp, tensor, op, dtype):
    x = tensor([1.0, 2.0, 4.0], requires_grad=True, dtype=dtype)
    y = op(x)
    assert y.dtype == dtype
    y.backward(xp.ones(y.shape, dtype=dtype))
    assert x.grad.dtype == dtype


def test_float32_is_the_default():
    assert Tensor([1.0, 2.0]).dtype == numpy.float32
    assert Tensor(3.0).dtype == numpy.float32
    for module in (nn.Conv2d(1, 2, 3), nn.ConvTranspose2d(2, 1, 4), nn.Linear(3, 2), nn.BatchNorm2d(2)):
        assert all(p.dtype == numpy.float32 for p in module.parameters())
        for name, b in module.named_buffers():
            assert b.dtype == (numpy.int64 if name == "num_batches_tracked" else numpy.float32)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_dtype_is_kept_through_every_op_and_gradient(xp, rng, dtype):
    """A small GAN forward and backward in one dtype: no output or gradient changes it."""
    minigan.manual_seed(3)
    g = nn.Sequential(nn.ConvTranspose2d(4, 3, 4, 1, 0), nn.BatchNorm2d(3), nn.ReLU(),
                      nn.ConvTranspose2d(3, 1, 4, 2, 1), nn.Tanh())
    d = nn.Sequential(nn.Conv2d(1, 2, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(2, 4, 4, 2, 1),
                      nn.BatchNorm2d(4), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(16, 1), nn.Sigmoid())
    device = "cpu" if xp is numpy else "cuda"
    for m in (g, d):
        m.to(device=device, dtype=dtype)
    z = Tensor(xp.asarray(rng.standard_normal((3, 4, 1, 1)).astype(dtype)), requires_grad=True)
    image = g(z)
    assert image.shape == (3, 1, 8, 8) and image.dtype == dtype
    out = d(image)
    target = Tensor(xp.asarray(numpy.full((3, 1), 0.9, dtype=dtype)))
    loss = F.binary_cross_entropy_with_logits(out, target) + (out * out).mean() - out.sum() / 3
    assert loss.dtype == dtype
    loss.backward()
    assert z.grad.dtype == dtype
    for module in (g, d):
        for name, p in module.named_parameters():
            assert p.grad is not None, name
            assert p.grad.dtype == dtype and backend.array_module(p.grad) is xp, name
        for name, b in module.named_buffers():
            assert b.dtype == (numpy.int64 if name.endswith("num_batches_tracked") else dtype), name
    opt = minigan.optim.Adam(list(g.parameters()) + list(d.parameters()), lr=1e-3)
    opt.step()
    assert all(p.dtype == dtype for m in (g, d) for p in m.parameters())


def test_repr_mentions_requires_grad():
    assert "requires_grad=True" in repr(Tensor([1.0], requires_grad=True))
    assert "requires_grad" not in repr(Tensor([1.0]))


def _conv_batchnorm_loss(x, weight, gamma, beta, upstream):
    y = F.batch_norm(F.conv2d(x, weight, padding=1), None, None, gamma, beta, training=True)
    return (y * upstream).sum()


def _leaf_gradients_with_and_without_homes(xp, rng, backwards):
    """The gradients of a conv weight and batchnorm's weight and bias after `backwards` backward
    passes, for leaves whose optimizer gave them a flat gradient buffer (homed) and for copies
    without one (plain)."""
    def put(shape, low=None):
        values = rng.uniform(low, 2.0, shape) if low else rng.standard_normal(shape)
        return xp.asarray(values.astype(numpy.float32))

    x, upstream = put((2, 3, 5, 5)), put((2, 4, 5, 5))
    start = [put((4, 3, 3, 3)), put((4,), low=0.5), put((4,))]
    homed = [Tensor(a.copy(), requires_grad=True) for a in start]
    plain = [Tensor(a.copy(), requires_grad=True) for a in start]
    minigan.optim.Adam(homed)  # flattens them: each gets a view of one gradient buffer
    for params in (homed, plain):
        for _ in range(backwards):
            _conv_batchnorm_loss(Tensor(x), *params, Tensor(upstream)).backward()
    return homed, plain


@pytest.mark.parametrize("backwards", [1, 2])
def test_kernels_write_parameter_gradients_into_their_homes(xp, rng, backwards):
    """Function.grad_target: the convolution's weight gradient and batchnorm's weight and bias
    gradients are written by their kernels straight into the optimizer's gradient buffer (no
    copy: p.grad is p.grad_buffer), and a second backward adds into it. The values are those
    of leaves without a buffer, whose gradients autograd copies and then adds."""
    homed, plain = _leaf_gradients_with_and_without_homes(xp, rng, backwards)
    for h, p in zip(homed, plain):
        assert h.grad is h.grad_buffer
        numpy.testing.assert_array_equal(np_(h.grad), np_(p.grad))


def test_kernels_write_parameter_gradients_into_their_homes_on_the_emulated_gpu(emulated_cupy, rng):
    homed, plain = _leaf_gradients_with_and_without_homes(emulated_cupy, rng, 2)
    for h, p in zip(homed, plain):
        assert h.grad is h.grad_buffer
        numpy.testing.assert_array_equal(np_(h.grad), np_(p.grad))


def test_a_leaf_passed_twice_to_one_op_gets_both_gradients(xp, rng):
    """batch_norm(x, weight=w, bias=w): the op may not write w's two gradients into w's one
    buffer (the second would overwrite the first); w.grad is their sum."""
    x = Tensor(xp.asarray(rng.standard_normal((3, 2, 2, 2)).astype(numpy.float32)))
    upstream = Tensor(xp.asarray(rng.standard_normal((3, 2, 2, 2)).astype(numpy.float32)))
    start = xp.asarray(numpy.array([1.5, 0.5], numpy.float32))
    w = Tensor(start.copy(), requires_grad=True)
    minigan.optim.SGD([w], lr=0.1)  # w.grad_buffer
    (F.batch_norm(x, None, None, w, w, training=True) * upstream).sum().backward()
    as_weight, as_bias = Tensor(start.copy(), requires_grad=True), Tensor(start.copy(), requires_grad=True)
    (F.batch_norm(x, None, None, as_weight, as_bias, training=True) * upstream).sum().backward()
    numpy.testing.assert_allclose(np_(w.grad), np_(as_weight.grad) + np_(as_bias.grad), rtol=1e-6)


@pytest.mark.parametrize("layout", ["nchw", "batch_innermost"])
def test_a_leafs_grad_is_laid_out_as_the_leaf(layout):
    """torch's layout contract for .grad: the strides of the tensor, whatever layout the
    gradient arrived in (a convolution's input gradient comes batch-innermost)."""
    from minigan.functional.layout import as_nchw
    rng = numpy.random.default_rng(0)
    data = rng.standard_normal((4, 3, 6, 6))
    if layout == "batch_innermost":
        data = as_nchw(numpy.ascontiguousarray(data.transpose(1, 2, 3, 0)))
    x = Tensor(data, requires_grad=True)
    w = Tensor(rng.standard_normal((5, 3, 3, 3)))
    F.conv2d(x, w, padding=1).backward(Tensor(rng.standard_normal((4, 5, 6, 6))))
    assert x.grad.strides == x.data.strides  # the values: the conv specs check them
