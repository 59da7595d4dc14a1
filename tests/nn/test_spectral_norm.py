"""nn.utils.spectral_norm against torch.nn.utils.spectral_norm (the hook-based one): the same
weights and initial u, v, then outputs, gradients and the u, v buffers step for step in float64;
state dicts both ways; remove_spectral_norm; bad arguments; a gradient check with u, v frozen."""
import numpy
import pytest

from minigan import Tensor, gradcheck, nn, no_grad, optim
from support.parity import as_numpy, assert_close, assert_same_state, load_from_torch

torch = pytest.importorskip("torch", reason="PyTorch is the test oracle: pip install torch==2.13.0")

f64 = numpy.float64

# (build from either library's nn, input shape): dim 0 for Linear and Conv2d, 1 for ConvTranspose2d.
LAYERS = {
    "linear": (lambda lib: lib.Linear(5, 4), (3, 5)),
    "conv2d": (lambda lib: lib.Conv2d(3, 4, 3, 2, 1), (2, 3, 6, 6)),
    "conv_transpose2d": (lambda lib: lib.ConvTranspose2d(3, 2, 4, 2, 1), (2, 3, 3, 3)),
}


def device_of(xp):
    return "cpu" if xp is numpy else "cuda"


def pair(kind, xp, **options):
    """A spectral-normalized minigan layer holding a spectral-normalized torch layer's state
    (weight_orig, bias, and torch's initial u and v), in float64."""
    build, input_shape = LAYERS[kind]
    theirs = torch.nn.utils.spectral_norm(build(torch.nn).double(), **options)
    mine = nn.utils.spectral_norm(build(nn).to(device=device_of(xp), dtype=f64), **options)
    load_from_torch(mine, theirs)
    return mine, theirs, input_shape


def step_both(mine, theirs, xp, x, upstream, what):
    """One forward and backward on each side with the same input and upstream gradient; compares
    the output, the normalized weight, the gradients of weight_orig and bias, and the state."""
    for module in (mine, theirs):
        for p in module.parameters():
            p.grad = None
    out = mine(Tensor(xp.asarray(x)))
    expected = theirs(torch.from_numpy(x))
    assert_close(out, expected, f"{what}: output")
    assert_close(mine.weight, theirs.weight, f"{what}: normalized weight")
    out.backward(xp.asarray(upstream))
    expected.backward(torch.from_numpy(upstream))
    assert_close(mine.weight_orig.grad, theirs.weight_orig.grad, f"{what}: weight_orig gradient")
    assert_close(mine.bias.grad, theirs.bias.grad, f"{what}: bias gradient")
    assert_same_state(mine, theirs, what)


def output_shape(module, input_shape):
    with torch.no_grad():
        return tuple(module(torch.zeros(input_shape, dtype=torch.float64)).shape)


