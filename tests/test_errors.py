"""Misuse raises a clear exception that names the shapes or values at fault.

Every `match=` spells out the actual shapes of the test, so a message that
says only "shape mismatch" fails.
"""
import re
import types

import numpy
import pytest

from minigan import Tensor, backend, nn, optim
from minigan import functional as F


def rx(text):
    """A regex matching text literally."""
    return re.escape(text)


@pytest.fixture
def ones(tensor):
    def make(*shape, dtype=numpy.float32, requires_grad=False):
        return tensor(numpy.ones(shape, dtype=dtype), requires_grad=requires_grad)
    return make


# --- convolution -------------------------------------------------------------

def test_conv2d_channel_mismatch(xp, ones):
    with pytest.raises(ValueError, match=rx("input has 3 channels (shape (2, 3, 5, 6)) but weight "
                                            "(4, 2, 3, 3) expects 2")):
        F.conv2d(ones(2, 3, 5, 6), ones(4, 2, 3, 3))


def test_conv_transpose2d_channel_mismatch(xp, ones):
    with pytest.raises(ValueError, match=rx("input has 3 channels (shape (1, 3, 4, 4)) but weight "
                                            "(2, 5, 3, 3) expects 2")):
        F.conv_transpose2d(ones(1, 3, 4, 4), ones(2, 5, 3, 3))


def test_conv2d_module_channel_mismatch(xp, ones):
    conv = nn.Conv2d(2, 4, 3).to(device="cpu" if xp is numpy else "cuda")
    with pytest.raises(ValueError, match=rx("input has 1 channels (shape (1, 1, 5, 5)) but weight "
                                            "(4, 2, 3, 3) expects 2")):
        conv(ones(1, 1, 5, 5))


@pytest.mark.parametrize("shape", [(3, 5, 5), (5, 5), (1, 1, 3, 5, 5)])
def test_conv_needs_4d_input(xp, ones, shape):
    with pytest.raises(ValueError, match=rx(f"conv2d: input must be 4-D (N, C, H, W), got shape {shape}")):
        F.conv2d(ones(*shape), ones(2, 3, 3, 3))
    with pytest.raises(ValueError, match=rx(f"conv_transpose2d: input must be 4-D (N, C, H, W), "
                                            f"got shape {shape}")):
        F.conv_transpose2d(ones(*shape), ones(3, 2, 3, 3))


def test_conv_needs_4d_weight(xp, ones):
    with pytest.raises(ValueError, match=rx("conv2d: weight must be 4-D (N, C, H, W), got shape (2, 3, 3)")):
        F.conv2d(ones(1, 3, 5, 5), ones(2, 3, 3))


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (1, 3, 2, 2, 2)])
def test_batch_norm_needs_4d_input(xp, ones, shape):
    message = rx(f"batch_norm: input must be 4-D (N, C, H, W), got shape {shape}")
    with pytest.raises(ValueError, match=message):
        F.batch_norm(ones(*shape), None, None, training=True)
    bn = nn.BatchNorm2d(3).to(device="cpu" if xp is numpy else "cuda")
    with pytest.raises(ValueError, match=message):
        bn(ones(*shape))


def test_rejected_batch_is_not_counted(xp, ones):
    """As torch.nn.BatchNorm2d: an input refused for its shape leaves num_batches_tracked alone."""
    bn = nn.BatchNorm2d(3).to(device="cpu" if xp is numpy else "cuda")
    with pytest.raises(ValueError, match=rx("got shape (4, 3)")):
        bn(ones(4, 3))
    with pytest.raises(ValueError, match=rx("running_mean must have shape (2,) for input (4, 2, 2, 2), got (3,)")):
        bn(ones(4, 2, 2, 2))
    assert int(bn.num_batches_tracked.data) == 0
    bn(ones(4, 3, 2, 2))
    assert int(bn.num_batches_tracked.data) == 1


@pytest.mark.parametrize("input_hw,kernel,padding,padded", [
    ((3, 4), (5, 5), 0, (3, 4)),
    ((3, 4), (6, 3), 1, (5, 6)),
    ((8, 2), (3, 3), 0, (8, 2)),  # only the width is too small
])
def test_kernel_larger_than_padded_input(xp, ones, input_hw, kernel, padding, padded):
    message = (f"kernel {kernel} is larger than the padded input {padded} (input {input_hw}, "
               f"padding {(padding, padding)})")
    with pytest.raises(ValueError, match=rx(message)):
        F.conv2d(ones(1, 1, *input_hw), ones(1, 1, *kernel), padding=padding)


