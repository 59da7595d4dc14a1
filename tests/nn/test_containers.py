"""ModuleList, ModuleDict, Identity and the Module tree methods (apply, modules, children, zero_grad,
requires_grad_, train) against torch.nn: the same operations on both libraries' containers give
the same children, keys, state_dict keys and repr at every step."""
import numpy
import pytest

from minigan import Tensor, nn
from support.parity import assert_close, check_parity, load_from_torch

torch = pytest.importorskip("torch", reason="PyTorch is the test oracle: pip install torch==2.13.0")


def same_structure(mine, theirs, what):
    """Equal repr (types, settings and order of every child), keys and parameter names."""
    assert repr(mine) == repr(theirs), what
    assert list(mine.state_dict()) == list(theirs.state_dict()), what
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in theirs.named_parameters()], what
    assert [n for n, _ in mine.named_modules()] == [n for n, _ in theirs.named_modules()], what


# Each step: (what, fn(lib, container)); lib is minigan.nn or torch.nn. The modules are ones whose
# repr the two libraries share, so that repr tells which module sits where.
LIST_STEPS = [
    ("append", lambda lib, m: m.append(lib.LayerNorm(3))),
    ("extend", lambda lib, m: m.extend([lib.GELU(), lib.GELU(), lib.GroupNorm(1, 2)])),
    ("insert at 1", lambda lib, m: m.insert(1, lib.SiLU())),
    ("insert at 0", lambda lib, m: m.insert(0, lib.Identity())),
    ("insert past the end", lambda lib, m: m.insert(len(m), lib.Tanh())),
    ("set -2", lambda lib, m: m.__setitem__(-2, lib.LayerNorm(2, bias=False))),
    ("del 0", lambda lib, m: m.__delitem__(0)),
    ("del -1", lambda lib, m: m.__delitem__(-1)),
    ("del a slice", lambda lib, m: m.__delitem__(slice(1, 3))),
    ("pop", lambda lib, m: m.pop(1)),
    ("+=", lambda lib, m: m.__iadd__([lib.InstanceNorm2d(2, affine=True)])),
    ("extend by a Sequential", lambda lib, m: m.extend(lib.Sequential(lib.ReLU(), lib.LayerNorm(4)))),
]


def test_module_list_follows_torch_step_by_step():
    mine = nn.ModuleList([nn.GroupNorm(2, 4), nn.ReLU()])
    theirs = torch.nn.ModuleList([torch.nn.GroupNorm(2, 4), torch.nn.ReLU()])
    same_structure(mine, theirs, "built")
    for what, step in LIST_STEPS:
        returned_mine, returned_theirs = step(nn, mine), step(torch.nn, theirs)
        same_structure(mine, theirs, what)
        assert len(mine) == len(theirs), what
        assert (returned_mine is mine) == (returned_theirs is theirs), f"{what}: what it returns"
        assert repr(mine[-1]) == repr(theirs[-1]) and repr(mine[-len(mine)]) == repr(theirs[0]), what
        assert [repr(m) for m in mine] == [repr(m) for m in theirs], what
    for index in [slice(1, 4), slice(None, None, 2), slice(-3, None)]:
        same_structure(mine[index], theirs[index], f"slice {index}")
        assert all(a is b for a, b in zip(mine[index], list(mine)[index]))  # the same modules, not copies
    same_structure(mine + mine[:2], theirs + theirs[:2], "+")


def test_module_list_insert_at_a_negative_index_as_a_python_list():
    """torch 2.13's insert(-1, m) raises KeyError('-1'); minigan's follows list.insert."""
    modules = [nn.ReLU(), nn.Tanh(), nn.GELU()]
    for index in [-1, -3, -10]:
        silu, expected, container = nn.SiLU(), list(modules), nn.ModuleList(modules)
        expected.insert(index, silu)
        container.insert(index, silu)
        assert list(container) == expected
        assert [n for n, _ in container.named_children()] == ["0", "1", "2", "3"]


def test_module_list_extended_by_itself_doubles():
    """(torch 2.13's raises "OrderedDict mutated during iteration".)"""
    modules = [nn.LayerNorm(2), nn.GELU()]
    container = nn.ModuleList(modules).extend(nn.ModuleList(modules))
    assert container.extend(container) is container
    assert list(container) == modules * 4
    assert list(container.state_dict()) == [f"{i}.{p}" for i in (0, 2, 4, 6) for p in ("weight", "bias")]


