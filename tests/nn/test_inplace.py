"""inplace=True, as torch has it on relu, leaky_relu, elu, silu, dropout and dropout2d (and their
modules): the op returns its input Tensor, which now holds the result and differentiates as the
op's output; torch's refusals are kept (a leaf that requires grad), plus minigan's own (a tensor a
recorded op has already taken as an input). pytorch/examples' DCGAN uses nn.ReLU(True) and
nn.LeakyReLU(0.2, inplace=True)."""
import numpy
import pytest

import minigan
from minigan import Tensor, nn, no_grad
from minigan import functional as F

torch = pytest.importorskip("torch")
tF = torch.nn.functional

ACTIVATIONS = {
    "relu": (lambda x: F.relu(x, inplace=True), lambda x: tF.relu(x, inplace=True)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2, True), lambda x: tF.leaky_relu(x, 0.2, True)),
    "elu": (lambda x: F.elu(x, 0.7, True), lambda x: tF.elu(x, 0.7, True)),
    "silu": (lambda x: F.silu(x, True), lambda x: tF.silu(x, True)),
}


def _conv_then(activation, lib, x, w, g):
    """activation in place on a convolution's output, weighted by g: (output, loss)."""
    conv = F.conv2d if lib == "minigan" else tF.conv2d
    y = conv(x, w, padding=1)
    z = activation(y)
    assert z is y  # the same tensor object, as torch returns it
    return z, (z * g).sum()


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_in_place_activations_equal_torch_forward_and_backward(name):
    rng = numpy.random.default_rng(0)
    a, w, g = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal((2, 4, 5, 5))
    mine_x, mine_w = Tensor(a, requires_grad=True), Tensor(w, requires_grad=True)
    mine, loss = _conv_then(ACTIVATIONS[name][0], "minigan", mine_x, mine_w, Tensor(g))
    loss.backward()
    their_x, their_w = torch.tensor(a, requires_grad=True), torch.tensor(w, requires_grad=True)
    theirs, their_loss = _conv_then(ACTIVATIONS[name][1], "torch", their_x, their_w, torch.tensor(g))
    their_loss.backward()
    numpy.testing.assert_allclose(mine.data, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
    numpy.testing.assert_allclose(mine_x.grad, their_x.grad.numpy(), rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(mine_w.grad, their_w.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["dropout", "dropout2d"])
def test_in_place_dropout_draws_the_same_mask_and_gradient_as_out_of_place(name):
    # torch's masks come from another generator; minigan's out-of-place dropout is itself
    # checked against its definition in tests/ops/specs/dropout.py.
    rng = numpy.random.default_rng(1)
    a, g = rng.standard_normal((3, 4, 2, 2)), rng.standard_normal((3, 4, 2, 2))
    results = []
    for inplace in (False, True):
        minigan.manual_seed(7)
        x = Tensor(a, requires_grad=True)
        y = x * Tensor(numpy.full(a.shape, 2.0))  # a non-leaf, which may change in place
        z = getattr(F, name)(y, 0.5, True, inplace)
        assert (z is y) == inplace
        (z * Tensor(g)).sum().backward()
        results.append((z.data, x.grad))
    numpy.testing.assert_array_equal(results[0][0], results[1][0])
    numpy.testing.assert_array_equal(results[0][1], results[1][1])
    assert (results[0][0] == 0).any() and (results[0][0] != 0).any()  # a real draw: some dropped, some kept


def test_arrays_taken_before_keep_their_values():
    """Only the Tensor is rebound: an op's saved array, or one a user took, keeps its values (in
    torch they would change, and a saved one would make backward raise)."""
    y = Tensor(numpy.array([-1.0, 2.0])) * Tensor(numpy.array([1.0, 1.0]))
    before = y.data
    F.relu(y, inplace=True)
    assert before.tolist() == [-1.0, 2.0] and y.data.tolist() == [0.0, 2.0]


def test_a_leaf_that_requires_grad_is_refused_as_torch_refuses_it():
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        tF.relu(torch.ones(3, requires_grad=True), inplace=True)
    x = Tensor(numpy.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"relu\(inplace=True\): a leaf tensor that requires grad \(shape \(3,\)\)"):
        F.relu(x, inplace=True)


def test_under_no_grad_a_parameter_changes_in_place_and_stays_a_parameter():
    p = nn.Parameter(numpy.array([-1.0, 3.0]))
    their = torch.nn.Parameter(torch.tensor([-1.0, 3.0], dtype=torch.float64))
    with no_grad():
        out = F.leaky_relu(p, 0.5, inplace=True)
    with torch.no_grad():
        tF.leaky_relu(their, 0.5, inplace=True)
    assert out is p and p.requires_grad and p.is_leaf
    assert p.data.tolist() == their.detach().numpy().tolist() == [-0.5, 3.0]


def test_a_tensor_an_op_already_took_is_refused_saying_why():
    x = Tensor(numpy.ones(3), requires_grad=True)
    y = x * Tensor(numpy.full(3, 2.0))
    y.exp()  # a recorded op took y: its gradient would be routed through y's new creator
    with pytest.raises(RuntimeError, match=r"leaky_relu\(inplace=True\): this tensor \(shape \(3,\)\) is "
                                           r"already an input of a recorded op"):
        F.leaky_relu(y, 0.2, inplace=True)


def test_modules_take_inplace_with_torchs_repr():
    for mine, theirs in [(nn.ReLU(True), torch.nn.ReLU(True)), (nn.ReLU(), torch.nn.ReLU()),
                         (nn.LeakyReLU(0.2, inplace=True), torch.nn.LeakyReLU(0.2, inplace=True)),
                         (nn.ELU(inplace=True), torch.nn.ELU(inplace=True)),
                         (nn.SiLU(inplace=True), torch.nn.SiLU(inplace=True)),
                         (nn.Dropout(0.3, inplace=True), torch.nn.Dropout(0.3, inplace=True))]:
        assert repr(mine) == repr(theirs)


def test_pytorch_examples_dcgan_blocks_with_inplace_activations_equal_torch():
    """The layers as pytorch/examples' dcgan.py writes them, inplace=True included, in a
    Sequential (which fuses batchnorm with the activation after it): forward and backward equal."""
    def blocks(lib):
        return lib.Sequential(lib.Conv2d(3, 4, 4, 2, 1, bias=False), lib.LeakyReLU(0.2, inplace=True),
                              lib.Conv2d(4, 8, 4, 2, 1, bias=False), lib.BatchNorm2d(8), lib.LeakyReLU(0.2, inplace=True),
                              lib.ConvTranspose2d(8, 4, 4, 2, 1, bias=False), lib.BatchNorm2d(4), lib.ReLU(True))
    theirs = blocks(torch.nn).double()
    mine = blocks(nn).to(dtype=numpy.float64)
    mine.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    rng = numpy.random.default_rng(2)
    a, g = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((2, 4, 4, 4))
    x, their_x = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    out, their_out = mine(x), theirs(their_x)
    (out * Tensor(g)).sum().backward()
    (their_out * torch.tensor(g)).sum().backward()
    numpy.testing.assert_allclose(out.data, their_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(x.grad, their_x.grad.numpy(), rtol=1e-9, atol=1e-12)
    for (name, p), their_p in zip(mine.named_parameters(), theirs.parameters()):
        numpy.testing.assert_allclose(p.grad, their_p.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
