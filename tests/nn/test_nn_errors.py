"""Misuse of modules raises a clear exception that names the shapes or values at fault: wrong
inputs, devices and dtypes, and state dicts that do not fit. (The ops' own bad inputs are in
tests/ops/specs/.)"""
import re

import numpy
import pytest

from minigan import nn


def rx(text):
    """A regex matching text literally."""
    return re.escape(text)


def device_of(xp):
    return "cpu" if xp is numpy else "cuda"


@pytest.fixture
def ones(tensor):
    def make(*shape, dtype=numpy.float32):
        return tensor(numpy.ones(shape, dtype=dtype))
    return make


def test_conv2d_module_channel_mismatch(xp, ones):
    conv = nn.Conv2d(2, 4, 3).to(device=device_of(xp))
    with pytest.raises(ValueError, match=rx("input has 1 channels (shape (1, 1, 5, 5)) but weight "
                                            "(4, 2, 3, 3) expects 2")):
        conv(ones(1, 1, 5, 5))


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (1, 3, 2, 2, 2)])
def test_batchnorm2d_needs_4d_input(xp, ones, shape):
    bn = nn.BatchNorm2d(3).to(device=device_of(xp))
    with pytest.raises(ValueError, match=rx(f"batch_norm: input must be 4-D (N, C, H, W), got shape {shape}")):
        bn(ones(*shape))


def test_rejected_batch_is_not_counted(xp, ones):
    """As torch.nn.BatchNorm2d: an input refused for its shape leaves num_batches_tracked alone."""
    bn = nn.BatchNorm2d(3).to(device=device_of(xp))
    with pytest.raises(ValueError, match=rx("got shape (4, 3)")):
        bn(ones(4, 3))
    with pytest.raises(ValueError, match=rx("running_mean must have shape (2,) for input (4, 2, 2, 2), got (3,)")):
        bn(ones(4, 2, 2, 2))
    assert int(bn.num_batches_tracked.data) == 0
    bn(ones(4, 3, 2, 2))
    assert int(bn.num_batches_tracked.data) == 1


def test_stride_zero_in_a_module(xp, ones):
    conv = nn.Conv2d(1, 1, 3, stride=0).to(device=device_of(xp))
    with pytest.raises(ValueError, match=rx("stride must be an int >= 1 or a pair of them, got 0")):
        conv(ones(1, 1, 5, 5))


@pytest.mark.parametrize("stride,output_padding", [(1, 1), (2, 2), (2, 3), ((2, 1), (1, 1))])
def test_conv_transpose2d_module_output_padding_must_be_smaller_than_stride(xp, ones, stride, output_padding):
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    convt = nn.ConvTranspose2d(2, 1, 3, stride=stride, output_padding=output_padding).to(device=device_of(xp))
    with pytest.raises(ValueError, match=rx(f"output_padding {pair(output_padding)} must be smaller than "
                                            f"stride {pair(stride)}")):
        convt(ones(1, 2, 3, 3))


def test_float64_input_into_a_float32_module(xp, ones):
    lin = nn.Linear(3, 2).to(device=device_of(xp))
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
