"""minigan.load of files that real torch.save wrote: equal values, strides and sharing; hostile
pickles refused without running anything; bounds on sizes; a torch DCGAN's weights in minigan."""
import io
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy
import pytest
from nn.test_models import torch_generator  # pytorch/examples' DCGAN, built with torch

import minigan
from minigan import SerializationError, Tensor
from minigan.models.dcgan import Generator
from support.nested import assert_same

torch = pytest.importorskip("torch", reason="PyTorch is the test oracle: pip install torch==2.13.0")


def as_numpy(value):
    """What minigan.load should give for what torch.load gives: tensors as arrays, same structure."""
    if isinstance(value, torch.Tensor):
        value = value.detach()
        return (value.float() if value.dtype == torch.bfloat16 else value).numpy()
    if isinstance(value, dict):
        return type(value)((k, as_numpy(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(as_numpy(v) for v in value)
    return value


def saved_by_torch(tmp_path, obj, name="model.pt"):
    torch.save(obj, tmp_path / name)
    return tmp_path / name


class SmallCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                                            torch.nn.MaxPool2d(2))
        self.classifier = torch.nn.Linear(4 * 13 * 13, 10)


def test_a_module_state_dict_reads_back_equal_in_order(tmp_path):
    torch.manual_seed(0)
    model = SmallCNN()
    model.features[1].running_var.uniform_(0.5, 2)
    state = model.state_dict()
    loaded = minigan.load(saved_by_torch(tmp_path, state))
    assert_same(loaded, as_numpy(state))
    assert loaded["features.1.num_batches_tracked"].dtype == numpy.int64


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64,
                                   torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool, torch.complex64])
def test_every_dtype_reads_back_equal(tmp_path, dtype):
    values = torch.arange(-6, 6, dtype=torch.float64).reshape(3, 4) * 1.25
    tensor = values > 0 if dtype == torch.bool else values.to(dtype)
    loaded = minigan.load(saved_by_torch(tmp_path, {"t": tensor}))
    assert_same(loaded, {"t": as_numpy(tensor)})


def test_views_keep_their_strides_offsets_and_shared_storage(tmp_path):
    base = torch.arange(60, dtype=torch.float32).reshape(3, 4, 5)
    views = {"base": base, "transposed": base.transpose(0, 2), "stepped": base[1:, ::2, 1::3],
             "expanded": torch.arange(3.0).reshape(3, 1).expand(3, 4), "row": base[2, 1], "empty": base[:, :0]}
    loaded = minigan.load(saved_by_torch(tmp_path, views))
    assert_same(loaded, as_numpy(views))
    for name, view in views.items():
        assert loaded[name].strides == tuple(s * view.element_size() for s in view.stride()), name
    assert numpy.shares_memory(loaded["base"], loaded["stepped"]) and numpy.shares_memory(loaded["base"], loaded["row"])
    loaded["base"][2, 1, 0] = -1  # one storage, as in torch
    assert loaded["row"][0] == -1 and loaded["transposed"][0, 1, 2] == -1


def test_a_checkpoint_of_nested_dicts_lists_and_optimizer_state_reads_back_equal(tmp_path):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    checkpoint = {"epoch": 3, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                  "history": [0.5, 0.25], "note": "sgd", "best": None, "shape": (2, 3), "flag": True}
    assert_same(minigan.load(saved_by_torch(tmp_path, checkpoint)), as_numpy(checkpoint))


def test_a_saved_parameter_reads_as_its_array(tmp_path):
    parameter = torch.nn.Parameter(torch.arange(4.0))
    assert_same(minigan.load(saved_by_torch(tmp_path, [parameter])), [numpy.arange(4, dtype=numpy.float32)])


def rewrite(path, change):
    """Copy the zip at path with change(name, data) -> data applied to each member."""
    with zipfile.ZipFile(path) as source:
        members = [(info, change(info.filename, source.read(info))) for info in source.infolist()]
    with zipfile.ZipFile(path, "w") as target:
        for info, data in members:
            target.writestr(info, data)
    return path


def test_a_big_endian_file_reads_back_equal(tmp_path):
    """torch writes the byteorder it ran on; this one is rewritten as a big-endian machine's."""
    state = {"w": torch.arange(6, dtype=torch.float64).reshape(2, 3) / 7, "n": torch.tensor(-5)}
    path = saved_by_torch(tmp_path, state)
    kinds = {"/data/0": ">f8", "/data/1": ">i8"}

    def to_big_endian(name, data):
        if name.endswith("/byteorder"):
            return b"big"
        kind = next((kind for suffix, kind in kinds.items() if name.endswith(suffix)), None)
        return data if kind is None else numpy.frombuffer(data, kind.replace(">", "<")).astype(kind).tobytes()

    assert_same(minigan.load(rewrite(path, to_big_endian)), as_numpy(state))