@pytest.mark.parametrize("n_power_iterations", [1, 3])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_training_steps_then_eval_match_torch(kind, n_power_iterations, xp, rng):
    """5 Adam steps in training mode (power iteration moves u and v), then eval mode (u, v fixed)."""
    mine, theirs, input_shape = pair(kind, xp, n_power_iterations=n_power_iterations)
    assert list(mine.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    shape = output_shape(theirs, input_shape)  # a no_grad forward in training mode: one more iteration
    with no_grad():
        mine(Tensor(xp.zeros(input_shape)))
    assert_same_state(mine, theirs, "after a forward under no_grad")
    mine_opt = optim.Adam(list(mine.parameters()), lr=0.05)
    theirs_opt = torch.optim.Adam(list(theirs.parameters()), lr=0.05)
    initial_u = as_numpy(mine.weight_u).copy()
    for step in range(5):
        step_both(mine, theirs, xp, rng.standard_normal(input_shape), rng.standard_normal(shape),
                  f"training step {step + 1}")
        mine_opt.step()
        theirs_opt.step()
        assert_close(mine.weight_orig, theirs.weight_orig, f"weight_orig after step {step + 1}")
    assert not numpy.allclose(as_numpy(mine.weight_u), initial_u), "power iteration never moved u"

    mine.eval()
    theirs.eval()
    u, v = as_numpy(mine.weight_u).copy(), as_numpy(mine.weight_v).copy()
    step_both(mine, theirs, xp, rng.standard_normal(input_shape), rng.standard_normal(shape), "eval")
    assert numpy.array_equal(as_numpy(mine.weight_u), u) and numpy.array_equal(as_numpy(mine.weight_v), v)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_state_dict_moves_both_ways(kind, xp, rng):
    """A minigan state dict (from minigan's own u, v, after training) loads into torch, and torch's
    into minigan: the same outputs in eval mode and after one training forward."""
    build, input_shape = LAYERS[kind]
    mine = nn.utils.spectral_norm(build(nn).to(device=device_of(xp), dtype=f64))
    for _ in range(3):
        mine(Tensor(xp.asarray(rng.standard_normal(input_shape))))
    theirs = torch.nn.utils.spectral_norm(build(torch.nn).double())
    theirs.load_state_dict({k: torch.from_numpy(as_numpy(v)) for k, v in mine.state_dict().items()})
    assert_same_state(mine, theirs, "minigan's state loaded into torch")
    back = nn.utils.spectral_norm(build(nn).to(device=device_of(xp), dtype=f64))
    load_from_torch(back, theirs)
    assert_same_state(back, theirs, "torch's state loaded into minigan")
    for mode in (False, True):
        for module in (back, theirs):
            module.train(mode)
        x = rng.standard_normal(input_shape)
        with torch.no_grad():
            expected = theirs(torch.from_numpy(x))
        assert_close(back(Tensor(xp.asarray(x))), expected, f"output, training={mode}")
        assert_same_state(back, theirs, f"after a forward, training={mode}")


@pytest.mark.parametrize("kind", list(LAYERS))
def test_remove_spectral_norm_leaves_torchs_plain_weight(kind, xp, rng):
    mine, theirs, input_shape = pair(kind, xp)
    for _ in range(2):  # training forwards move u and v away from their initial values
        x = rng.standard_normal(input_shape)
        with torch.no_grad():
            theirs(torch.from_numpy(x))
        mine(Tensor(xp.asarray(x)))
    nn.utils.remove_spectral_norm(mine)
    torch.nn.utils.remove_spectral_norm(theirs)
    assert list(mine.state_dict()) == ["bias", "weight"]
    assert isinstance(mine.weight, nn.Parameter) and mine.weight.requires_grad
    assert_same_state(mine, theirs, "after remove_spectral_norm")
    # No hook is left: a training forward uses the weight as it is, as torch's does.
    x = rng.standard_normal(input_shape)
    assert_close(mine(Tensor(xp.asarray(x))), theirs(torch.from_numpy(x)), "output after removal")
    assert_same_state(mine, theirs, "after a forward without the hook")


def both_raise(make_mine, make_theirs, error, match):
    """minigan and torch both raise `error`; minigan's message matches `match`."""
    with pytest.raises(error):
        make_theirs()
    with pytest.raises(error, match=match):
        make_mine()


def test_bad_arguments_raise_as_torch():
    sn, torch_sn = nn.utils.spectral_norm, torch.nn.utils.spectral_norm
    both_raise(lambda: sn(nn.Linear(3, 2), name="gamma"), lambda: torch_sn(torch.nn.Linear(3, 2), name="gamma"),
               KeyError, "Linear has no parameter 'gamma'.*'weight', 'bias'")
    both_raise(lambda: sn(nn.Linear(3, 2, bias=False), name="bias"),
               lambda: torch_sn(torch.nn.Linear(3, 2, bias=False), name="bias"),
               ValueError, "parameter `bias` is None")
    both_raise(lambda: sn(sn(nn.Linear(3, 2))), lambda: torch_sn(torch_sn(torch.nn.Linear(3, 2))),
               RuntimeError, "Cannot register two spectral_norm hooks on the same parameter weight")
    for n in (0, -1):
        both_raise(lambda: sn(nn.Linear(3, 2), n_power_iterations=n),
                   lambda: torch_sn(torch.nn.Linear(3, 2), n_power_iterations=n),
                   ValueError, f"Expected n_power_iterations to be positive, but got n_power_iterations={n}")
    both_raise(lambda: nn.utils.remove_spectral_norm(nn.Linear(3, 2)),
               lambda: torch.nn.utils.remove_spectral_norm(torch.nn.Linear(3, 2)),
               ValueError, "spectral_norm of 'weight' not found in Linear")
    with pytest.raises(IndexError, match="spectral_norm: dim 4 is out of range for a tensor of shape"):
        sn(nn.Conv2d(2, 3, 3), dim=4)


def test_a_failed_apply_leaves_the_module_as_it_was():
    layer = nn.Linear(3, 2)
    with pytest.raises(ValueError):
        nn.utils.spectral_norm(layer, n_power_iterations=0)
    assert list(layer.state_dict()) == ["weight", "bias"] and not layer._forward_pre_hooks


@pytest.mark.parametrize("kind", list(LAYERS))
def test_gradcheck_with_u_and_v_frozen(kind, rng):
    """float64 finite differences of the output w.r.t. weight_orig (and the input); eval mode keeps
    u and v fixed, so the function differentiated is weight_orig -> layer(x; weight_orig / sigma)."""
    build, input_shape = LAYERS[kind]
    layer = nn.utils.spectral_norm(build(nn).to(dtype=f64))
    for _ in range(3):  # u, v near the top singular vectors, as after training
        layer(Tensor(rng.standard_normal(input_shape)))
    layer.eval()
    x = Tensor(rng.standard_normal(input_shape), requires_grad=True)
    assert gradcheck(lambda weight_orig, x: layer(x), [layer.weight_orig, x])


def test_forward_pre_hooks_run_in_order_replace_args_and_come_off():
    layer = nn.Linear(2, 2, bias=False)
    calls = []
    first = layer.register_forward_pre_hook(lambda module, args: calls.append(("first", module)))
    layer.register_forward_pre_hook(lambda module, args: (args[0] * 2,))
    x = Tensor(numpy.array([[1.0, -2.0]], dtype=numpy.float32))
    expected = as_numpy(x) * 2 @ as_numpy(layer.weight).T
    assert_close(layer(x), expected, "output with the input doubled by a hook", rtol=1e-6)
    assert calls == [("first", layer)]
    first.remove()
    layer(x)
    assert calls == [("first", layer)]
