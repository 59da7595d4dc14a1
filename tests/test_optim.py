"""The optimizers against torch.optim, step by step, the fused Adam update's contract, and misuse."""
import re

import numpy
import pytest

from minigan import Tensor, backend, nn
from minigan import functional as F
from minigan import optim
from support.parity import as_numpy, assert_close, assert_same_state, load_from_torch

torch = pytest.importorskip("torch", reason="PyTorch is the test oracle: pip install torch==2.13.0")
TF = torch.nn.functional

f64 = numpy.float64


def device_of(xp):
    return "cpu" if xp is numpy else "cuda"


def _mlp(lib):
    return lib.Sequential(lib.Linear(5, 4), lib.Tanh(), lib.Linear(4, 3))


@pytest.mark.parametrize("make_opts", [
    pytest.param(lambda mp, tp: (optim.SGD(mp, lr=0.1, momentum=0.9), torch.optim.SGD(tp, lr=0.1, momentum=0.9)),
                 id="sgd_momentum"),
    pytest.param(lambda mp, tp: (optim.SGD(mp, lr=0.05), torch.optim.SGD(tp, lr=0.05)), id="sgd"),
    pytest.param(lambda mp, tp: (optim.Adam(mp, lr=0.01, weight_decay=0.1),
                                 torch.optim.Adam(tp, lr=0.01, weight_decay=0.1)), id="adam_weight_decay"),
    pytest.param(lambda mp, tp: (optim.Adam(mp), torch.optim.Adam(tp)), id="adam_defaults"),
    pytest.param(lambda mp, tp: (optim.Adam(mp, lr=0.01, weight_decay=0.1, capturable=True),
                                 torch.optim.Adam(tp, lr=0.01, weight_decay=0.1)), id="adam_capturable"),
])
def test_optimizer_steps(xp, rng, make_opts):
    torch.manual_seed(2)
    theirs = _mlp(torch.nn).double()
    mine = _mlp(nn).to(device=device_of(xp), dtype=f64)
    load_from_torch(mine, theirs)
    mine_opt, theirs_opt = make_opts(mine.parameters(), theirs.parameters())
    for step in range(4):
        x, target = rng.standard_normal((6, 5)), rng.uniform(0, 1, (6, 3))
        mine_opt.zero_grad()
        theirs_opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(mine(Tensor(xp.asarray(x))), Tensor(xp.asarray(target)))
        t_loss = TF.binary_cross_entropy_with_logits(theirs(torch.from_numpy(x)), torch.from_numpy(target))
        loss.backward()
        t_loss.backward()
        mine_opt.step()
        theirs_opt.step()
        assert_close(loss, t_loss, f"loss at step {step + 1}")
        assert_same_state(mine, theirs, f"after step {step + 1}")


@pytest.mark.parametrize("make_opt", [
    pytest.param(lambda mp, tp: (optim.Adam(mp, lr=0.1), torch.optim.Adam(tp, lr=0.1)), id="adam"),
    pytest.param(lambda mp, tp: (optim.SGD(mp, lr=0.1, momentum=0.9), torch.optim.SGD(tp, lr=0.1, momentum=0.9)),
                 id="sgd_momentum"),
])
def test_optimizer_updates_a_non_contiguous_parameter(xp, rng, make_opt):
    """A Parameter made from a transposed array (not C-contiguous) is updated like any other."""
    values = rng.standard_normal((3, 4))
    mine = nn.Parameter(xp.asarray(values).T)
    assert not mine.data.flags.c_contiguous
    theirs = torch.tensor(values.T.copy(), requires_grad=True)
    mine_opt, theirs_opt = make_opt([mine], [theirs])
    for step in range(3):
        grad = rng.standard_normal((4, 3))
        mine.grad, theirs.grad = xp.asarray(grad), torch.from_numpy(grad.copy())
        mine_opt.step()
        theirs_opt.step()
        assert_close(mine, theirs, f"parameter after step {step + 1}")