def test_module_list_repr_groups_equal_neighbours_as_torch():
    def build(lib):
        return lib.ModuleList([lib.GELU(), lib.GELU(), lib.GELU(), lib.SiLU(), lib.GELU(), lib.GELU(),
                               lib.ModuleList([lib.ELU(), lib.ELU()]), lib.ModuleList([lib.ELU(), lib.ELU()])])
    assert repr(build(nn)) == repr(build(torch.nn))
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())


@pytest.mark.parametrize("misuse, error", [
    (lambda lib, m: m[3], IndexError),
    (lambda lib, m: m[-4], IndexError),
    (lambda lib, m: m.__setitem__(5, lib.ReLU()), IndexError),
    (lambda lib, m: m.append(3), TypeError),
    (lambda lib, m: m.extend(lib.ReLU()), TypeError),
    (lambda lib, m: m.extend(7), TypeError),
    (lambda lib, m: m["0"], TypeError),
])
def test_module_list_misuse_raises_what_torch_raises(misuse, error):
    for lib in (nn, torch.nn):
        with pytest.raises(error):
            misuse(lib, lib.ModuleList([lib.ReLU(), lib.Tanh(), lib.GELU()]))


def test_module_list_index_error_names_the_index_and_length():
    with pytest.raises(IndexError, match="index 3 is out of range for a ModuleList of length 2"):
        nn.ModuleList([nn.ReLU(), nn.Tanh()])[3]
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        nn.ModuleList().append(3)


DICT_STEPS = [
    ("set a new key", lambda lib, m: m.__setitem__("norm", lib.LayerNorm(3))),
    ("replace a key", lambda lib, m: m.__setitem__("act", lib.ELU(0.3))),
    ("update from a dict", lambda lib, m: m.update({"z": lib.GELU(), "act": lib.SiLU()})),
    ("update from pairs", lambda lib, m: m.update([("b", lib.GroupNorm(1, 3)), ("a", lib.Identity())])),
    ("update from a ModuleDict", lambda lib, m: m.update(lib.ModuleDict({"c": lib.Tanh()}))),
    ("pop", lambda lib, m: m.pop("z")),
    ("del", lambda lib, m: m.__delitem__("norm")),
]


def test_module_dict_follows_torch_step_by_step():
    def build(lib):
        return lib.ModuleDict({"act": lib.ReLU(), "first": lib.GroupNorm(2, 4)})
    mine, theirs = build(nn), build(torch.nn)
    same_structure(mine, theirs, "built")
    for what, step in DICT_STEPS:
        step(nn, mine)
        step(torch.nn, theirs)
        same_structure(mine, theirs, what)
        assert list(mine) == list(theirs) == list(mine.keys()) == list(theirs.keys()), what
        assert [k for k, _ in mine.items()] == list(theirs), what
        assert [repr(m) for m in mine.values()] == [repr(m) for m in theirs.values()], what
        assert len(mine) == len(theirs) and ("act" in mine) == ("act" in theirs), what
    assert mine["first"] is next(m for k, m in mine.items() if k == "first")
    mine.clear()
    theirs.clear()
    same_structure(mine, theirs, "clear")


@pytest.mark.parametrize("misuse, error", [
    (lambda lib, m: m["missing"], KeyError),
    (lambda lib, m: m.__setitem__("a.b", lib.ReLU()), KeyError),
    (lambda lib, m: m.__setitem__("", lib.ReLU()), KeyError),
    (lambda lib, m: m.__setitem__(3, lib.ReLU()), TypeError),
    (lambda lib, m: m.__setitem__("keys", lib.ReLU()), KeyError),  # an attribute of the class
    (lambda lib, m: m.__setitem__("x", 3), TypeError),
    (lambda lib, m: m.update(3), TypeError),
    (lambda lib, m: m.update([("a", lib.ReLU(), 3)]), ValueError),
    (lambda lib, m: m.update([3]), TypeError),
])
def test_module_dict_misuse_raises_what_torch_raises(misuse, error):
    for lib in (nn, torch.nn):
        with pytest.raises(error):
            misuse(lib, lib.ModuleDict({"act": lib.ReLU()}))


class Blocks:
    """A model holding its layers in a ModuleList and a ModuleDict, written once for both libraries."""

    @staticmethod
    def build(lib):
        class Model(lib.Module):
            def __init__(self):
                super().__init__()
                self.blocks = lib.ModuleList([lib.LayerNorm(6), lib.GELU(), lib.Identity(), lib.LayerNorm(6)])
                self.heads = lib.ModuleDict({"tanh": lib.Tanh(), "norm": lib.GroupNorm(2, 6)})

            def forward(self, x):
                for block in self.blocks:
                    x = block(x)
                return self.heads["norm"](self.heads["tanh"](x))
        return Model()


