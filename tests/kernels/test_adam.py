"""The fused Adam step (kernels/adam.py): its NumPy reference against a naive loop of
torch.optim.Adam's update, and every backend (Numba, the emulated GPU, a real one) against it,
for every option: L2 or decoupled (AdamW) weight decay, amsgrad, maximize, a device step."""
import numpy
import pytest

from minigan.kernels import adam

DTYPES = [numpy.float32, numpy.float64]
OPTIONS = [dict(), dict(weight_decay=0.05), dict(weight_decay=0.05, decoupled_weight_decay=True),
           dict(amsgrad=True), dict(amsgrad=True, weight_decay=0.05, maximize=True),
           dict(decoupled_weight_decay=True, weight_decay=0.1, amsgrad=True, maximize=True)]
OPTION_IDS = ["plain", "l2", "decoupled", "amsgrad", "amsgrad-l2-maximize", "all-decoupled"]


def naive_adam(param, grads, lr, beta1, beta2, eps, weight_decay=0.0, amsgrad=False,
               decoupled_weight_decay=False, maximize=False):
    """torch.optim.Adam's update (_single_tensor_adam), one element at a time: (param, m, v, vmax)."""
    param = param.astype(numpy.float64).copy()
    m, v, vmax = numpy.zeros_like(param), numpy.zeros_like(param), numpy.zeros_like(param)
    for step, grad in enumerate(grads, start=1):
        for k in numpy.ndindex(*param.shape):
            g = -grad[k] if maximize else grad[k]
            if decoupled_weight_decay:
                param[k] *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * param[k]
            m[k] = beta1 * m[k] + (1 - beta1) * g
            v[k] = beta2 * v[k] + (1 - beta2) * g * g
            vmax[k] = max(vmax[k], v[k])
            step_size = lr / (1 - beta1 ** step)
            denom = ((vmax[k] if amsgrad else v[k]) ** 0.5) / (1 - beta2 ** step) ** 0.5 + eps
            param[k] -= step_size * m[k] / denom
    return param, m, v, vmax


def gradients(rng, shape, dtype):
    """Gradients whose scale drops and rises, so that amsgrad's maximum differs from v."""
    return [rng.standard_normal(shape).astype(dtype) * 10 ** e for e in (1, -2, 0, 1, -3)]


def run(update, param0, grads, put, options, step_of=int):
    """update (a kernel table's adam_update, or the reference) over grads from param0: the state."""
    amsgrad = options.get("amsgrad", False)
    state = [put(param0.copy())] + [put(numpy.zeros_like(param0)) for _ in range(3)]
    kwargs = {k: v for k, v in options.items() if k not in ("amsgrad", "weight_decay")}
    for step, grad in enumerate(grads, start=1):
        update(state[0], put(grad), state[1], state[2], step_of(step), 2e-3, 0.5, 0.999, 1e-8,
               options.get("weight_decay", 0.0), max_exp_avg_sq=state[3] if amsgrad else None, **kwargs)
    return state


@pytest.mark.parametrize("options", OPTIONS, ids=OPTION_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_reference_against_a_naive_loop(rng, dtype, options):
    param0, grads = rng.standard_normal((3, 4)).astype(dtype), gradients(rng, (3, 4), dtype)
    expected = naive_adam(param0, grads, 2e-3, 0.5, 0.999, 1e-8, **options)
    got = run(adam.adam_update_reference, param0, grads, numpy.asarray, options)
    assert got[0].dtype == dtype
    rtol = {numpy.float32: 1e-5, numpy.float64: 1e-12}[dtype]
    names = ["param", "exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if options.get("amsgrad") else [])
    for name, a, b in zip(names, got, expected):
        numpy.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-3, err_msg=name)
    assert numpy.abs(got[0] - param0).min() > 0  # every element moved
    if options.get("amsgrad"):
        assert (got[3] > got[2]).any()  # the maximum is not just v


@pytest.mark.parametrize("options", OPTIONS, ids=OPTION_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_every_backend_against_the_reference(kernel_backend, rng, dtype, options):
    k = kernel_backend
    param0, grads = rng.standard_normal((37, 29)).astype(dtype), gradients(rng, (37, 29), dtype)
    expected = run(adam.adam_update_reference, param0, grads, numpy.asarray, options)
    got = run(k.table.adam_update, param0, grads, k.put, options)
    rtol = 1e-6 if dtype == numpy.float32 else 1e-13
    for index, (a, b) in enumerate(zip(got, expected)):
        numpy.testing.assert_allclose(k.get(a), b, rtol=rtol, atol=rtol * 1e-3, err_msg=f"buffer {index}")


@pytest.mark.parametrize("options", [OPTIONS[0], OPTIONS[-1]], ids=[OPTION_IDS[0], OPTION_IDS[-1]])
def test_emulated_step_read_on_the_device_equals_the_host_step(emulated_gpu, rng, options):
    """adam_update_counted (the step read from device memory, for CUDA graphs) as adam_update."""
    param0, grads = rng.standard_normal((37, 29)), gradients(rng, (37, 29), numpy.float64)
    host = run(emulated_gpu.adam_update, param0, grads, numpy.asarray, options)
    device = run(emulated_gpu.adam_update, param0, grads, numpy.asarray, options,
                 step_of=lambda step: numpy.array(step, dtype=numpy.int64))
    for a, b in zip(device, host):
        numpy.testing.assert_array_equal(a, b)


def test_the_kernels_check_their_buffers(kernel_backend):
    k = kernel_backend
    param = k.put(numpy.zeros(10, numpy.float32))
    with pytest.raises(ValueError, match=r"max_exp_avg_sq is float32 \(9,\), expected float32 with 10 elements"):
        k.table.adam_update(param, param.copy(), param.copy(), param.copy(), 1, 1e-3, 0.9, 0.999, 1e-8, 0,
                            max_exp_avg_sq=k.put(numpy.zeros(9, numpy.float32)))
