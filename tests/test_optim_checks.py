"""Optimizers refuse state and gradients that do not fit their parameters (issue 12, item 1):
the fused Adam kernel checks no bounds, so a misfit once read and wrote out of bounds."""
import subprocess
import sys
import textwrap

import numpy
import pytest

from minigan import nn
from minigan.kernels import adam
from minigan.optim import SGD, Adam


def test_too_small_moments_are_refused_in_a_subprocess():
    """The reported segfault, run where a crash fails this test instead of killing pytest."""
    script = textwrap.dedent("""
        import numpy
        from minigan import nn
        from minigan.optim import Adam
        a, b = nn.Linear(2000, 2000), nn.Linear(2, 2)
        b.weight.data = b.weight.data.astype(numpy.float64)  # mixed dtypes: per-parameter kernels
        opt = Adam(list(a.parameters()) + list(b.parameters()))
        state = {i: {"step": 1, "exp_avg": numpy.zeros(1, numpy.float32), "exp_avg_sq": numpy.zeros(1, numpy.float32)}
                 for i in range(4)}
        try:
            opt.load_state_dict({"state": state, "param_groups": opt.state_dict()["param_groups"]})
        except ValueError as error:
            print(error)
            raise SystemExit(3)
        for p in opt.param_groups[0]["params"]:
            p.grad = numpy.ones(p.shape, p.dtype)
        opt.step()
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, (result.returncode, result.stderr)
    assert "state[0]['exp_avg'] has shape (1,), but parameter 0 has shape (2000, 2000)" in result.stdout


def test_moments_of_the_wrong_shape_are_refused_with_flat_buffers():
    layer = nn.Linear(3, 2)
    opt = Adam(layer.parameters())
    groups = opt.state_dict()["param_groups"]
    with pytest.raises(ValueError, match=r"state\[1\]\['exp_avg_sq'\] has shape \(1,\), but parameter 1 has shape \(2,\)"):
        opt.load_state_dict({"state": {1: {"step": 1, "exp_avg": numpy.zeros(2), "exp_avg_sq": numpy.zeros(1)}},
                             "param_groups": groups})
    with pytest.raises(ValueError, match=r"state 5 belongs to none of the parameters \[0, 1\]"):
        opt.load_state_dict({"state": {5: {"exp_avg": numpy.zeros(2)}}, "param_groups": groups})


@pytest.mark.parametrize("make", [Adam, lambda params: SGD(params, lr=0.1),
                                  lambda params: SGD(params, lr=0.1, momentum=0.9)])
def test_a_gradient_of_the_wrong_shape_is_refused_at_step(make):
    layer = nn.Linear(1000, 1000)
    opt = make(layer.parameters())
    before = layer.weight.data.copy()
    layer.weight.grad = numpy.ones(10, numpy.float32)  # would broadcast, or be read out of bounds
    layer.bias.grad = numpy.ones(1000, numpy.float32)
    with pytest.raises(ValueError, match=r"parameter 0 has shape \(1000, 1000\) but its .grad has shape \(10,\)"):
        opt.step()
    assert numpy.array_equal(layer.weight.data, before)


@pytest.mark.parametrize("make", [Adam, lambda params: SGD(params, lr=0.1)])
def test_a_parameter_listed_twice_is_refused(make):
    layer = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="parameter 2 is parameter 0 again; pass each parameter once"):
        make([layer.weight, layer.bias, layer.weight])


def test_the_cpu_kernel_checks_its_buffers():
    param = numpy.zeros(10, numpy.float32)
    with pytest.raises(ValueError, match=r"exp_avg is float32 \(1,\), expected float32 with 10 elements"):
        adam.adam_update_cpu(param, param.copy(), numpy.zeros(1, numpy.float32), param.copy(), 1,
                             1e-3, 0.9, 0.999, 1e-8, 0)
    with pytest.raises(ValueError, match="exp_avg_sq is updated in place and must be C-contiguous"):
        adam.adam_update_cpu(param, param.copy(), param.copy(), numpy.zeros(20, numpy.float32)[::2], 1,
                             1e-3, 0.9, 0.999, 1e-8, 0)