@pytest.mark.parametrize("stride", [0, -1, (1, 0), (-1, 2)])
def test_stride_must_be_positive(xp, ones, stride):
    for op, x, w in ((F.conv2d, ones(1, 1, 5, 5), ones(1, 1, 3, 3)),
                     (F.conv_transpose2d, ones(1, 1, 3, 3), ones(1, 1, 3, 3))):
        with pytest.raises(ValueError, match=rx(f"stride must be an int >= 1 or a pair of them, got {stride!r}")):
            op(x, w, stride=stride)


def test_stride_zero_in_a_module(xp, ones):
    conv = nn.Conv2d(1, 1, 3, stride=0).to(device="cpu" if xp is numpy else "cuda")
    with pytest.raises(ValueError, match=rx("stride must be an int >= 1 or a pair of them, got 0")):
        conv(ones(1, 1, 5, 5))


def test_negative_padding(xp, ones):
    with pytest.raises(ValueError, match=rx("padding must be an int >= 0 or a pair of them, got -1")):
        F.conv2d(ones(1, 1, 5, 5), ones(1, 1, 3, 3), padding=-1)


@pytest.mark.parametrize("stride,output_padding", [(1, 1), (2, 2), (2, 3), ((2, 1), (1, 1))])
def test_output_padding_must_be_smaller_than_stride(xp, ones, stride, output_padding):
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    message = f"output_padding {pair(output_padding)} must be smaller than stride {pair(stride)}"
    with pytest.raises(ValueError, match=rx(message)):
        F.conv_transpose2d(ones(1, 2, 3, 3), ones(2, 1, 3, 3), stride=stride, output_padding=output_padding)
    convt = nn.ConvTranspose2d(2, 1, 3, stride=stride, output_padding=output_padding)
    with pytest.raises(ValueError, match=rx(message)):
        convt.to(device="cpu" if xp is numpy else "cuda")(ones(1, 2, 3, 3))


def test_conv_transpose2d_empty_output(xp, ones):
    with pytest.raises(ValueError, match=rx("output size (0, 0) is empty for input (1, 1, 2, 2), kernel (1, 1), "
                                            "stride (1, 1), padding (1, 1)")):
        F.conv_transpose2d(ones(1, 1, 2, 2), ones(1, 1, 1, 1), padding=1)


def test_conv_bias_shape(xp, ones):
    with pytest.raises(ValueError, match=rx("conv2d: bias must have shape (4,), got (3,)")):
        F.conv2d(ones(1, 2, 5, 5), ones(4, 2, 3, 3), ones(3))
    with pytest.raises(ValueError, match=rx("conv_transpose2d: bias must have shape (5,), got (2,)")):
        F.conv_transpose2d(ones(1, 2, 3, 3), ones(2, 5, 3, 3), ones(2))


# --- other ops -----------------------------------------------------------------

def test_batch_norm_parameter_shapes(xp, ones):
    with pytest.raises(ValueError, match=rx("batch_norm: weight must have shape (3,) for input "
                                            "(2, 3, 4, 4), got (4,)")):
        F.batch_norm(ones(2, 3, 4, 4), None, None, ones(4), ones(3), training=True)
    with pytest.raises(ValueError, match=rx("batch_norm: running_var must have shape (3,) for input "
                                            "(2, 3, 4, 4), got (2,)")):
        F.batch_norm(ones(2, 3, 4, 4), ones(3), ones(2))


def test_batch_norm_training_needs_two_values_per_channel(xp, ones):
    with pytest.raises(ValueError, match=rx("more than 1 value per channel, got input shape (1, 3, 1, 1)")):
        F.batch_norm(ones(1, 3, 1, 1), None, None, training=True)


def test_batch_norm_eval_needs_running_statistics(xp, ones):
    with pytest.raises(ValueError, match="needs running_mean and running_var"):
        F.batch_norm(ones(2, 3, 2, 2), None, None, training=False)


def test_linear_shape_mismatch(xp, ones):
    with pytest.raises(ValueError, match=rx("linear: input (4, 3) does not match weight (2, 5)")):
        F.linear(ones(4, 3), ones(2, 5))
    with pytest.raises(ValueError, match=rx("linear: bias must have shape (2,), got (3,)")):
        F.linear(ones(4, 5), ones(2, 5), ones(3))