def saved_legacy(tmp_path, obj, name="legacy.pt"):
    """torch.save's legacy format (torch < 1.6's, and pytorch-fid's Inception weights')."""
    torch.save(obj, tmp_path / name, _use_new_zipfile_serialization=False)
    return tmp_path / name


def test_the_legacy_format_reads_back_equal_with_its_sharing_and_strides(tmp_path):
    torch.manual_seed(0)
    model = SmallCNN()
    base = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    obj = {"state": model.state_dict(), "view": base[1:, ::2], "base": base,
           "half": torch.ones(3, dtype=torch.bfloat16), "ints": torch.arange(5, dtype=torch.int16), "flags": torch.tensor([True, False]), "step": 7}
    loaded = minigan.load(saved_legacy(tmp_path, obj))
    assert_same(loaded, as_numpy(obj))
    assert numpy.shares_memory(loaded["view"], loaded["base"])


def test_a_truncated_legacy_file_is_refused_naming_the_storage(tmp_path):
    path = saved_legacy(tmp_path, {"b": torch.zeros(30)})
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(SerializationError, match=r"is truncated or corrupt: storage \S+ \(FloatStorage of 30 "
                                                 r"elements\) is not there whole"):
        minigan.load(path)


def test_a_legacy_storage_declaring_more_than_the_file_holds_is_refused_before_allocating(tmp_path):
    path = saved_legacy(tmp_path, {"a": torch.ones(10)})
    data = path.read_bytes()
    # The storage's element count in its persistent id: 10 as a BININT1 after the location 'cpu'.
    at = data.index(b"X\x03\x00\x00\x00cpu") + 8
    at += 2 if data[at:at + 1] == b"q" else 0  # the string's memo entry (BINPUT)
    assert data[at:at + 2] == b"K\x0a"
    path.write_bytes(data[:at] + b"J" + (10 ** 9).to_bytes(4, "little") + data[at + 2:])
    with pytest.raises(SerializationError, match=r"brings the storages to 4000000000 bytes, more than the file's"):
        minigan.load(path)


def test_a_legacy_file_with_a_hostile_pickle_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    path = saved_legacy(tmp_path, {"w": torch.ones(2)})
    data = path.read_bytes()
    header_end = sum(len(pickle.dumps(v, protocol=2)) for v in (0x1950a86a20f9469cfc6c, 1001))
    evil = pickle.dumps(System(marker), protocol=2)
    path.write_bytes(data[:header_end] + evil + data[header_end:])  # in place of the system information
    with pytest.raises(SerializationError, match=r"refused to unpickle global posix.system"):
        minigan.load(path)
    assert not marker.exists()


class System:
    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)

    def __init__(self, marker):
        self.marker = marker


def with_pickle(tmp_path, pickled, name="evil.pt"):
    """A torch.save archive whose data.pkl is replaced by `pickled`."""
    path = saved_by_torch(tmp_path, {"w": torch.ones(2)}, name)
    return rewrite(path, lambda member, data: pickled if member.endswith("/data.pkl") else data)


def test_a_pickle_calling_os_system_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    path = with_pickle(tmp_path, pickle.dumps({"w": System(marker)}, protocol=2))
    with pytest.raises(SerializationError, match=r"refused to unpickle global (posix|os)\.system"):
        minigan.load(path)
    assert not marker.exists()


def test_a_whole_module_saved_by_torch_is_refused_naming_its_class(tmp_path):
    path = saved_by_torch(tmp_path, torch.nn.Linear(2, 2))
    with pytest.raises(SerializationError, match="refused to unpickle global torch.nn.modules.linear.Linear"):
        minigan.load(path)


class Reduce:
    def __init__(self, *reduced):
        self.reduced = reduced

    def __reduce__(self):
        return self.reduced


def storage(kind, key, numel):
    return ("storage", getattr(torch, kind), key, "cpu", numel)


class TorchPickler(pickle.Pickler):
    """Writes tensors as torch does: persistent ids for storages, stand-in globals by name."""

    def persistent_id(self, obj):
        return obj[1] if isinstance(obj, tuple) and len(obj) == 2 and obj[0] == "pid" else None


def torch_pickle(obj):
    buffer = io.BytesIO()
    TorchPickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def rebuild(pid, offset, size, stride):
    return Reduce(torch._utils._rebuild_tensor_v2, (("pid", pid), offset, size, stride, False, OrderedDict()))


