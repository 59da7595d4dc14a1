"""print(model) shows what torch's shows for the same layers (torch's extra_repr formats)."""
import pytest

from minigan import nn

LAYERS = [
    ("Conv2d", (3, 64, 4), dict(stride=2, padding=1, bias=False)),
    ("Conv2d", (1, 16, 3), dict(padding=1)),
    ("Conv2d", (2, 5, (3, 2)), dict(stride=(2, 1))),
    ("ConvTranspose2d", (100, 256, 4), dict(stride=1, padding=0, bias=False)),
    ("ConvTranspose2d", (8, 4, 3), dict(stride=2, padding=1, output_padding=1)),
    ("Linear", (3, 4), {}),
    ("Linear", (5, 2), dict(bias=False)),
    ("BatchNorm2d", (64,), {}),
    ("BatchNorm2d", (8,), dict(eps=1e-3, momentum=0.2)),
    ("MaxPool2d", (2,), {}),
    ("MaxPool2d", (3,), dict(stride=2, padding=1)),
    ("AvgPool2d", (2,), {}),
    ("LeakyReLU", (0.2,), {}),
    ("ReLU", (), {}),
    ("Flatten", (), {}),
]


@pytest.mark.parametrize("name, args, kwargs", LAYERS, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(LAYERS)])
def test_repr_as_torch(torch, name, args, kwargs):
    assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs))


def test_a_model_prints_as_torch(torch):
    def build(nn):
        return nn.Sequential(nn.Conv2d(3, 8, 4, 2, 1, bias=False), nn.BatchNorm2d(8), nn.LeakyReLU(0.2),
                             nn.Flatten(), nn.Linear(8 * 16 * 16, 1))
    assert repr(build(nn)) == repr(build(torch.nn))