def test_matmul_shape_mismatch(xp, ones):
    with pytest.raises(ValueError, match=rx("matmul: cannot multiply shapes (2, 3) and (4, 5)")):
        ones(2, 3) @ ones(4, 5)


def test_reshape_size_mismatch(xp, ones):
    with pytest.raises(ValueError, match=rx("reshape: cannot reshape (2, 3) (6 elements) into (4, 2)")):
        ones(2, 3).reshape(4, 2)


def test_bce_target_shape(xp, ones):
    with pytest.raises(ValueError, match=rx("target shape (4,) does not match input shape (4, 1)")):
        F.binary_cross_entropy_with_logits(ones(4, 1), ones(4))


# --- autograd -------------------------------------------------------------------

def test_backward_on_a_non_scalar_needs_a_gradient(xp, ones):
    y = ones(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=rx("needs a scalar output, but this tensor has shape (2, 3)")):
        y.backward()


def test_backward_gradient_shape_must_match(xp, ones):
    y = ones(2, 3, requires_grad=True) * 2
    with pytest.raises(ValueError, match=rx("gradient shape (3,) does not match tensor shape (2, 3)")):
        y.backward(ones(3))


def test_backward_on_a_tensor_without_grad(xp, ones):
    with pytest.raises(RuntimeError, match="does not require grad"):
        (ones(2) * 2).sum().backward()


# --- backends and dtypes ----------------------------------------------------------

class _FakeCupyArray(numpy.ndarray):
    """Stands in for cupy.ndarray: a NumPy array that minigan.backend files under 'cupy'."""


@pytest.fixture
def other_backend(monkeypatch):
    """make(array): an array of the GPU backend: real CuPy where there is a GPU, else a stand-in.

    The stand-in is a module named 'cupy' whose ndarray is a NumPy subclass, patched in as
    minigan.backend.cupy. array_module() then reports it as the CuPy backend, so the
    backend check that ops run is exercised for real on a CPU-only machine.
    """
    try:
        cupy = backend.require_cupy()
        return cupy.asarray
    except RuntimeError:
        fake = types.ModuleType("cupy")
        fake.ndarray = _FakeCupyArray
        fake.asnumpy = lambda array: numpy.asarray(array).view(numpy.ndarray)
        monkeypatch.setattr(backend, "cupy", fake)
        return lambda array: numpy.asarray(array).view(_FakeCupyArray)


def _raised_in(excinfo, function):
    return any(entry.name == function for entry in excinfo.traceback)


def test_numpy_and_cupy_mixed_in_one_op(other_backend):
    cpu = Tensor(numpy.ones((2, 3), dtype=numpy.float32))
    gpu = Tensor(other_backend(numpy.ones((2, 3), dtype=numpy.float32)))
    assert backend.array_module(gpu.data) is not numpy  # the check below really sees two backends
    assert backend.array_module(gpu.data).__name__ == "cupy"
    with pytest.raises(TypeError, match=rx("Add: inputs mix NumPy and CuPy arrays (numpy (2, 3), cupy (2, 3))")) \
            as excinfo:
        cpu + gpu
    assert _raised_in(excinfo, "check_compatible")
    with pytest.raises(TypeError, match=rx("Mul: inputs mix NumPy and CuPy arrays (cupy (2, 3), numpy (2, 3))")):
        gpu * cpu


def test_numpy_and_cupy_mixed_in_conv2d(other_backend):
    x = Tensor(numpy.ones((1, 2, 4, 4), dtype=numpy.float32))
    weight = Tensor(other_backend(numpy.ones((3, 2, 3, 3), dtype=numpy.float32)), requires_grad=True)
    with pytest.raises(TypeError, match=rx("Conv2d: inputs mix NumPy and CuPy arrays "
                                           "(numpy (1, 2, 4, 4), cupy (3, 2, 3, 3))")) as excinfo:
        F.conv2d(x, weight)
    assert _raised_in(excinfo, "check_compatible")


def test_one_backend_passes_the_check(other_backend):
    """The same check lets two arrays of one backend through (it is not raising on everything)."""
    a = Tensor(other_backend(numpy.full((2, 2), 2.0, dtype=numpy.float32)))
    b = Tensor(other_backend(numpy.full((2, 2), 3.0, dtype=numpy.float32)))
    assert backend.check_compatible("Add", [a.data, b.data]) == [a.data, b.data]
    product = a * b
    assert backend.array_module(product.data) is backend.array_module(a.data)
    numpy.testing.assert_array_equal(backend.to_numpy(product.data), 6.0)