@pytest.mark.parametrize("obj, phrase", [
    (rebuild(storage("FloatStorage", "0", 2), 0, (3,), (1,)), "reaches element 2 of its storage, which has 2"),
    (rebuild(storage("FloatStorage", "0", 2), 1, (2, 2), (0, 1)), "reaches element 2 of its storage"),
    (rebuild(storage("FloatStorage", "0", 2), -1, (1,), (1,)), "size and stride must be tuples"),
    (rebuild(storage("FloatStorage", "0", 2), 0, (1 << 30, 1 << 10), (0, 0)), r"declares more than 4\.0 GiB"),
    (rebuild(storage("FloatStorage", "0", 2), 0, (2,), (-1,)), "size and stride must be tuples"),
    (rebuild(storage("FloatStorage", "0", 3), 0, (1,), (1,)), r"holds 8 bytes, not 12"),
    (rebuild(storage("DoubleStorage", "0", 2), 0, (1,), (1,)), r"holds 8 bytes, not 16"),
    (rebuild(storage("FloatStorage", "9", 2), 0, (1,), (1,)), "storage 9 has no member"),
    (rebuild(("storage", torch.UntypedStorage, "0", "cpu", 8), 0, (1,), (1,)),
     "refused to unpickle global torch.storage.UntypedStorage"),
    (rebuild(("storage", "FloatStorage", "0", "cpu", 2), 0, (1,), (1,)), "persistent id"),
    ([rebuild(storage("FloatStorage", "0", 2), 0, (1,), (1,)),
      rebuild(storage("IntStorage", "0", 2), 0, (1,), (1,))], "storage 0 is read as FloatStorage"),
    (Reduce(torch._utils._rebuild_tensor, ()), "refused to unpickle global torch._utils._rebuild_tensor"),
    (Reduce(eval, ("1",)), r"refused to unpickle global (builtins|__builtin__)\.eval"),
    (Reduce(OrderedDict, ([("a", 1)],)), r"only OrderedDict\(\) is allowed"),
    (("pid", storage("FloatStorage", "0", 2)), "it holds a _Storage"),
])
def test_hostile_or_inconsistent_pickles_are_refused_naming_the_fault(tmp_path, obj, phrase):
    """The archive's one storage, data/0, holds 2 float32 (8 bytes)."""
    path = with_pickle(tmp_path, torch_pickle(obj))
    with pytest.raises(SerializationError, match=phrase):
        minigan.load(path)


def test_a_state_given_to_a_tensor_is_refused(tmp_path):
    tensor = rebuild(storage("FloatStorage", "0", 2), 0, (2,), (1,))
    with_state = Reduce(*tensor.reduced, {"shape": (10**9,)})
    with pytest.raises(SerializationError, match="a state for a numpy ndarray that takes none"):
        minigan.load(with_pickle(tmp_path, torch_pickle(with_state)))


def test_a_compressed_storage_bomb_is_refused_before_decompressing(tmp_path):
    path = saved_by_torch(tmp_path, {"w": torch.zeros(4 << 20)})
    with zipfile.ZipFile(path) as source:
        members = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in members:
            target.writestr(name, data)
    assert path.stat().st_size < 200_000
    with pytest.raises(SerializationError, match="over the limits"):
        minigan.load(path, max_bytes=1 << 20)


def test_every_truncation_and_flipped_byte_fails_cleanly_or_loads_the_same(tmp_path):
    state = {"w": torch.arange(6.0).reshape(2, 3)}
    data = saved_by_torch(tmp_path, state).read_bytes()
    damaged = tmp_path / "damaged.pt"
    variants = [data[:n] for n in range(0, len(data), 11)]
    variants += [data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1:] for i in range(0, len(data), 3)]
    for variant in variants:
        damaged.write_bytes(variant)
        try:
            loaded = minigan.load(damaged)
        except SerializationError as error:
            assert str(damaged) in str(error)
            continue
        assert_same(loaded, as_numpy(state))


def test_a_torch_dcgan_generator_runs_the_same_in_minigan(tmp_path):
    torch.manual_seed(0)
    reference = torch_generator(nz=16, ngf=8, nc=3, image_size=32)
    for module in reference.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    reference.eval()
    G = Generator(nz=16, ngf=8, nc=3, image_size=32).eval()
    G.load_state_dict(minigan.load(saved_by_torch(tmp_path, reference.state_dict())))
    z = torch.randn(4, 16, 1, 1)
    with torch.no_grad():
        expected = reference.main(z).numpy()
    numpy.testing.assert_allclose(G(Tensor(z.numpy())).data, expected, rtol=1e-5, atol=1e-5)
    assert isinstance(minigan.load(tmp_path / "model.pt"), OrderedDict)
