"""Real-data statistics: computed once from the data set, written atomically in pytorch-fid's .npz
format (mu, sigma), read back on later calls. A tiny fake data set stands in for CIFAR-10."""
import numpy
import pytest

from minigan.data import fake
from minigan.metrics import InceptionV3, fid_statistics, inception_outputs, load_statistics, statistics
from minigan.metrics import reference


@pytest.fixture(scope="module")
def model():
    return InceptionV3(resize_input=False)  # minigan's random initial weights, 75x75 inputs


@pytest.fixture
def data():
    """The fake data set, and how often it was asked for."""
    calls = []

    def images():
        calls.append(1)
        return fake(3, size=75, seed=1)[0]
    return images, calls


def test_statistics_are_computed_once_then_read_from_the_npz(tmp_path, model, data):
    images, calls = data
    mu, sigma = fid_statistics("fake", images, model, cache=tmp_path)
    expected = statistics(inception_outputs(fake(3, size=75, seed=1)[0], model)[0])
    numpy.testing.assert_allclose(mu, expected[0], rtol=1e-12)
    numpy.testing.assert_allclose(sigma, expected[1], rtol=1e-12)
    with numpy.load(tmp_path / "fake.npz") as stored:  # pytorch-fid's format
        assert sorted(stored.files) == ["mu", "sigma"]
        assert stored["mu"].shape == (2048,) and stored["sigma"].shape == (2048, 2048)
    again = fid_statistics("fake", images, model, cache=tmp_path)
    assert len(calls) == 1  # the second call read the file
    numpy.testing.assert_array_equal(again[0], mu)
    numpy.testing.assert_array_equal(again[1], sigma)


def test_an_interrupted_write_leaves_no_file_and_the_next_call_computes_again(tmp_path, model, data, monkeypatch):
    images, calls = data

    def interrupted(file, **arrays):
        file.write(b"PK\x03\x04 half a file")
        raise KeyboardInterrupt
    monkeypatch.setattr(reference.numpy, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fid_statistics("fake", images, model, cache=tmp_path)
    assert list(tmp_path.iterdir()) == []  # neither the target nor a temporary file
    monkeypatch.undo()
    fid_statistics("fake", images, model, cache=tmp_path)
    assert len(calls) == 2 and (tmp_path / "fake.npz").is_file()


@pytest.mark.parametrize("arrays, message", [
    (dict(mu=numpy.zeros(3)), "has ['mu'], not mu and sigma"),
    (dict(mu=numpy.zeros(3), sigma=numpy.zeros((3, 2))), "mu has shape (3,) and sigma (3, 2)"),
])
def test_a_statistics_file_of_another_shape_is_refused_naming_it(tmp_path, arrays, message):
    path = tmp_path / "stats.npz"
    numpy.savez(path, **arrays)
    with pytest.raises(ValueError) as raised:
        load_statistics(path)
    assert str(path) in str(raised.value) and message in str(raised.value)