@pytest.mark.parametrize("op", [
    pytest.param(lambda a, b: a + b, id="add"), pytest.param(lambda a, b: a * b, id="mul"),
    pytest.param(lambda a, b: a / b, id="div"), pytest.param(lambda a, b: a - b, id="sub")])
def test_mixed_dtypes(xp, ones, op):
    a, b = ones(2, 3, dtype=numpy.float32), ones(3, dtype=numpy.float64)
    with pytest.raises(TypeError, match=rx("inputs mix dtypes (float32 (2, 3), float64 (3,))")):
        op(a, b)


def test_mixed_dtypes_in_conv2d(xp, ones):
    with pytest.raises(TypeError, match=rx("Conv2d: inputs mix dtypes (float32 (1, 2, 4, 4), "
                                           "float64 (3, 2, 3, 3))")):
        F.conv2d(ones(1, 2, 4, 4), ones(3, 2, 3, 3, dtype=numpy.float64))


def test_float64_input_into_a_float32_module(xp, ones):
    lin = nn.Linear(3, 2).to(device="cpu" if xp is numpy else "cuda")
    with pytest.raises(TypeError, match=rx("inputs mix dtypes (float64 (4, 3), float32 (2, 3), float32 (2,))")):
        lin(ones(4, 3, dtype=numpy.float64))


def test_unknown_device():
    with pytest.raises(ValueError, match=rx("unknown device 'tpu'")):
        nn.Linear(2, 2).to(device="tpu")


# --- state dicts and optimizers ------------------------------------------------------

def _model():
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm2d(4))


def test_load_state_dict_wrong_shape():
    state = dict(_model().state_dict())
    state["0.weight"] = numpy.zeros((3, 4), dtype=numpy.float32)
    with pytest.raises(ValueError, match=rx("0.weight has shape (3, 4) in the state dict but (4, 3) in the module")):
        _model().load_state_dict(state)


def test_load_state_dict_missing_key():
    state = dict(_model().state_dict())
    del state["1.running_var"]
    with pytest.raises(KeyError, match=rx("missing keys ['1.running_var'], unexpected keys []")):
        _model().load_state_dict(state)


def test_load_state_dict_unexpected_key():
    state = dict(_model().state_dict())
    state["2.weight"] = numpy.zeros(4, dtype=numpy.float32)
    with pytest.raises(KeyError, match=rx("missing keys [], unexpected keys ['2.weight']")):
        _model().load_state_dict(state)


def test_load_state_dict_not_strict_reports_instead():
    state = dict(_model().state_dict())
    del state["0.bias"]
    state["extra"] = numpy.zeros(1)
    assert _model().load_state_dict(state, strict=False) == (["0.bias"], ["extra"])


@pytest.mark.parametrize("kwargs", [dict(lr=-1.0), dict(betas=(1.0, 0.999)), dict(betas=(0.5, -0.1)),
                                    dict(eps=-1e-8), dict(weight_decay=-0.1)])
def test_adam_rejects_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError, match="Adam: invalid hyperparameters"):
        optim.Adam(nn.Linear(2, 2).parameters(), **kwargs)


def test_capturable_adam_needs_every_gradient_and_one_step_count():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="capturable=True.*one device, of one dtype"):
        optim.Adam([model.weight, model.weight], capturable=True)
    opt = optim.Adam(model.parameters(), capturable=True)
    model.weight.grad_buffer[...] = 1.0
    model.weight.grad = model.weight.grad_buffer  # the bias has no gradient
    with pytest.raises(RuntimeError, match=rx("parameters [1] have no gradient")):
        opt.step()
    with pytest.raises(ValueError, match=rx("one step count for all parameters; the state holds steps [2, 5]")):
        opt.load_state_dict({"0.step": 2, "1.step": 5, **{
            f"{index}.{key}": numpy.zeros(p.shape, numpy.float32)
            for index, p in enumerate(model.parameters()) for key in ("exp_avg", "exp_avg_sq")}})


def test_optimizer_rejects_an_empty_parameter_list():
    with pytest.raises(ValueError, match="Adam got an empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match=rx("SGD: invalid hyperparameters lr=0.1, momentum=-0.5")):
        optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1, momentum=-0.5)
