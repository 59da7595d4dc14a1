"""The Module API: names and order as in torch.nn, train/eval, dtype moves, zero_grad, Sequential."""
import numpy
import pytest

import minigan
from minigan import Tensor, backend, nn, optim
from minigan import functional as F


def small_tree():
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.LeakyReLU(0.2),
                         nn.Sequential(nn.ConvTranspose2d(2, 3, 4, 2, 1, bias=False), nn.Tanh()),
                         nn.Flatten(), nn.Linear(108, 1))


# What torch.nn gives for the same tree, written out.
SMALL_TREE_PARAMETERS = ["0.weight", "0.bias", "1.weight", "1.bias", "3.0.weight", "5.weight", "5.bias"]
SMALL_TREE_BUFFERS = ["1.running_mean", "1.running_var", "1.num_batches_tracked"]
SMALL_TREE_STATE = ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                    "1.num_batches_tracked", "3.0.weight", "5.weight", "5.bias"]


def device_of(xp):
    return "cpu" if xp is numpy else "cuda"


def test_named_parameters_buffers_and_state_dict_order():
    tree = small_tree()
    assert [name for name, _ in tree.named_parameters()] == SMALL_TREE_PARAMETERS
    assert [name for name, _ in tree.named_buffers()] == SMALL_TREE_BUFFERS
    assert list(tree.state_dict()) == SMALL_TREE_STATE
    assert [p for p in tree.parameters()] == [p for _, p in tree.named_parameters()]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in tree.parameters())
    assert tree[3][0].bias is None
    assert [name for name, _ in tree.named_modules()] == ["", "0", "1", "2", "3", "3.0", "3.1", "4", "5"]


