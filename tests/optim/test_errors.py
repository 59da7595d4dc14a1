"""Bad optimizer arguments are refused with torch's own messages (checked against torch itself),
and the few things minigan refuses where torch does not, with a message naming them."""
import re

import numpy
import pytest

from minigan import Tensor, nn, optim

torch = pytest.importorskip("torch", reason="PyTorch is the test oracle: pip install torch==2.13.0")

BAD = [
    ("SGD", dict(lr=-0.1)),
    ("SGD", dict(lr=0.1, momentum=-0.5)),
    ("SGD", dict(lr=0.1, weight_decay=-1e-4)),
    ("SGD", dict(lr=0.1, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)),
    ("Adam", dict(lr=-1.0)),
    ("Adam", dict(eps=-1e-8)),
    ("Adam", dict(betas=(1.0, 0.999))),
    ("Adam", dict(betas=(0.5, -0.1))),
    ("Adam", dict(weight_decay=-0.1)),
    ("AdamW", dict(lr=-1e-3)),
    ("AdamW", dict(betas=(0.9, 1.0))),
    ("AdamW", dict(weight_decay=-0.01)),
    ("RMSprop", dict(lr=-0.01)),
    ("RMSprop", dict(alpha=-0.9)),
    ("RMSprop", dict(eps=-1.0)),
    ("RMSprop", dict(momentum=-0.1)),
    ("RMSprop", dict(weight_decay=-0.1)),
]


@pytest.mark.parametrize("name, kwargs", BAD, ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw in BAD])
def test_bad_hyperparameters_raise_torchs_error(name, kwargs):
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError, match=f"^{re.escape(str(theirs.value))}$"):
        getattr(optim, name)([Tensor(numpy.zeros(2), requires_grad=True)], **kwargs)


def test_a_bad_value_in_a_param_group_is_refused_too():
    params = [Tensor(numpy.zeros(2), requires_grad=True), Tensor(numpy.zeros(3), requires_grad=True)]
    with pytest.raises(ValueError, match=re.escape("Invalid beta parameter at index 1: 1.5")):
        optim.Adam([{"params": params[:1]}, {"params": params[1:], "betas": (0.9, 1.5)}])


@pytest.mark.parametrize("params, error, message", [
    (lambda p: [], ValueError, "SGD got an empty parameter list"),
    (lambda p: p[0], TypeError, "params argument given to the optimizer should be an iterable of Tensors or dicts, "
                                "but got Tensor"),
    (lambda p: set(p), TypeError, "should be an iterable of Tensors or dicts, but got set"),
    (lambda p: [p[0], numpy.zeros(2)], TypeError, "optimizer can only optimize Tensors, but one of the params is "
                                                  "ndarray"),
    (lambda p: [p[0], p[1], p[0]], ValueError, "parameter 2 is parameter 0 again; pass each parameter once"),
    (lambda p: [{"params": p[:1]}, {"params": p}], ValueError,
     "some parameters appear in more than one parameter group"),
    (lambda p: [{"lr": 0.1}], TypeError, "a param group is a dict with a 'params' entry"),
], ids=["empty", "one-tensor", "set", "not-a-tensor", "twice", "two-groups", "no-params"])
def test_bad_parameter_lists_are_refused(params, error, message):
    tensors = [Tensor(numpy.zeros(2), requires_grad=True), Tensor(numpy.zeros(3), requires_grad=True)]
    with pytest.raises(error, match=re.escape(message)):
        optim.SGD(params(tensors), lr=0.1)


def test_zero_grad_sets_to_none_or_zeroes_in_place():
    layer = nn.Linear(3, 2)
    opt = optim.SGD(layer.parameters(), lr=0.1)
    layer.weight.grad = layer.weight.grad_buffer
    layer.weight.grad[...] = 1.0
    opt.zero_grad(set_to_none=False)
    assert layer.weight.grad is layer.weight.grad_buffer and not layer.weight.grad.any()
    assert layer.bias.grad is None
    opt.zero_grad()
    assert layer.weight.grad is None