def test_containers_parameters_state_dict_and_gradients_equal_torch(xp, rng):
    theirs = Blocks.build(torch.nn).double()
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.from_numpy(rng.uniform(0.5, 2.0, size=tuple(p.shape))))
    mine = Blocks.build(nn).to(device="cpu" if xp is numpy else "cuda", dtype=numpy.float64)
    assert list(mine.state_dict()) == list(theirs.state_dict()) == [
        "blocks.0.weight", "blocks.0.bias", "blocks.3.weight", "blocks.3.bias", "heads.norm.weight", "heads.norm.bias"]
    load_from_torch(mine, theirs)
    check_parity(xp, rng, mine, theirs, rng.standard_normal((4, 6)))
    for (key, p), q in zip(mine.named_parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad, f"gradient of {key}")


def tree(lib):
    """Nested containers with a module shared by two parents (listed once, under its first name)."""
    shared = lib.LayerNorm(2)
    return lib.Sequential(
        lib.ModuleList([lib.GELU(), shared, lib.Sequential(lib.SiLU(), shared), shared]),
        lib.ModuleDict({"b": lib.ELU(), "a": lib.ModuleList([lib.Identity()])}),
        shared, lib.Tanh())


def test_traversal_orders_equal_torch():
    mine, theirs = tree(nn), tree(torch.nn)
    assert [repr(m) for m in mine.modules()] == [repr(m) for m in theirs.modules()]
    for args in [{}, dict(prefix="model"), dict(remove_duplicate=False)]:
        assert [n for n, _ in mine.named_modules(**args)] == [n for n, _ in theirs.named_modules(**args)], args
    assert [n for n, _ in mine.named_children()] == [n for n, _ in theirs.named_children()]
    assert [repr(m) for m in mine.children()] == [repr(m) for m in theirs.children()]
    assert [n for n, _ in mine[0].named_children()] == [n for n, _ in theirs[0].named_children()]
    visited = {"mine": [], "theirs": []}
    assert mine.apply(lambda m: visited["mine"].append(repr(m))) is mine
    theirs.apply(lambda m: visited["theirs"].append(repr(m)))
    assert visited["mine"] == visited["theirs"]  # children first, a shared module once per parent
    assert len(visited["mine"]) > len(list(mine.modules()))


def test_apply_initializes_every_layer_of_a_kind():
    model = nn.ModuleList([nn.LayerNorm(3), nn.Sequential(nn.GELU(), nn.LayerNorm(3))])

    def fill(module):
        if isinstance(module, nn.LayerNorm):
            module.weight.data[...] = 0.5
    model.apply(fill)
    assert [float(p.data.mean()) for n, p in model.named_parameters() if n.endswith("weight")] == [0.5, 0.5]


def test_zero_grad_and_requires_grad_as_torch(rng):
    x = rng.standard_normal((3, 4, 2))
    mine, theirs = tree(nn).to(dtype=numpy.float64), tree(torch.nn).double()
    load_from_torch(mine, theirs)

    def backward():
        mine[2](mine[0][1](Tensor(x))).sum().backward()
        theirs[2](theirs[0][1](torch.from_numpy(x))).sum().backward()

    backward()
    mine.zero_grad(set_to_none=False)
    theirs.zero_grad(set_to_none=False)
    for (key, p), q in zip(mine.named_parameters(), theirs.parameters()):
        assert p.grad is not None and not p.grad.any() and q.grad is not None and not q.grad.any(), key
    backward()
    for (key, p), q in zip(mine.named_parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad, f"gradient of {key} after zero_grad(set_to_none=False)")
    mine.zero_grad()
    assert all(p.grad is None for p in mine.parameters())
    assert mine.requires_grad_(False) is mine
    theirs.requires_grad_(False)
    assert [p.requires_grad for p in mine.parameters()] == [p.requires_grad for p in theirs.parameters()]
    assert not mine[2](Tensor(x)).requires_grad  # nothing left to differentiate
    mine[0].requires_grad_()
    theirs[0].requires_grad_()
    assert [p.requires_grad for p in mine.parameters()] == [p.requires_grad for p in theirs.parameters()]


def test_train_and_eval_reach_every_container_child():
    model = tree(nn)
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model[1].train()
    assert [m.training for m in model.modules()] == [False, False, False, False, False, False, True, True,
                                                     True, True, False]
    with pytest.raises(ValueError, match="mode is expected to be a bool, got 'eval'"):
        model.train("eval")


def test_identity_returns_its_input_and_ignores_arguments():
    x = Tensor(numpy.ones(3))
    assert nn.Identity(54, unused="argument")(x) is x
    assert repr(nn.Identity(3)) == repr(torch.nn.Identity(3)) == "Identity()"