def test_names_and_shapes_equal_torch(torch):
    def build(lib):
        return lib.Sequential(lib.Conv2d(1, 2, 3), lib.BatchNorm2d(2), lib.LeakyReLU(0.2),
                              lib.Sequential(lib.ConvTranspose2d(2, 3, 4, 2, 1, bias=False), lib.Tanh()),
                              lib.Flatten(), lib.Linear(108, 1))
    mine, theirs = build(nn), build(torch.nn)
    assert [(n, tuple(p.shape)) for n, p in mine.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert [n for n, _ in mine.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [(k, tuple(v.shape)) for k, v in mine.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]


def test_a_module_used_twice_contributes_its_parameters_once():
    """torch.nn lists a shared (tied) layer's parameters once; an optimizer given them twice
    would step the shared weight twice per step."""
    minigan.manual_seed(0)
    shared = nn.Linear(2, 2)
    tied = nn.Sequential(shared, nn.Tanh(), shared)
    assert [name for name, _ in tied.named_parameters()] == ["0.weight", "0.bias"]  # torch's names
    assert list(tied.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # torch keeps both here
    before = shared.weight.data.copy()
    opt = optim.Adam(tied.parameters(), lr=0.01)
    tied(Tensor(numpy.ones((3, 2), dtype=numpy.float32))).sum().backward()
    opt.step()
    # Adam's first step moves each element by lr (|m / sqrt(v)| = 1), not by 2 lr.
    assert numpy.abs(shared.weight.data - before).max() <= 0.01 * (1 + 1e-4)


def test_default_initialisation_bounds_match_torch(torch):
    """Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) with torch's fan_in (dim 1 of a ConvTranspose2d weight)."""
    minigan.manual_seed(1)
    pairs = [(nn.Conv2d(3, 16, 4), torch.nn.Conv2d(3, 16, 4)),
             (nn.ConvTranspose2d(2, 16, 4), torch.nn.ConvTranspose2d(2, 16, 4)),
             (nn.Linear(20, 30), torch.nn.Linear(20, 30))]
    for mine, theirs in pairs:
        fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(theirs.weight)
        bound = 1 / fan_in ** 0.5
        for name in ("weight", "bias"):
            values = getattr(mine, name).data
            assert values.dtype == numpy.float32
            assert numpy.abs(values).max() <= bound, (type(mine).__name__, name)
            if values.size >= 30:  # enough draws to come near the bound of U(-bound, bound)
                assert numpy.abs(values).max() > 0.8 * bound, (type(mine).__name__, name)
            assert numpy.abs(getattr(theirs, name).detach().numpy()).max() <= bound


def test_manual_seed_reproduces_initialisation():
    minigan.manual_seed(7)
    a = nn.Conv2d(2, 3, 3).state_dict()
    minigan.manual_seed(7)
    b = nn.Conv2d(2, 3, 3).state_dict()
    c = nn.Conv2d(2, 3, 3).state_dict()
    for key in a:
        numpy.testing.assert_array_equal(a[key], b[key])
        assert not numpy.array_equal(a[key], c[key])


def test_train_and_eval_propagate():
    tree = small_tree()
    assert all(m.training for _, m in tree.named_modules())
    assert tree.eval() is tree
    assert not any(m.training for _, m in tree.named_modules())
    assert tree.train() is tree
    assert all(m.training for _, m in tree.named_modules())
    tree.train(False)
    assert not any(m.training for _, m in tree.named_modules())
    tree[3].train()  # a subtree alone
    assert tree[3].training and tree[3][0].training and not tree.training and not tree[1].training


def test_batchnorm_eval_uses_and_keeps_the_running_statistics(xp, rng):
    bn = nn.BatchNorm2d(2, momentum=0.5).to(device=device_of(xp), dtype=numpy.float64)
    x = Tensor(xp.asarray(rng.standard_normal((4, 2, 3, 3)) * 2 + 3))
    bn(x)
    mean, var = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()
    # momentum 0.5 from (0, 1): half the batch mean, half of 1 plus half the unbiased variance.
    xs = x.numpy()
    numpy.testing.assert_allclose(mean, 0.5 * xs.mean(axis=(0, 2, 3)), rtol=1e-12)
    numpy.testing.assert_allclose(var, 0.5 + 0.5 * xs.var(axis=(0, 2, 3), ddof=1), rtol=1e-12)
    assert int(bn.num_batches_tracked.data) == 1
    bn.eval()
    y = bn(x).numpy()
    expected = (xs - mean[None, :, None, None]) / numpy.sqrt(var[None, :, None, None] + bn.eps)
    numpy.testing.assert_allclose(y, expected, rtol=1e-12)
    numpy.testing.assert_array_equal(bn.running_mean.numpy(), mean)
    numpy.testing.assert_array_equal(bn.running_var.numpy(), var)
    assert int(bn.num_batches_tracked.data) == 1


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
def test_to_dtype_converts_parameters_and_buffers_but_not_the_counter(xp, dtype):
    tree = small_tree()
    tree.to(device=device_of(xp))
    tree(Tensor(backend.to_device(numpy.ones((2, 1, 5, 5), dtype=numpy.float32), device_of(xp))))
    before = {k: backend.to_numpy(v).copy() for k, v in tree.state_dict().items()}
    for p in tree.parameters():
        p.grad = p.data * 0 + 1
    assert tree.to(dtype=dtype) is tree
    for name, p in tree.named_parameters():
        assert p.dtype == dtype and p.grad.dtype == dtype, name
        assert backend.array_module(p.data) is xp
    for name, b in tree.named_buffers():
        expected = numpy.int64 if name.endswith("num_batches_tracked") else dtype
        assert b.dtype == expected, name
    for key, value in tree.state_dict().items():
        numpy.testing.assert_array_equal(backend.to_numpy(value), before[key].astype(value.dtype), err_msg=key)
    assert int(tree[1].num_batches_tracked.data) == 1
    out = tree(Tensor(backend.to_device(numpy.ones((2, 1, 5, 5), dtype=dtype), device_of(xp))))
    assert out.dtype == dtype
    assert int(tree[1].num_batches_tracked.data) == 2


def test_zero_grad(xp):
    tree = small_tree().to(device=device_of(xp))
    out = tree(Tensor(backend.to_device(numpy.ones((2, 1, 5, 5), dtype=numpy.float32), device_of(xp))))
    out.sum().backward()
    assert all(p.grad is not None for p in tree.parameters())
    tree.zero_grad()
    assert all(p.grad is None for p in tree.parameters())
    out = tree(Tensor(backend.to_device(numpy.ones((2, 1, 5, 5), dtype=numpy.float32), device_of(xp))))
    out.sum().backward()
    opt = optim.SGD(tree.parameters(), lr=0.1)
    opt.zero_grad()
    assert all(p.grad is None for p in tree.parameters())


def test_sequential_indexing_and_iteration():
    layers = [nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3
    assert seq[0] is layers[0] and seq[1] is layers[1] and seq[2] is layers[2]
    assert seq[-1] is layers[2] and seq[-3] is layers[0]
    assert list(seq) == layers
    assert list(seq.children()) == layers
    with pytest.raises(IndexError):
        seq[3]


def test_sequential_forward_is_the_composition(rng):
    seq = nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(0.1), nn.Linear(4, 2), nn.Sigmoid())
    x = Tensor(rng.standard_normal((5, 3)).astype(numpy.float32))
    expected = F.sigmoid(seq[2](F.leaky_relu(seq[0](x), 0.1)))
    numpy.testing.assert_array_equal(seq(x).numpy(), expected.numpy())


def test_reassigning_a_parameter_updates_the_module():
    lin = nn.Linear(2, 3)
    new_weight = nn.Parameter(numpy.zeros((3, 2), dtype=numpy.float32))
    lin.weight = new_weight
    assert lin.weight is new_weight
    assert dict(lin.named_parameters())["weight"] is new_weight
    numpy.testing.assert_array_equal(lin.state_dict()["weight"], 0.0)
    lin.bias = None  # as in torch: gone from parameters and state_dict
    assert [name for name, _ in lin.named_parameters()] == ["weight"]
    assert list(lin.state_dict()) == ["weight"]


def test_reassigning_a_buffer_keeps_it_a_buffer():
    """As in torch: `bn.running_mean = new_tensor` replaces the buffer, it does not unregister it."""
    bn = nn.BatchNorm2d(2)
    bn.running_mean = Tensor(numpy.full(2, 5.0, dtype=numpy.float32))
    assert [name for name, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    numpy.testing.assert_array_equal(bn.state_dict()["running_mean"], 5.0)


def test_load_state_dict_copies_into_the_existing_arrays(xp):
    source, target = small_tree(), small_tree().to(device=device_of(xp), dtype=numpy.float64)
    weight_array = target[0].weight.data
    target.load_state_dict(source.state_dict())
    assert target[0].weight.data is weight_array  # in place: optimizers keep their references
    for key, value in source.state_dict().items():
        mine = target.state_dict()[key]
        assert backend.array_module(mine) is xp
        assert mine.dtype == (numpy.int64 if key.endswith("num_batches_tracked") else numpy.float64)
        numpy.testing.assert_array_equal(backend.to_numpy(mine), value.astype(mine.dtype))


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="Linear has no attribute 'weights'"):
        nn.Linear(2, 2).weights  # noqa: B018


def test_every_layer_is_exported():
    """nn exports what nn/layers.py lists in __all__; a layer left out of that list would be unreachable."""
    import inspect

    from minigan.nn import layers
    defined = {name for name, obj in vars(layers).items()
               if inspect.isclass(obj) and issubclass(obj, nn.Module) and obj.__module__ == layers.__name__}
    assert defined == set(layers.__all__)
    assert all(getattr(nn, name) is getattr(layers, name) for name in defined)
