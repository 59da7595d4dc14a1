"""Higher-order gradients with torch's semantics: minigan.grad, backward(create_graph=True),
retain_graph, gradients of non-leaf tensors, and only the gradients asked for.

The per-op double backwards are checked from the op specs (tests/ops/test_op_gradgrad.py);
these tests check the engine that strings them together, against torch.
"""
import numpy
import pytest

import minigan
from minigan import Function, Tensor


def composite(lib, x, w):
    """A function that mixes broadcasting, a product, a reduction and a non-linearity."""
    h = (x @ w).exp() * x.sum(1, keepdim=True) - (w ** 3).sum()
    return h, (h * h).mean() / (x * x + 1).sum().sqrt()


@pytest.fixture
def values(rng):
    return rng.standard_normal((3, 4)) * 0.5, rng.standard_normal((4, 2)) * 0.5


def both(torch, values):
    """The same leaves in torch and in minigan."""
    x, w = values
    return ((torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)),
            (Tensor(x.copy(), requires_grad=True), Tensor(w.copy(), requires_grad=True)))


def close(mine, theirs):
    numpy.testing.assert_allclose(mine.data if isinstance(mine, Tensor) else mine,
                                  theirs.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_a_gradient_penalty_equals_torchs(torch, values):
    """WGAN-GP's pattern: the norm of a gradient, recorded, differentiated again."""
    results = []
    for lib, (x, w) in zip((torch, minigan), both(torch, values)):
        grad = torch.autograd.grad if lib is torch else minigan.grad
        _, loss = composite(lib, x, w)
        gx, = grad(loss, x, create_graph=True)
        penalty = ((gx * gx).sum(1).sqrt() - 1) ** 2
        penalty.mean().backward()
        results.append((gx, x.grad, w.grad))
    for mine, theirs in zip(*reversed(results)):
        close(mine, theirs)


def test_grad_of_a_non_leaf_and_grad_outputs(torch, values, rng):
    upstream = rng.standard_normal((3, 2))
    results = []
    for lib, (x, w) in zip((torch, minigan), both(torch, values)):
        grad = torch.autograd.grad if lib is torch else minigan.grad
        h, loss = composite(lib, x, w)
        seed = torch.tensor(upstream) if lib is torch else upstream
        results.append(grad([loss, h], [h, w], [None if lib is minigan else torch.tensor(1.0, dtype=torch.float64),
                                                  seed]))
        assert x.grad is None and w.grad is None  # grad() touches no .grad
    for mine, theirs in zip(results[1], results[0]):
        close(mine, theirs)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True:UserWarning")
def test_backward_with_create_graph_records_grad(torch, values):
    """backward(create_graph=True): each .grad is a Tensor that can be differentiated again, and a
    second backward accumulates into it, as in torch."""
    results = []
    for lib, (x, w) in zip((torch, minigan), both(torch, values)):
        _, loss = composite(lib, x, w)
        loss.backward(create_graph=True)
        assert x.grad.requires_grad
        (x.grad * x.grad).sum().backward()
        results.append((x.grad, w.grad))
    for mine, theirs in zip(results[1], results[0]):
        close(mine, theirs)


def test_retain_graph_defaults_to_create_graph(values):
    x, w = (Tensor(v, requires_grad=True) for v in values)
    _, loss = composite(minigan, x, w)
    minigan.grad(loss, x)  # retain_graph=False: the graph is freed
    with pytest.raises(RuntimeError, match="a second time"):
        minigan.grad(loss, x)
    _, loss = composite(minigan, x, w)
    first, = minigan.grad(loss, x, create_graph=True)  # retains it
    again, = minigan.grad(loss, x)
    numpy.testing.assert_array_equal(first.data, again.data)


def test_unused_inputs_and_inputs_without_grad(values):
    x, w = (Tensor(v, requires_grad=True) for v in values)
    unused = Tensor(numpy.ones(2), requires_grad=True)
    _, loss = composite(minigan, x, w)
    with pytest.raises(RuntimeError, match=r"input 1 \(shape \(2,\)\) was not used .* allow_unused=True"):
        minigan.grad(loss, [x, unused], retain_graph=True)
    gx, none = minigan.grad(loss, [x, unused], allow_unused=True)
    assert none is None and gx.shape == x.shape
    with pytest.raises(RuntimeError, match=r"input 0 \(shape \(3, 4\)\) does not require grad"):
        minigan.grad(loss, [Tensor(values[0])])


class Recorder(Function):
    """y = a * b, recording which input gradients each backward was asked for."""
    asked = []

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, grad):
        Recorder.asked.append(self.needs_grad)
        return (grad * self.b if self.needs_grad[0] else None, grad * self.a if self.needs_grad[1] else None)


def test_grad_computes_only_the_gradients_on_the_way_to_its_inputs():
    """R1's penalty differentiates D(x) in x: D's weight gradients must not be computed."""
    x, weight = Tensor(numpy.ones(3), requires_grad=True), Tensor(numpy.full(3, 2.0), requires_grad=True)
    Recorder.asked.clear()
    gx, = minigan.grad(Recorder()(x, weight).sum(), x)
    assert Recorder.asked == [(True, False)]
    numpy.testing.assert_array_equal(gx.data, weight.data)
    Recorder()(x, weight).sum().backward()
    assert Recorder.asked[-1] == (True, True)


def test_an_op_without_double_backward_says_so():
    x = Tensor(numpy.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="Recorder has no double backward"):
        minigan.grad(Recorder()(x, x).sum(), x, create_graph=True)


def test_an_optimizer_steps_on_a_recorded_grad(values):
    """After backward(create_graph=True) .grad is a Tensor: the step uses its values, as with an
    array gradient."""
    steps = []
    for create_graph in (False, True):
        x, w = (Tensor(v.copy(), requires_grad=True) for v in values)
        optimizer = minigan.optim.Adam([x, w], lr=0.1)
        composite(minigan, x, w)[1].backward(create_graph=create_graph)
        optimizer.step()
        optimizer.zero_grad(set_to_none=False)
        assert not isinstance(x.grad, Tensor) and not x.grad.any()
        steps.append((x.data.copy(), w.data.copy()))
    for a, b in zip(*steps):
        numpy.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("op", ["batch_norm", "instance_norm"])
def test_a_gradient_penalty_through_a_norm_moves_its_running_statistics_once(torch, rng, op):
    """The double backward recomputes the batch statistics by recorded ops, not by the op: the
    running statistics move once per forward, as torch's, and the penalty's gradients are torch's."""
    x, weight, bias = rng.standard_normal((4, 3, 2, 2)) * 2 + 1, rng.standard_normal(3), rng.standard_normal(3)
    results = []
    for lib in (torch, minigan):
        make = torch.tensor if lib is torch else Tensor
        running = [make(numpy.zeros(3)), make(numpy.ones(3))]
        leaves = [make(v.copy(), requires_grad=True) for v in (x, weight, bias)]
        norm = getattr(torch.nn.functional if lib is torch else minigan.functional, op)
        out = norm(leaves[0], *running, *leaves[1:], **({"training": True} if op == "batch_norm" else {}))
        grad = torch.autograd.grad if lib is torch else minigan.grad
        gx, = grad((out * out * out).sum(), leaves[0], create_graph=True)
        (gx * gx).sum().backward()
        results.append([*running, *(t.grad for t in leaves)])
    for mine, theirs in zip(results[1], results[0]):
        close(mine, theirs)
