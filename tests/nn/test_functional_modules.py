"""The modules of issue 14's functions (Dropout, Dropout2d, AdaptiveAvgPool2d, Upsample,
Embedding, Softmax, CrossEntropyLoss, MSELoss, BCEWithLogitsLoss) against torch.nn's: arguments,
defaults, repr, train/eval, initialisation and state, and forward/backward on the same inputs.
The functions themselves are checked through their specs in tests/ops/specs/.
"""
import contextlib
import math
import warnings

import numpy
import pytest

import minigan
from minigan import Tensor, nn
from support.parity import assert_close


def both(torch, name, *args, **kwargs):
    return getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)


REPRS = [("Dropout", (), {}), ("Dropout", (0.3,), {}), ("Dropout2d", (0.1,), {}),
         ("AdaptiveAvgPool2d", ((3, None),), {}), ("AdaptiveAvgPool2d", (1,), {}),
         ("Upsample", (), dict(scale_factor=2)), ("Upsample", (), dict(scale_factor=(1.5, 2))),
         ("Upsample", (), dict(size=(3, 4), mode="bilinear", align_corners=True)),
         ("Embedding", (10, 3), {}), ("Embedding", (10, 3), dict(padding_idx=-2)),
         ("Embedding", (10, 3), dict(padding_idx=0, max_norm=1.0, norm_type=1.0, scale_grad_by_freq=True)),
         ("Softmax", (), dict(dim=1)), ("Softmax", (), {})]


@pytest.mark.parametrize("name, args, kwargs", REPRS, ids=[f"{r[0]}-{i}" for i, r in enumerate(REPRS)])
def test_repr_is_torchs(torch, name, args, kwargs):
    mine, theirs = both(torch, name, *args, **kwargs)
    assert mine.extra_repr() == theirs.extra_repr() and repr(mine) == repr(theirs)


@pytest.mark.parametrize("name", ["Dropout", "Dropout2d"])
def test_dropout_modules_drop_in_training_mode_only(name):
    module = getattr(nn, name)(0.5)
    x = Tensor(numpy.ones((8, 6, 2, 2), numpy.float32))
    y = module(x).data
    assert set(numpy.unique(y)) == {0.0, 2.0}
    if name == "Dropout2d":
        assert (y == y[:, :, :1, :1]).all()
    module.eval()
    assert module(x) is x
    module.train()
    assert (module(x).data == 0).any()
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        getattr(nn, name)(1.5)


def test_embedding_init_is_standard_normal_with_the_padding_row_zero():
    minigan.manual_seed(0)
    embedding = nn.Embedding(1000, 64, padding_idx=3)
    weight = embedding.weight.data
    assert weight.dtype == numpy.float32 and embedding.weight.requires_grad
    assert (weight[3] == 0).all()
    values = numpy.delete(weight, 3, axis=0).ravel()
    assert abs(values.mean()) < 6 / math.sqrt(values.size) and abs(values.std() - 1) < 6 * math.sqrt(2 / values.size)
    minigan.manual_seed(0)
    numpy.testing.assert_array_equal(nn.Embedding(1000, 64, padding_idx=3).weight.data, weight)
    assert list(embedding.state_dict()) == ["weight"]


def test_embedding_forward_and_backward_equal_torchs(torch, rng):
    mine, theirs = both(torch, "Embedding", 12, 5, padding_idx=4)
    mine.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    indices = rng.integers(0, 12, size=(6, 7))
    out, expected = mine(Tensor(indices)), theirs(torch.from_numpy(indices))
    assert_close(out.data, expected, "output", 0)
    upstream = rng.standard_normal(out.shape).astype(numpy.float32)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    assert_close(mine.weight.grad, theirs.weight.grad, "weight gradient", 1e-6)
    assert (mine.weight.grad[4] == 0).all()


