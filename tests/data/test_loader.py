"""Batches: per-epoch shuffling that is a pure function of (seed, epoch); normalize to [-1, 1]."""

import numpy as np
import pytest

from minigan.data import Batches, normalize


def numbered(n):
    """n images of shape (1, 2, 2); image k is filled with the value k, so batches show which images they hold."""
    return np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, 1, 2, 2)).copy()


def ids(batch):
    return batch[:, 0, 0, 0].tolist()


def test_epoch_is_the_documented_permutation_in_batches():
    batches = Batches(numbered(10), batch_size=3, seed=5)
    assert len(batches) == 3
    order = np.random.default_rng([5, 2]).permutation(10).tolist()
    got = [ids(b) for b in batches.epoch(2)]
    assert got == [order[0:3], order[3:6], order[6:9]]  # the 10th image is the dropped partial batch


def test_keep_last_partial_batch():
    batches = Batches(numbered(10), batch_size=3, seed=0, drop_last=False)
    assert len(batches) == 4
    sizes = [len(b) for b in batches.epoch(0)]
    assert sizes == [3, 3, 3, 1]
    assert sorted(sum((ids(b) for b in batches.epoch(0)), [])) == list(range(10))


def test_each_epoch_has_distinct_images_and_a_new_order():
    batches = Batches(numbered(200), batch_size=16, seed=1)
    orders = [sum((ids(b) for b in batches.epoch(e)), []) for e in range(3)]
    for order in orders:
        assert len(order) == 192 and len(set(order)) == 192
    assert orders[0] != orders[1] != orders[2] != orders[0]


def test_order_is_deterministic_per_seed_and_epoch():
    images = numbered(50)
    a, b, c = Batches(images, 8, seed=3), Batches(images, 8, seed=3), Batches(images, 8, seed=4)
    epoch = lambda batches, e: [ids(x) for x in batches.epoch(e)]
    assert epoch(a, 7) == epoch(b, 7)
    assert epoch(a, 7) != epoch(c, 7)


def test_random_access_matches_iteration_in_any_order():
    batches = Batches(numbered(40), batch_size=6, seed=9)
    expected = {e: [ids(b) for b in Batches(numbered(40), 6, seed=9).epoch(e)] for e in (0, 1)}
    for e, i in [(1, 4), (0, 0), (1, 4), (1, 0), (0, 5)]:  # switching epochs must not reuse a stale order
        assert ids(batches.batch(e, i)) == expected[e][i]


def test_batch_index_out_of_range():
    batches = Batches(numbered(10), batch_size=3, seed=0)
    with pytest.raises(IndexError, match="batch index 3 out of range: epoch has 3 batches"):
        batches.batch(0, 3)


def test_batches_keep_uint8():
    batch = Batches(numbered(10), batch_size=4, seed=0).batch(0, 0)
    assert batch.dtype == np.uint8 and batch.shape == (4, 1, 2, 2)


@pytest.mark.parametrize("images, batch_size, message", [
    (numbered(10), 11, "batch_size must be in 1..10 .* got 11"),
    (numbered(10), 0, "batch_size must be in 1..10 .* got 0"),
    (numbered(10), -2, "got -2"),
    (numbered(10), 2.5, "got 2.5"),
    (numbered(10).astype(np.float32), 2, "4-D uint8 .* got ndarray float32 shape \\(10, 1, 2, 2\\)"),
    (numbered(10)[:, 0], 2, "4-D uint8 .* got ndarray uint8 shape \\(10, 2, 2\\)"),
    ([[[[0]]]], 1, "4-D uint8 .* got list"),
])
def test_bad_input_names_the_values(images, batch_size, message):
    with pytest.raises(ValueError, match=message):
        Batches(images, batch_size, seed=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_maps_0_to_minus_1_and_255_to_1(dtype):
    batch = np.array([0, 51, 255], np.uint8).reshape(1, 1, 1, 3)
    x = normalize(batch, np, dtype)
    assert isinstance(x, np.ndarray) and x.dtype == dtype
    np.testing.assert_array_equal(x.ravel(), np.array([-1.0, -0.6, 1.0], dtype))


@pytest.mark.parametrize("device", ["numpy", "emulated-cupy"])
def test_normalized_is_the_normalized_batch_laid_out_batch_innermost(request, device):
    """normalized(e, i) holds normalize(batch(e, i)) bit for bit (the last, partial batch too),
    in the memory the first convolution reads: a C-contiguous (C, H, W, N) buffer."""
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, size=(7, 3, 2, 5), dtype=np.uint8)
    xp = np if device == "numpy" else request.getfixturevalue("emulated_cupy")
    batches = Batches(images, batch_size=3, seed=1, drop_last=False, xp=xp)
    for i in range(len(batches)):
        x = batches.normalized(2, i, np.float32).transpose(3, 0, 1, 2)  # the NCHW view
        assert x.dtype == np.float32 and x.transpose(1, 2, 3, 0).flags.c_contiguous
        want = normalize(Batches(images, 3, seed=1, drop_last=False).batch(2, i), np, np.float32)
        np.testing.assert_array_equal(xp.asnumpy(x) if xp is not np else x, want)
    with pytest.raises(IndexError, match="batch index 3 out of range: epoch has 3 batches"):
        batches.normalized(0, 3, np.float32)


def test_normalize_refuses_non_uint8():
    with pytest.raises(ValueError, match="uint8 batch, got float32"):
        normalize(np.zeros((1, 1, 1, 1), np.float32), np, np.float32)


@pytest.mark.gpu
def test_normalize_on_cupy():
    cupy = pytest.importorskip("cupy")
    try:
        cupy.cuda.runtime.getDeviceCount()
    except Exception:
        pytest.skip("no CUDA device")
    x = normalize(np.array([[[[0, 255]]]], np.uint8), cupy, np.float32)
    assert isinstance(x, cupy.ndarray) and x.dtype == np.float32
    np.testing.assert_array_equal(cupy.asnumpy(x).ravel(), [-1.0, 1.0])


def test_batch_labels_are_those_of_the_batch_images():
    images = numbered(20)
    batches = Batches(images, batch_size=6, seed=2, labels=np.arange(20)[::-1].copy())
    for e in (0, 1):
        for i in range(len(batches)):
            assert batches.batch_labels(e, i).tolist() == [19 - k for k in ids(batches.batch(e, i))]
    assert batches.batch_labels(0, 0).dtype == np.int64


@pytest.mark.parametrize("labels, message", [
    (np.zeros(9, dtype=np.int64), "shape \\(10,\\), one per image, got ndarray int64 shape \\(9,\\)"),
    (np.zeros(10), "integer numpy array .* got ndarray float64"),
    (list(range(10)), "got list"),
])
def test_bad_labels_are_refused(labels, message):
    with pytest.raises(ValueError, match=message):
        Batches(numbered(10), 2, seed=0, labels=labels)
    with pytest.raises(ValueError, match="no labels"):
        Batches(numbered(10), 2, seed=0).batch_labels(0, 0)
