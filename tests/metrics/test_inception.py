"""minigan's Inception-v3 against pytorch-fid's, built in torch (tests/metrics/torch_fid_inception.py):
with the same random weights, saved by torch.save (legacy format) and read by minigan's torch-free reader, pool3
features and logits agree in float64, and so do FID, IS and KID computed on them."""
import numpy
import pytest

from minigan.metrics import (InceptionV3, InceptionWeightsMissing, fid_inception_v3, frechet_distance,
                             inception_outputs, inception_score, kernel_inception_distance)
from minigan.metrics import inception

from .references import fid_reference, inception_score_reference, kid_reference


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    """(torch's FID Inception in float64, the path of its float32 state dict as torch.save writes it)."""
    torch = pytest.importorskip("torch")
    from . import torch_fid_inception
    torch.manual_seed(0)
    net = torch_fid_inception.randomize(torch_fid_inception.FIDInception3(), seed=1)
    path = tmp_path_factory.mktemp("weights") / "pt_inception.pth"
    # float32 in torch's legacy format, as pytorch-fid's published file (made with torch < 1.6)
    torch.save(net.state_dict(), path, _use_new_zipfile_serialization=False)
    return torch, torch_fid_inception, net.double(), path


def torch_outputs(oracle, images, size):
    torch, module, net, _ = oracle
    with torch.no_grad():
        return [t.numpy() for t in module.pool3_and_logits(net, torch.from_numpy(images), size)]


@pytest.fixture(scope="module")
def model(oracle):
    """minigan's Inception in float64 with the oracle's weights, read from torch's file."""
    return fid_inception_v3(oracle[3], resize_input=False, dtype=numpy.float64)


@pytest.fixture(scope="module")
def outputs(oracle, model):
    """((features, logits) of minigan, (features, logits) of torch) of four images in [0, 1], 75x75
    (the smallest input Inception takes), in batches of 3 and 1."""
    images = numpy.random.default_rng(2).uniform(0, 1, (4, 3, 75, 75))
    return inception_outputs(images, model, batch_size=3), torch_outputs(oracle, images, size=None)


def test_state_dict_keys_and_shapes_are_pytorch_fids(oracle):
    ours = {key: tuple(value.shape) for key, value in InceptionV3().state_dict().items()}
    theirs = {key: tuple(value.shape) for key, value in oracle[2].state_dict().items()}
    assert ours == theirs


def test_pool3_features_and_logits_equal_torch_in_float64(outputs):
    (features, logits), (torch_features, torch_logits) = outputs
    assert features.shape == (4, 2048) and logits.shape == (4, 1008)
    assert numpy.std(torch_features) > 0.1  # the random weights keep the activations alive to the end
    numpy.testing.assert_allclose(features, torch_features, rtol=1e-9, atol=1e-12)
    numpy.testing.assert_allclose(logits, torch_logits, rtol=1e-9, atol=1e-12)


def test_the_resize_path_equals_torch(oracle, model, monkeypatch):
    """Bilinear resizing (align_corners=False) from 32x32, then 2x - 1: at 80x80 to stay fast (the
    299x299 run is the slow test below)."""
    monkeypatch.setattr(inception, "INPUT_SIZE", 80)
    monkeypatch.setattr(model, "resize_input", True)
    small = numpy.random.default_rng(3).uniform(0, 1, (1, 3, 32, 32))
    for ours, theirs in zip(inception_outputs(small, model), torch_outputs(oracle, small, size=80)):
        numpy.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


@pytest.mark.slow
def test_the_full_299_pipeline_equals_torch(oracle, model, monkeypatch):
    monkeypatch.setattr(model, "resize_input", True)
    small = numpy.random.default_rng(4).uniform(0, 1, (1, 3, 32, 32))
    for ours, theirs in zip(inception_outputs(small, model), torch_outputs(oracle, small, size=299)):
        numpy.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def test_fid_is_and_kid_on_these_features_equal_the_float64_references(outputs):
    (features, logits), (torch_features, torch_logits) = outputs
    numpy.testing.assert_allclose(frechet_distance(features[:2], features[2:]),
                                  fid_reference(torch_features[:2], torch_features[2:]), rtol=1e-9)
    numpy.testing.assert_allclose(inception_score(logits, splits=2),
                                  inception_score_reference(torch_logits, splits=2), rtol=1e-9)
    # Subsets of 2 of 2 samples are all alike: the std is 0, up to rounding.
    numpy.testing.assert_allclose(kernel_inception_distance(features[:2], features[2:], subsets=3, subset_size=2),
                                  kid_reference(torch_features[:2], torch_features[2:], subsets=3, subset_size=2),
                                  rtol=1e-9, atol=1e-12)


def test_uint8_and_grayscale_images_go_in_as_pytorch_fid_takes_them():
    """uint8 is divided by 255 (torchvision's ToTensor); one channel is repeated (PIL's convert('RGB'))."""
    gray = numpy.random.default_rng(5).integers(0, 256, (2, 1, 5, 4)).astype(numpy.uint8)
    got = inception.as_unit_images(gray)
    assert got.shape == (2, 3, 5, 4) and got.dtype == numpy.float32
    for channel in range(3):
        numpy.testing.assert_array_equal(got[:, channel], gray[:, 0].astype(numpy.float32) / 255)


@pytest.mark.parametrize("images, message", [
    (numpy.zeros((2, 3, 8)), "Inception takes images (N, 3, H, W) or (N, 1, H, W), got shape (2, 3, 8)"),
    (numpy.full((1, 3, 8, 8), 2.0), "Inception takes float images in [0, 1], got values in [2.0, 2.0]"),
])
def test_bad_images_are_refused_with_what_is_wrong(images, message):
    with pytest.raises(ValueError) as raised:
        inception.as_unit_images(images)
    assert message in str(raised.value)


def test_missing_weights_say_where_they_were_looked_for_and_how_to_get_them(tmp_path):
    path = tmp_path / "nowhere" / "pt_inception-2015-12-05-6726825d.pth"
    with pytest.raises(InceptionWeightsMissing) as raised:
        fid_inception_v3(path)
    message = str(raised.value)
    assert "\n" not in message
    assert str(path) in message
    assert f"curl -L --create-dirs -o {path} https://github.com/mseitzer/pytorch-fid/releases/download/" \
           f"fid_weights/pt_inception-2015-12-05-6726825d.pth" in message


def test_the_default_weights_are_in_minigans_cache_or_torch_hubs(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGAN_CACHE", str(tmp_path / "minigan"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    ours = tmp_path / "minigan" / inception.WEIGHTS_NAME
    assert inception.default_weights_path() == ours  # where the message tells to put it
    hub = tmp_path / "torch" / "hub" / "checkpoints" / inception.WEIGHTS_NAME
    hub.parent.mkdir(parents=True)
    hub.write_bytes(b"")
    assert inception.default_weights_path() == hub  # pytorch-fid downloaded it already
    ours.parent.mkdir(parents=True)
    ours.write_bytes(b"")
    assert inception.default_weights_path() == ours


def test_a_state_dict_of_another_network_is_refused_naming_the_keys(tmp_path):
    import minigan
    path = tmp_path / "other.pth"
    minigan.save({"fc.weight": numpy.zeros((1008, 2048), numpy.float32)}, path)
    with pytest.raises(ValueError, match=r"is not pytorch-fid's Inception state dict: missing keys "
                                         r"\['Conv2d_1a_3x3.conv.weight'"):
        fid_inception_v3(path)
