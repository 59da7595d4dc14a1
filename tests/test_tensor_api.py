"""The Tensor API around the ops (their values and gradients are in tests/ops/specs/): size(),
numel(), dim(), truth values, comparisons that carry no gradient, max(dim)'s (values, indices),
and the op names bound to Tensor and exported at the top level under torch's names."""
import inspect

import numpy
import pytest

import minigan
from minigan import Tensor
from minigan import functional as F
from minigan.functional import indexing, math, reduction, shape
from ops.specs import OPS
from minigan.backend import to_numpy

# Ops that torch has both as torch.NAME and as Tensor.NAME; minigan binds and exports each.
METHODS = ["abs", "argmax", "argmin", "chunk", "clamp", "eq", "exp", "flatten", "ge", "gt", "le", "log", "logsumexp",
           "lt", "max", "maximum", "mean", "min", "minimum", "ne", "permute", "pow", "reshape", "split", "sqrt",
           "squeeze", "std", "sum", "transpose", "unsqueeze", "var"]
TENSOR_ONLY = ["expand", "view"]  # Tensor methods in torch, no torch.NAME
TOP_LEVEL_ONLY = ["cat", "stack", "where", "matmul"]  # torch.NAME; where is also a method, with other arguments


def test_size_is_torchs_method(xp, tensor):
    x = tensor(numpy.zeros((2, 3, 4)))
    assert x.size() == (2, 3, 4) == x.shape and isinstance(x.size(), tuple)
    assert (x.size(0), x.size(1), x.size(-1), x.size(-3)) == (2, 3, 4, 2)
    assert x.numel() == 24 and x.dim() == 3
    scalar = tensor(2.0)
    assert scalar.size() == () and scalar.numel() == 1 and scalar.dim() == 0


@pytest.mark.parametrize("dim", [3, -4])
def test_size_of_a_missing_dim_names_the_shape(xp, tensor, dim):
    with pytest.raises(IndexError, match=rf"size\({dim}\): dim out of range for a tensor of shape \(2, 3, 4\) "
                                         r"\(expected a dim in \[-3, 2\]\)"):
        tensor(numpy.zeros((2, 3, 4))).size(dim)


def test_truth_value_is_torchs(xp, tensor):
    assert bool(tensor([1.0])) and not bool(tensor(0.0)) and bool(tensor([[2.0]]) > 1)
    with pytest.raises(RuntimeError, match=r"the truth value of a tensor of shape \(2,\) is ambiguous"):
        bool(tensor([1.0, 2.0]))  # not len() != 0, which an `if a == b:` would silently take


def test_comparisons_carry_no_gradient(xp, tensor):
    a = tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result in (a < 2, a <= 2, a > 2, a >= 2, a == 2, a != 2, 2 < a, a == a * 1):
        assert result.dtype == numpy.bool_ and not result.requires_grad and result.creator is None
    numpy.testing.assert_array_equal((2 <= a).numpy(), [False, True, True])


def test_a_tensor_stays_hashable_and_unequal_to_none(xp, tensor):
    a, b = tensor([1.0, 2.0]), tensor([1.0, 2.0])
    assert {a: "a", b: "b"}[b] == "b"  # keyed by identity, as torch: == returns a tensor
    assert (a == None) is False and (a != None) is True  # noqa: E711  (the operator is what is tested)


def test_max_along_a_dim_is_values_and_indices(xp, tensor):
    x = tensor([[1.0, 5.0, 5.0], [7.0, 0.0, 7.0]], requires_grad=True)
    result = x.max(1)
    values, indices = result  # a namedtuple, as torch.return_types.max
    assert result.values is values and result.indices is indices
    numpy.testing.assert_array_equal(values.numpy(), [5.0, 7.0])
    numpy.testing.assert_array_equal(indices.numpy(), [1, 0])  # the first of the tied elements
    assert indices.dtype == numpy.int64 and not indices.requires_grad
    values.sum().backward()
    numpy.testing.assert_array_equal(to_numpy(x.grad), [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    assert x.min(-1, keepdim=True).indices.shape == (2, 1)


def test_max_of_everything_shares_the_gradient_among_ties(xp, tensor):
    x = tensor([1.0, 3.0, 3.0, 2.0, 3.0], requires_grad=True)
    x.max().backward()
    numpy.testing.assert_allclose(to_numpy(x.grad), [0, 1 / 3, 1 / 3, 0, 1 / 3])


def test_repeated_positions_add_their_gradients(xp, tensor):
    x = tensor([10.0, 20.0, 30.0], requires_grad=True)
    positions = Tensor(xp.asarray([0, 2, 0, -3, 1]))
    x[positions].backward(xp.asarray([1.0, 2.0, 3.0, 4.0, 5.0], dtype=numpy.float32))
    numpy.testing.assert_array_equal(to_numpy(x.grad), [1.0 + 3.0 + 4.0, 5.0, 2.0])


def test_python_operators_reach_the_ops(xp, tensor):
    x = tensor([-1.0, 2.0], requires_grad=True)
    numpy.testing.assert_allclose(abs(x).numpy(), [1.0, 2.0])
    numpy.testing.assert_allclose((2 ** x).numpy(), [0.5, 4.0])
    numpy.testing.assert_allclose((x ** 2).numpy(), [1.0, 4.0])


@pytest.mark.parametrize("name", METHODS + TENSOR_ONLY)
def test_ops_are_tensor_methods_under_torchs_names(name, torch):
    assert hasattr(torch.Tensor, name)
    assert getattr(Tensor, name) is getattr(F, name)


@pytest.mark.parametrize("name", METHODS + TOP_LEVEL_ONLY)
def test_ops_are_exported_at_the_top_level_as_in_torch(name, torch):
    assert hasattr(torch, name)
    assert getattr(minigan, name) is getattr(F, name) and name in minigan.__all__


def test_every_op_of_these_families_has_a_spec():
    """A new op in math, reduction, shape or indexing needs its entry in tests/ops/specs/."""
    specified = {op.name for op in OPS}
    ops = {name for module in (math, reduction, shape, indexing) for name, fn in vars(module).items()
           if callable(fn) and getattr(fn, "__module__", None) == module.__name__ and not name.startswith("_")
           and inspect.isfunction(fn)}
    assert {"cat", "getitem", "max", "eq"} <= ops
    assert ops <= specified, f"no spec: {sorted(ops - specified)}"
