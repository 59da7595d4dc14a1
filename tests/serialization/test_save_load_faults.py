"""Faults injected for real into minigan.save and minigan.load: missing, truncated, bit-flipped
and foreign files, hostile archives (a huge declared shape, a zip bomb, pickled objects), and a
full disk (a real, small tmpfs)."""
import io
import json
import os
import tracemalloc
import zipfile

import numpy
import pytest

import minigan
from minigan import SerializationError

SAMPLE = {"weight": numpy.arange(64, dtype=numpy.float32).reshape(8, 8), "step": 3,
          "groups": [{"lr": 0.1, "betas": (0.5, 0.9)}]}


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "state.mg"
    minigan.save(SAMPLE, path)
    return path


def loads_whole_or_fails_cleanly(path):
    """minigan.load(path) gives SAMPLE, or raises SerializationError naming the file; nothing else."""
    try:
        loaded = minigan.load(path)
    except SerializationError as error:
        assert str(path) in str(error)
        return False
    assert loaded["step"] == 3 and loaded["groups"] == SAMPLE["groups"]
    numpy.testing.assert_array_equal(loaded["weight"], SAMPLE["weight"])
    return True


def test_a_missing_file_is_file_not_found_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"no file {tmp_path / 'nope.mg'}"):
        minigan.load(tmp_path / "nope.mg")


def test_a_folder_or_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    for path in (tmp_path, tmp_path / "fifo"):
        with pytest.raises(SerializationError, match="not a regular file"):
            minigan.load(path)


def test_every_truncation_fails_cleanly(saved, tmp_path):
    data = saved.read_bytes()
    cut = tmp_path / "cut.mg"
    for length in range(0, len(data), 7):
        cut.write_bytes(data[:length])
        assert not loads_whole_or_fails_cleanly(cut), f"a file cut to {length} of {len(data)} bytes loaded"


def test_every_flipped_byte_fails_cleanly_or_loads_the_same(saved, tmp_path):
    """Zip metadata such as timestamps is not checked, so some flips load; the data never changes."""
    data = saved.read_bytes()
    flipped, failed = tmp_path / "flipped.mg", 0
    for position in range(len(data)):
        flipped.write_bytes(data[:position] + bytes([data[position] ^ 0x5A]) + data[position + 1:])
        failed += not loads_whole_or_fails_cleanly(flipped)
    assert failed > len(data) // 2  # the data and headers are covered by CRCs and checks


@pytest.mark.parametrize("content, phrase", [
    (b"", "not a whole zip archive"),
    (b"\x89PNG\r\n\x1a\n" + bytes(100), "not a whole zip archive"),
    (b"weight,step\n1.0,3\n", "not a whole zip archive"),
    (b"\x80\x04\x95" + bytes(20), "not a whole zip archive"),  # a pickle: never unpickled
])
def test_a_file_of_another_kind_is_refused_naming_it(tmp_path, content, phrase):
    (tmp_path / "other").write_bytes(content)
    with pytest.raises(SerializationError, match=phrase):
        minigan.load(tmp_path / "other")


def test_a_plain_npz_is_not_taken_for_a_minigan_file(tmp_path):
    numpy.savez(tmp_path / "plain.npz", weight=numpy.ones(3))
    with pytest.raises(SerializationError, match="neither minigan.save nor torch.save wrote it"):
        minigan.load(tmp_path / "plain.npz")