def test_embedding_from_pretrained_is_frozen_unless_asked(torch):
    weights = numpy.arange(12.0, dtype=numpy.float32).reshape(4, 3)
    frozen = nn.Embedding.from_pretrained(Tensor(weights))
    trainable = nn.Embedding.from_pretrained(weights, freeze=False)
    assert not frozen.weight.requires_grad and trainable.weight.requires_grad
    numpy.testing.assert_array_equal(frozen(Tensor(numpy.array([2, 0]))).data, weights[[2, 0]])
    assert frozen.extra_repr() == torch.nn.Embedding.from_pretrained(torch.from_numpy(weights)).extra_repr()
    with pytest.raises(ValueError, match="Embedding: padding_idx 4 must be within num_embeddings 4"):
        nn.Embedding(4, 3, padding_idx=4)


def test_loss_modules_print_as_torchs(torch):
    assert repr(nn.CrossEntropyLoss(weight=Tensor(numpy.ones(3)))) == repr(torch.nn.CrossEntropyLoss(weight=torch.ones(3)))
    assert [repr(getattr(nn, name)()) for name in ("MSELoss", "BCEWithLogitsLoss")] == ["MSELoss()", "BCEWithLogitsLoss()"]


LOSSES = [("CrossEntropyLoss", {}), ("CrossEntropyLoss", dict(reduction="sum", label_smoothing=0.1)),
          ("CrossEntropyLoss", dict(weight=True, ignore_index=2, reduction="none")),
          ("CrossEntropyLoss", dict(size_average=False)), ("MSELoss", {}), ("MSELoss", dict(reduction="none")),
          ("MSELoss", dict(reduce=False)), ("BCEWithLogitsLoss", {}), ("BCEWithLogitsLoss", dict(reduction="sum"))]


@pytest.mark.parametrize("name, kwargs", LOSSES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(LOSSES)])
def test_loss_modules_equal_torchs(torch, rng, name, kwargs):
    x = rng.standard_normal((6, 4))
    if name == "CrossEntropyLoss":
        target = rng.integers(0, 4, size=6)
    else:
        target = rng.uniform(size=(6, 4))
    weight = rng.uniform(0.5, 2.0, size=4) if kwargs.get("weight") else None
    mine_kwargs = dict(kwargs, weight=Tensor(weight)) if weight is not None else kwargs
    theirs_kwargs = dict(kwargs, weight=torch.from_numpy(weight)) if weight is not None else kwargs
    legacy = "size_average" in kwargs or "reduce" in kwargs
    with pytest.warns(UserWarning, match="size_average and reduce") if legacy else contextlib.nullcontext():
        mine = getattr(nn, name)(**mine_kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own legacy warning
        theirs = getattr(torch.nn, name)(**theirs_kwargs)
    assert mine.reduction == theirs.reduction
    assert list(mine.state_dict()) == list(theirs.state_dict())
    a, b = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = mine(a, Tensor(target)), theirs(b, torch.from_numpy(target))
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    assert_close(out.data, expected, "loss", 1e-12)
    assert_close(a.grad, b.grad, "input gradient", 1e-12)


@pytest.mark.parametrize("kwargs", [dict(scale_factor=2), dict(size=(7, 5), mode="bilinear"),
                                    dict(scale_factor=1.5, mode="bilinear", align_corners=True)])
def test_upsample_and_adaptive_pooling_equal_torchs(torch, rng, kwargs):
    x = rng.standard_normal((2, 3, 4, 6))
    for mine, theirs in (both(torch, "Upsample", **kwargs), both(torch, "AdaptiveAvgPool2d", (3, 4)),
                         both(torch, "Softmax", dim=1)):
        assert_close(mine(Tensor(x)).data, theirs(torch.from_numpy(x)), type(mine).__name__, 1e-12)


def test_bce_with_logits_loss_refuses_weights():
    with pytest.raises(NotImplementedError, match="BCEWithLogitsLoss: pos_weight is not supported"):
        nn.BCEWithLogitsLoss(pos_weight=Tensor(numpy.ones(3)))
