"""GroupNorm, InstanceNorm2d, LayerNorm, GELU, SiLU and ELU against torch.nn's modules: constructor
defaults, state_dict keys, repr, weights moved both ways, and forward and gradients (the ops
themselves are checked through their specs in tests/ops/specs)."""
import numpy
import pytest

from minigan import Tensor, nn
from support.parity import as_numpy, assert_close, assert_same_state, check_parity, load_from_torch

torch = pytest.importorskip("torch", reason="PyTorch is the test oracle: pip install torch==2.13.0")

f64 = numpy.float64


def device_of(xp):
    return "cpu" if xp is numpy else "cuda"


# (constructor arguments, input shape): every flag that changes the keys or the forward.
MODULES = [
    ("GroupNorm", (2, 6), {}, (3, 6, 4, 3)),
    ("GroupNorm", (3, 6), dict(eps=1e-3, affine=False), (2, 6, 5)),
    ("GroupNorm", (1, 4), dict(bias=False), (2, 4, 3, 3)),
    ("InstanceNorm2d", (3,), {}, (2, 3, 4, 5)),
    ("InstanceNorm2d", (3,), dict(affine=True), (2, 3, 4, 5)),
    ("InstanceNorm2d", (3,), dict(affine=True, track_running_stats=True, momentum=0.3), (2, 3, 4, 5)),
    ("InstanceNorm2d", (3,), dict(affine=True, bias=False, track_running_stats=True), (3, 4, 5)),  # unbatched
    ("InstanceNorm2d", (3,), dict(track_running_stats=True, momentum=None), (2, 3, 4, 4)),
    ("LayerNorm", (5,), {}, (2, 3, 5)),
    ("LayerNorm", ([3, 5],), dict(eps=1e-3, bias=False), (2, 3, 5)),
    ("LayerNorm", ((4,),), dict(elementwise_affine=False), (3, 4)),
    ("GELU", (), {}, (3, 4)),
    ("GELU", ("tanh",), {}, (2, 3, 4)),
    ("SiLU", (), {}, (3, 4)),
    ("ELU", (), {}, (3, 4)),
    ("ELU", (0.4,), {}, (2, 3, 2)),
]
IDS = [f"{name}{args}{kwargs or ''}" for name, args, kwargs, _ in MODULES]


def randomize(torch_module, rng):
    """Random weights and running statistics, so that no value is its default by chance."""
    with torch.no_grad():
        for name, value in torch_module.state_dict().items():
            if value.dtype.is_floating_point:
                value.copy_(torch.from_numpy(rng.uniform(0.5, 2.0, size=tuple(value.shape))))


@pytest.mark.parametrize("name, args, kwargs, shape", MODULES, ids=IDS)
def test_defaults_keys_and_repr_equal_torch(name, args, kwargs, shape):
    mine, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(mine) == repr(theirs)
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert_same_state(mine, theirs, "initial state", rtol=0)
    for key, value in mine.state_dict().items():
        assert value.dtype == as_numpy(theirs.state_dict()[key]).dtype, key


@pytest.mark.parametrize("name, args, kwargs, shape", MODULES, ids=IDS)
def test_forward_and_gradients_equal_torch_with_its_weights(xp, rng, name, args, kwargs, shape):
    """torch's random weights loaded into minigan's module; three training steps (running
    statistics move), then evaluation; then minigan's state loaded back into a fresh torch module."""
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    randomize(theirs, rng)
    mine = getattr(nn, name)(*args, **kwargs).to(device=device_of(xp), dtype=f64)
    load_from_torch(mine, theirs)
    for mode in ["train"] * 3 + ["eval"]:
        getattr(mine, mode)()
        getattr(theirs, mode)()
        for module in (mine, theirs):
            for p in module.parameters():
                p.grad = None
        x = rng.standard_normal(shape) * 2 + 0.5
        check_parity(xp, rng, mine, theirs, x)
        for (key, p), q in zip(mine.named_parameters(), theirs.parameters()):
            assert_close(p.grad, q.grad, f"{mode}: gradient of {key}")
        assert_same_state(mine, theirs, f"after a {mode} step")
    back = getattr(torch.nn, name)(*args, **kwargs).double()
    back.load_state_dict({k: torch.from_numpy(as_numpy(v)) for k, v in mine.state_dict().items()})
    assert_same_state(mine, back, "loaded back into torch", rtol=0)


def test_instance_norm_running_statistics_are_used_only_in_eval(rng):
    """Training moves the running statistics and normalizes by the input's own; evaluation uses
    the running ones, so a shifted input comes out shifted."""
    module = nn.InstanceNorm2d(2, momentum=0.5, track_running_stats=True).to(dtype=f64)
    x = Tensor(rng.standard_normal((3, 2, 4, 4)) * 3 + 5)
    y = module(x).numpy()
    numpy.testing.assert_allclose(y.mean(axis=(2, 3)), 0, atol=1e-12)
    mean = x.numpy().mean(axis=(2, 3)).mean(axis=0)
    numpy.testing.assert_allclose(module.running_mean.numpy(), 0.5 * mean, rtol=1e-12)
    assert int(module.num_batches_tracked.data) == 0  # torch never counts for instance norm
    module.eval()
    expected = (x.numpy() - module.running_mean.numpy()[:, None, None]) / numpy.sqrt(
        module.running_var.numpy()[:, None, None] + 1e-5)
    numpy.testing.assert_allclose(module(x).numpy(), expected, rtol=1e-12)


def test_instance_norm_without_running_statistics_normalizes_in_eval_too(rng):
    module = nn.InstanceNorm2d(2).to(dtype=f64).eval()
    y = module(Tensor(rng.standard_normal((2, 2, 3, 3)) + 4)).numpy()
    numpy.testing.assert_allclose(y.mean(axis=(2, 3)), 0, atol=1e-12)
    numpy.testing.assert_allclose(y.var(axis=(2, 3)), 1, rtol=1e-3)  # eps 1e-5 of a unit variance


@pytest.mark.parametrize("build, shape, message", [
    (lambda: nn.InstanceNorm2d(3, affine=True), (2, 4, 5, 5),
     "InstanceNorm2d: input (2, 4, 5, 5) has 4 channels, but num_features is 3"),
    (lambda: nn.InstanceNorm2d(3), (2, 3), "InstanceNorm2d: expected 3-D (C, H, W) or 4-D (N, C, H, W) input, "
                                          "got shape (2, 3)"),
    (lambda: nn.LayerNorm(4), (2, 3), "layer_norm: normalized_shape (4,) must be the last dimensions of input (2, 3)"),
    (lambda: nn.GroupNorm(2, 4), (2, 6, 3), "group_norm: weight must have shape (6,) for input (2, 6, 3), got (4,)"),
])
def test_module_misuse_names_the_shapes(build, shape, message):
    with pytest.raises(ValueError) as error:
        build()(Tensor(numpy.ones(shape, dtype=numpy.float32)))
    assert message in str(error.value)


def test_instance_norm_warns_of_other_channel_counts_where_it_needs_none():
    """As torch: without affine parameters or running statistics, num_features is not used."""
    unbatched = Tensor(numpy.ones((2, 3, 5), dtype=numpy.float32))  # 3-D: one sample of 2 channels
    with pytest.warns(UserWarning, match=r"input \(2, 3, 5\) has 2 channels, but num_features is 3"):
        assert nn.InstanceNorm2d(3)(unbatched).shape == (2, 3, 5)


def test_group_norm_refuses_groups_that_do_not_divide_the_channels():
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups \(4\)"):
        nn.GroupNorm(4, 6)