def write_archive(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def npy(array, allow_pickle=False):
    buffer = io.BytesIO()
    numpy.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def manifest(root):
    return npy(numpy.asarray(json.dumps({"format": "minigan", "version": 1, "root": root})))


def test_a_member_declaring_a_huge_shape_is_refused_before_allocating(tmp_path):
    lying = numpy.lib.format.header_data_from_array_1_0(numpy.zeros(1))
    lying["shape"] = (10**10,)
    header = io.BytesIO()
    numpy.lib.format.write_array_header_1_0(header, lying)
    path = tmp_path / "huge.mg"
    write_archive(path, {"manifest.npy": manifest({"array": "0"}), "0.npy": header.getvalue() + bytes(8)})
    tracemalloc.start()
    try:
        with pytest.raises(SerializationError, match=r"declares a float64 array of shape \(10000000000,\)"):
            minigan.load(path)
        assert tracemalloc.get_traced_memory()[1] < 10 << 20
    finally:
        tracemalloc.stop()


def test_a_zip_bomb_is_refused_before_decompressing(tmp_path):
    path = tmp_path / "bomb.mg"
    zeros = numpy.zeros(8 << 20, numpy.uint8)
    write_archive(path, {"manifest.npy": manifest({"array": "0"}), "0.npy": npy(zeros)}, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 100_000
    with pytest.raises(SerializationError, match="over the limits"):
        minigan.load(path, max_bytes=1 << 20)
    numpy.testing.assert_array_equal(minigan.load(path), zeros)  # within the default bound it loads


def test_a_pickled_object_member_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "objects.mg"
    write_archive(path, {"manifest.npy": manifest({"array": "0"}),
                         "0.npy": npy(numpy.array([print], dtype=object), allow_pickle=True)})
    with pytest.raises(SerializationError, match="declares a object array"):
        minigan.load(path)


@pytest.mark.parametrize("members, phrase", [
    ({"manifest.npy": manifest({"array": "1"}), "0.npy": npy(numpy.ones(1))}, "cannot decode"),
    ({"manifest.npy": manifest({"array": "0"}), "0.npy": npy(numpy.ones(1)), "1.npy": npy(numpy.ones(1))},
     r"members \['1'\] are named by no entry"),
    ({"manifest.npy": manifest({"set": [1, 2]})}, "cannot decode"),
    ({"manifest.npy": manifest({"dict": [[[1], 2]]})}, "dict entry it cannot decode"),
    ({"manifest.npy": manifest({"array": [0]})}, "cannot decode"),
    ({"manifest.npy": manifest({"tensor": "0", "requires_grad": 1}), "0.npy": npy(numpy.ones(1))}, "cannot decode"),
    ({"manifest.npy": manifest({"tensor": "0", "requires_grad": "yes"}), "0.npy": npy(numpy.ones(1))},
     "cannot decode"),
    ({"manifest.npy": npy(numpy.asarray("{not json"))}, "manifest is not JSON"),
    ({"manifest.npy": npy(numpy.asarray(json.dumps({"format": "minigan", "version": 2, "root": 1})))},
     "format version 2; this minigan reads version 1"),
    ({"manifest.npy": manifest(None), "notes.txt": b"hi"}, "unexpected member notes.txt"),
])
def test_a_damaged_manifest_or_member_list_is_refused_naming_it(tmp_path, members, phrase):
    path = tmp_path / "damaged.mg"
    write_archive(path, members)
    with pytest.raises(SerializationError, match=phrase):
        minigan.load(path)


def test_a_save_that_fails_midway_keeps_the_old_file_and_leaves_no_temporary(saved, monkeypatch):
    before = saved.read_bytes()

    def savez_then_fail(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(numpy, "savez", savez_then_fail)
    with pytest.raises(OSError) as raised:
        minigan.save({"new": numpy.ones(3)}, saved)
    assert os.fspath(raised.value.filename) == str(saved)
    assert saved.read_bytes() == before and os.listdir(saved.parent) == [saved.name]


def test_a_save_onto_a_full_disk_raises_naming_the_file_and_keeps_the_old_one(tmpfs):
    disk = tmpfs("disk", "1m")
    path = disk / "state.mg"
    minigan.save(SAMPLE, path)
    before = path.read_bytes()
    with pytest.raises(OSError) as raised:
        minigan.save({"weight": numpy.zeros(2 << 20, numpy.uint8)}, path)  # 2 MiB onto a 1 MiB disk
    assert raised.value.errno == 28 and os.fspath(raised.value.filename) == str(path)
    assert path.read_bytes() == before and os.listdir(disk) == ["state.mg"]
    assert loads_whole_or_fails_cleanly(path)