def test_adam_skips_a_parameter_without_gradient_as_torch(xp, rng):
    """A parameter with no gradient in a step is not updated and its step count stays: then
    the parameters' steps differ, and each follows its own bias correction."""
    torch.manual_seed(3)
    theirs = _mlp(torch.nn).double()
    mine = _mlp(nn).to(device=device_of(xp), dtype=f64)
    load_from_torch(mine, theirs)
    mine_opt, theirs_opt = optim.Adam(mine.parameters(), lr=0.01), torch.optim.Adam(theirs.parameters(), lr=0.01)
    for step in range(4):
        frozen = step in (1, 2)  # the first layer sits out steps 2 and 3
        for p, q in zip(mine[0].parameters(), theirs[0].parameters()):
            p.requires_grad = q.requires_grad = not frozen
        x, target = rng.standard_normal((6, 5)), rng.uniform(0, 1, (6, 3))
        mine_opt.zero_grad()
        theirs_opt.zero_grad()
        F.binary_cross_entropy_with_logits(mine(Tensor(xp.asarray(x))), Tensor(xp.asarray(target))).backward()
        TF.binary_cross_entropy_with_logits(theirs(torch.from_numpy(x)), torch.from_numpy(target)).backward()
        mine_opt.step()
        theirs_opt.step()
        assert_same_state(mine, theirs, f"after step {step + 1}")
    assert [s["step"] for s in mine_opt.state.values()] == [2, 2, 4, 4]


def test_capturable_adam_counts_steps_on_the_device(xp, rng, monkeypatch):
    """capturable=True: the kernel gets the step as a device array, one array for all
    parameters, never a host number (a CUDA graph would replay that number forever);
    a checkpoint round trip keeps the count."""
    kernels = backend.kernels(xp)
    steps_seen = []
    fused = kernels.adam_update
    monkeypatch.setattr(kernels, "adam_update", lambda param, grad, m, v, step, *args, **options:
                        steps_seen.append(step) or fused(param, grad, m, v, step, *args, **options))
    model = _mlp(nn).to(device=device_of(xp), dtype=f64)
    opt = optim.Adam(model.parameters(), lr=0.01, capturable=True)
    for _ in range(3):
        opt.zero_grad()
        model(Tensor(xp.asarray(rng.standard_normal((6, 5))))).mean().backward()
        opt.step()
    count = opt.state[model[0].weight]["step"]
    assert all(step is count for step in steps_seen) and len(steps_seen) == 3
    assert all(s["step"] is count for s in opt.state.values())
    assert backend.array_module(count) is xp and int(count) == 3
    saved = opt.state_dict()
    assert [s["step"] for s in saved["state"].values()] == [3, 3, 3, 3]
    saved["state"] = {i: {k: as_numpy(v) if hasattr(v, "shape") else v for k, v in s.items()}
                      for i, s in saved["state"].items()}
    again = optim.Adam(model.parameters(), lr=0.01, capturable=True)
    again.load_state_dict(saved)
    count = again.state[model[0].weight]["step"]
    assert backend.array_module(count) is xp and int(count) == 3
    assert all(s["step"] is count for s in again.state.values())


def test_adam_steps_every_parameter_in_one_kernel_call(xp, rng, monkeypatch):
    """Gradients land in one flat buffer and the update is one call of the fused kernel
    (on a GPU: one launch), however many parameters there are."""
    kernels = backend.kernels(xp)
    calls = []
    fused = kernels.adam_update
    monkeypatch.setattr(kernels, "adam_update", lambda param, *args, **options: calls.append(param.size) or
                        fused(param, *args, **options))
    model = _mlp(nn).to(device=device_of(xp), dtype=f64)
    sizes = [p.numel() for p in model.parameters()]
    opt = optim.Adam(model.parameters(), lr=0.01)
    for step in range(3):
        opt.zero_grad()
        x = Tensor(xp.asarray(rng.standard_normal((6, 5))))
        (model(x) * model(x)).mean().backward()  # two uses: gradients accumulate in place
        before = [p.data.copy() for p in model.parameters()]
        opt.step()
        assert calls == [sum(sizes)] * (step + 1)
        assert all(not numpy.array_equal(as_numpy(b), as_numpy(p)) for b, p in zip(before, model.parameters()))


# --- misuse ---------------------------------------------------------------------------

def test_capturable_adam_needs_every_gradient():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="capturable=True.*one device, of one dtype"):
        optim.Adam([model.weight, Tensor(numpy.zeros(2), requires_grad=True)], capturable=True)
    opt = optim.Adam(model.parameters(), capturable=True)
    model.weight.grad_buffer[...] = 1.0
    model.weight.grad = model.weight.grad_buffer  # the bias has no gradient
    with pytest.raises(RuntimeError, match=re.escape("parameters [1] have no gradient")):
        opt.step()


def test_optimizer_rejects_an_empty_parameter_list():
    with pytest.raises(ValueError, match="Adam got an empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match=re.escape("Invalid momentum value: -0.5")):
        optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1, momentum=-0.5)
