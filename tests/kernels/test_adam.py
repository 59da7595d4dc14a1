"""The fused Adam step (kernels/adam.py) on every backend, against a naive loop of torch.optim.Adam's update."""
import numpy
import pytest

from minigan.kernels import adam

DTYPES = [numpy.float32, numpy.float64]


def naive_adam(param, grads, lr, beta1, beta2, eps, weight_decay):
    """torch.optim.Adam's update (bias correction folded into the step size), one element at a time."""
    param = param.astype(numpy.float64).copy()
    m, v = numpy.zeros_like(param), numpy.zeros_like(param)
    for step, grad in enumerate(grads, start=1):
        for k in numpy.ndindex(*param.shape):
            g = grad[k] + weight_decay * param[k]
            m[k] = beta1 * m[k] + (1 - beta1) * g
            v[k] = beta2 * v[k] + (1 - beta2) * g * g
            step_size = lr / (1 - beta1 ** step)
            denom = (v[k] ** 0.5) / (1 - beta2 ** step) ** 0.5 + eps
            param[k] -= step_size * m[k] / denom
    return param, m, v


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_adam_update(kernel_backend, rng, dtype, weight_decay):
    k = kernel_backend
    lr, beta1, beta2, eps = 2e-3, 0.5, 0.999, 1e-8
    param0 = rng.standard_normal((3, 4)).astype(dtype)
    grads = [rng.standard_normal((3, 4)).astype(dtype) * 10 ** e for e in (-3, 0, 1)]
    expected, m_expected, v_expected = naive_adam(param0, grads, lr, beta1, beta2, eps, weight_decay)

    param, m, v = k.put(param0.copy()), k.put(numpy.zeros_like(param0)), k.put(numpy.zeros_like(param0))
    for step, grad in enumerate(grads, start=1):
        k.table.adam_update(param, k.put(grad), m, v, step, lr, beta1, beta2, eps, weight_decay)
    assert param.dtype == dtype
    rtol = {numpy.float32: 1e-5, numpy.float64: 1e-12}[dtype]
    numpy.testing.assert_allclose(k.get(param), expected, rtol=rtol)
    numpy.testing.assert_allclose(k.get(m), m_expected, rtol=rtol, atol=rtol * 1e-3)
    numpy.testing.assert_allclose(k.get(v), v_expected, rtol=rtol)
    assert numpy.abs(k.get(param) - param0).min() > 0  # every element moved


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("step_on_device", [False, True], ids=["host-step", "device-step"])
def test_emulated_adam_update_equals_the_cpu_kernel(emulated_gpu, dtype, weight_decay, step_on_device):
    """adam_update (bias corrections from the host) and adam_update_counted (the step read
    from device memory, for CUDA graphs) against the CPU kernel."""
    rng = numpy.random.default_rng(1)
    start = [rng.standard_normal((37, 29)).astype(dtype), numpy.zeros((37, 29), dtype),
             numpy.zeros((37, 29), dtype)]  # param, exp_avg, exp_avg_sq
    gpu_state, cpu_state = ([a.copy() for a in start] for _ in range(2))
    for step in range(1, 4):
        grad = rng.standard_normal((37, 29)).astype(dtype)
        device_step = numpy.array(step, dtype=numpy.int64) if step_on_device else step
        emulated_gpu.adam_update(*gpu_state[:1], grad, *gpu_state[1:], device_step, 2e-4, 0.5, 0.999, 1e-8,
                                 weight_decay)
        adam.adam_update_cpu(*cpu_state[:1], grad, *cpu_state[1:], step, 2e-4, 0.5, 0.999, 1e-8, weight_decay)
    for got, expected in zip(gpu_state, cpu_state):
        numpy.testing.assert_allclose(got, expected, rtol=1e-6 if dtype == numpy.float32 else 1e-13)
