"""Datasets as torch.utils.data knows them: an object with __len__ and __getitem__(index) ->
sample. LabeledImages holds a labelled image set in memory (CIFAR10 and FashionMNIST are ones);
TensorDataset pairs arrays row by row; Subset picks items of another dataset."""
import numbers

from ..autograd import Tensor
from ..backend import is_array


class LabeledImages:
    """Images uint8 (N, C, H, W) in `data` and labels int64 (N,) in `targets`, with the class
    names in `classes`; item i is (transform(image i), target_transform(label i)), the label a
    Python int, as torchvision's datasets give them (without transforms, the image stays uint8)."""

    def __init__(self, data, targets, classes, transform=None, target_transform=None):
        if len(data) != len(targets):
            raise ValueError(f"{type(self).__name__}: {len(data)} images but {len(targets)} labels")
        self.data, self.targets, self.classes = data, targets, list(classes)
        self.class_to_idx = {name: index for index, name in enumerate(self.classes)}
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        image, label = self.data[index], int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label


class Subset:
    """The items of `dataset` at `indices`, in that order, as torch.utils.data.Subset."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, indices

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[self.indices[index]]


class TensorDataset:
    """Item i is (t[i] for t in tensors), as torch.utils.data.TensorDataset: arrays give array
    rows, Tensors give Tensor rows. All must have the same first dimension."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        lengths = [_length(t, i) for i, t in enumerate(tensors)]
        if len(set(lengths)) > 1:
            shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise ValueError(f"TensorDataset: tensors must have the same size in dimension 0, got shapes {shapes}")
        self.tensors = tensors

    def __len__(self):
        return _length(self.tensors[0], 0)

    def __getitem__(self, index):
        if not isinstance(index, numbers.Integral):
            raise TypeError(f"TensorDataset index must be an int, got {type(index).__name__}")
        return tuple(Tensor(t.data[index]) if isinstance(t, Tensor) else t[index] for t in self.tensors)


def _length(tensor, position):
    if not (isinstance(tensor, Tensor) or is_array(tensor)):
        raise TypeError(f"TensorDataset: argument {position} is a {type(tensor).__name__}, not an array or Tensor")
    if tensor.ndim == 0:
        raise ValueError(f"TensorDataset: argument {position} is 0-dimensional; it needs a first dimension")
    return tensor.shape[0]
