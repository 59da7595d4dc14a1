"""DataLoader and TensorDataset against torch.utils.data: the same batches, the same collation
(dtypes and structure), the same lengths; shuffling from a seed."""
import numpy as np
import pytest

import minigan
from minigan import Tensor
from minigan.data import DataLoader, LabeledImages, Subset, TensorDataset, default_collate
from support.nested import assert_same

torch = pytest.importorskip("torch", reason="PyTorch is the test oracle: pip install torch==2.13.0")


def as_numpy(batch):
    """A batch of minigan's or torch's as nested lists and NumPy arrays, for comparing."""
    if isinstance(batch, (Tensor, torch.Tensor)):
        return batch.numpy()
    if isinstance(batch, dict):
        return {k: as_numpy(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return [as_numpy(v) for v in batch]
    return batch


def assert_same_batches(mine, theirs):
    mine, theirs = [as_numpy(b) for b in mine], [as_numpy(b) for b in theirs]
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        assert_same(a, b)


class Samples:
    """An indexable dataset of samples built by make(i), as a user's Dataset subclass would be."""

    def __init__(self, n, make):
        self.n, self.make = n, make

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.make(i)


SAMPLE_KINDS = {
    "image and int label": lambda i: (np.full((2, 3, 3), i, np.float32), i % 3),
    "float and bool": lambda i: (i / 4, i % 2 == 0),
    "numpy scalars": lambda i: (np.float32(i), np.int32(-i), np.bool_(i > 2)),
    "dict with a string": lambda i: {"x": np.arange(3, dtype=np.int16) + i, "name": f"s{i}", "y": [i, 2 * i]},
    "0-d arrays": lambda i: np.array(i * 1.5),
}


@pytest.mark.parametrize("kind", SAMPLE_KINDS)
@pytest.mark.parametrize("batch_size, drop_last", [(1, False), (3, False), (3, True), (7, False), (8, True)])
def test_batches_match_torch_in_order(kind, batch_size, drop_last):
    dataset = Samples(7, SAMPLE_KINDS[kind])  # torch collates NumPy samples too: one dataset for both
    mine = DataLoader(dataset, batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(dataset, batch_size=batch_size, drop_last=drop_last)
    assert len(mine) == len(theirs)
    assert_same_batches(list(mine), list(theirs))


def test_the_default_is_one_sample_per_batch_in_order():
    batches = list(DataLoader(Samples(3, lambda i: (np.ones(2) * i, i))))
    assert [b[1].numpy().tolist() for b in batches] == [[0], [1], [2]]
    assert batches[2][0].shape == (1, 2)


def test_tensor_dataset_matches_torch():
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    y = np.arange(10) % 4
    mine = DataLoader(TensorDataset(Tensor(x), Tensor(y)), batch_size=4)
    theirs = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                         batch_size=4)
    assert_same_batches(list(mine), list(theirs))
    row = TensorDataset(Tensor(x), y)[-1]
    assert isinstance(row[0], Tensor) and isinstance(row[1], np.integer) and row[1] == 1


def test_a_subset_gives_the_items_at_its_indices_as_torch():
    dataset = Samples(10, lambda i: (np.full(2, i), i))
    indices = [7, 2, 2, 9]
    mine = DataLoader(Subset(dataset, indices), batch_size=3)
    theirs = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, indices), batch_size=3)
    assert len(Subset(dataset, range(4))) == 4
    assert_same_batches(list(mine), list(theirs))


def ids(loader):
    return [b.numpy().tolist() for b in loader]


def test_shuffle_covers_every_sample_once_per_epoch_and_reshuffles():
    loader = DataLoader(Samples(10, lambda i: i), batch_size=3, shuffle=True, seed=4)
    first, second = ids(loader), ids(loader)
    assert [len(b) for b in first] == [3, 3, 3, 1]
    assert sorted(sum(first, [])) == list(range(10)) and sorted(sum(second, [])) == list(range(10))
    assert first != second  # each epoch its own order
    expected = np.random.default_rng(4)  # the documented generator
    assert sum(first, []) == expected.permutation(10).tolist()
    assert sum(second, []) == expected.permutation(10).tolist()


def test_the_same_seed_gives_the_same_epochs_and_drop_last_drops_the_partial_batch():
    a, b = (DataLoader(Samples(10, lambda i: i), batch_size=4, shuffle=True, seed=1, drop_last=True) for _ in "ab")
    assert [ids(a) for _ in range(3)] == [ids(b) for _ in range(3)]
    assert len(a) == 2 and all(len(batch) == 4 for batch in ids(a))


def test_seed_none_follows_minigans_default_generator_as_torch_follows_its_own():
    loader = DataLoader(Samples(20, lambda i: i), batch_size=20, shuffle=True)
    minigan.manual_seed(5)
    first = [ids(loader) for _ in range(2)]
    minigan.manual_seed(5)
    assert [ids(loader) for _ in range(2)] == first and first[0] != first[1]


def test_seed_none_draws_different_orders():
    orders = {tuple(sum(ids(DataLoader(Samples(30, lambda i: i), batch_size=30, shuffle=True)), [])) for _ in range(3)}
    assert len(orders) > 1


def test_labeled_images_give_python_int_labels_and_apply_transforms():
    images = np.arange(24, dtype=np.uint8).reshape(2, 1, 3, 4)
    dataset = LabeledImages(images, np.array([1, 0]), ["a", "b"], transform=lambda im: im.astype(np.float32) / 255,
                            target_transform=lambda label: label + 10)
    image, label = dataset[0]
    assert type(label) is int and label == 11 and image.dtype == np.float32
    np.testing.assert_array_equal(image, images[0] / np.float32(255))
    assert dataset.class_to_idx == {"a": 0, "b": 1} and len(dataset) == 2


@pytest.mark.parametrize("make, error, phrase", [
    (lambda: DataLoader([1, 2], batch_size=0), ValueError, "batch_size must be a positive int, got 0"),
    (lambda: DataLoader([1, 2], batch_size=2.0), ValueError, "got 2.0"),
    (lambda: DataLoader(iter([1, 2])), TypeError, "needs a dataset with __len__ and __getitem__"),
    (lambda: TensorDataset(np.ones(3), np.ones(4)), ValueError, r"same size in dimension 0, got shapes \(3,\), \(4,\)"),
    (lambda: TensorDataset([1, 2]), TypeError, "argument 0 is a list"),
    (lambda: TensorDataset(), ValueError, "at least one tensor"),
    (lambda: list(DataLoader(Samples(2, lambda i: np.ones(i + 1)), batch_size=2)), ValueError,
     r"samples of different shapes \[\(1,\), \(2,\)\]"),
    (lambda: default_collate([object()]), TypeError, "cannot batch samples of type object"),
])
def test_bad_input_is_refused_naming_it(make, error, phrase):
    with pytest.raises(error, match=phrase):
        make()
