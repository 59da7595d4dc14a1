"""Limits on data files, proven with real faults: FIFOs, devices and folders in place of data
files, a gzip bomb, tar members over the size limits, headers declaring more than a file holds.

A regression that blocks (a FIFO opened for reading waits for a writer) fails through
`deadline` instead of hanging the suite.
"""

import contextlib
import gzip
import http.server
import io
import os
import pickle
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import minigan.data.limits as limits
from minigan.data import DatasetError, cifar10, download, fashion_mnist, safe_extract

REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def deadline(seconds=5):
    """Raise TimeoutError if the block takes longer: SIGALRM interrupts a blocked open()."""
    def hung(signum, frame):
        raise TimeoutError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes()))


def write_python_batch(path, n):
    rng = np.random.default_rng(0)
    path.write_bytes(pickle.dumps({b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                                   b"labels": rng.integers(0, 10, n).tolist()}, protocol=2))


def write_binary_batch(path, n):
    path.write_bytes(np.random.default_rng(0).integers(0, 10, (n, 3073), dtype=np.uint8).tobytes())


def make_tar_gz(path, members):
    """Write a tar.gz of regular files: {name: bytes}."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


# ---------- only regular files are read ----------

# Each layout returns the data file that a loader reads first in `root`, and that loader.
def cifar_python(root):
    (root / "cifar-10-batches-py").mkdir()
    return root / "cifar-10-batches-py" / "data_batch_1", lambda: cifar10(root, download=False)


def cifar_binary(root):
    (root / "cifar-10-batches-bin").mkdir()
    return root / "cifar-10-batches-bin" / "data_batch_1.bin", lambda: cifar10(root, download=False)


def cifar_tarball(root):
    return root / "cifar-10-python.tar.gz", lambda: cifar10(root, download=False)


def fashion(root):
    write_idx(root / "train-labels-idx1-ubyte.gz", np.zeros(1, np.uint8))
    return root / "train-images-idx3-ubyte.gz", lambda: fashion_mnist(root, download=False)


def fifo(path):
    os.mkfifo(path)
    return "a FIFO"


def directory(path):
    path.mkdir()
    return "a directory"


def endless_device(path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("needs /dev/zero")
    path.symlink_to("/dev/zero")  # read whole, it would fill memory and never end
    return "a character device"


@pytest.mark.parametrize("make", [fifo, directory, endless_device])
@pytest.mark.parametrize("layout", [cifar_python, cifar_binary, cifar_tarball, fashion])
def test_special_file_in_place_of_a_data_file_is_refused_at_once(tmp_path, layout, make):
    target, load = layout(tmp_path)
    kind = make(target)
    started = time.monotonic()
    with deadline(5), pytest.raises(DatasetError) as err:
        load()
    assert time.monotonic() - started < 2
    assert f"{target} is {kind}, not a regular file; replace it with the real data file" in str(err.value)


def test_cli_reports_a_fifo_in_one_line_and_exits(tmp_path):
    (tmp_path / "data").mkdir()
    target, _ = cifar_python(tmp_path / "data")
    os.mkfifo(target)
    result = subprocess.run(
        [sys.executable, "examples/train_cifar10.py", "--data-dir", str(tmp_path / "data"),
         "--out", str(tmp_path / "run"), "--max-steps", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: {target} is a FIFO, not a regular file; "
                                          f"replace it with the real data file"]


@pytest.mark.parametrize("layout, write", [(cifar_python, write_python_batch), (cifar_binary, write_binary_batch)])
def test_data_file_over_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch, layout, write):
    target, load = layout(tmp_path)
    write(target, 2)
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 6000)
    with pytest.raises(DatasetError, match=rf"{target.name} is \d\.\d KiB, over the 5\.9 KiB limit for one data file"):
        load()


def test_limits_fit_the_real_data_sets_with_room():
    # The largest python batch, the python archive's members in all, Fashion-MNIST's train images.
    cifar_batch, cifar_total, fashion_images = 31_035_704, 186_214_000, 47_040_016
    assert limits.MAX_FILE_BYTES > 10 * cifar_batch
    assert limits.MAX_EXTRACT_BYTES > 5 * cifar_total
    assert limits.MAX_GZIP_BYTES > 5 * fashion_images


# ---------- .gz files: decompressed in chunks, up to a limit ----------

def test_gzip_bomb_is_refused_without_being_read_whole(tmp_path, monkeypatch):
    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    n = 85_600  # 85600 28x28 images: 64 MiB of zeros behind a valid header
    with gzip.open(bomb, "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + struct.pack(">3I", n, 28, 28))
        zeros = bytes(784 * 100)
        for _ in range(n // 100):
            f.write(zeros)
    assert bomb.stat().st_size < 200_000
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(n, np.uint8))
    monkeypatch.setattr(limits, "MAX_GZIP_BYTES", 4 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match=f"{bomb.name} decompresses to more than 4.0 MiB, the limit "
                                               f"for one .gz data file"):
            fashion_mnist(tmp_path, download=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"{peak} bytes held while reading a bomb limited to 4 MiB"


def test_idx_header_declaring_more_than_the_file_holds_is_refused(tmp_path):
    # 2**22 * 2**22 * 2**20 images' bytes = 2**64, which wraps to 0 in 64-bit arithmetic.
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 1 << 22, 1 << 22, 1 << 20)))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(1, np.uint8))
    with pytest.raises(DatasetError, match=f"{path.name} has 16 bytes, expected {16 + 2 ** 64} for dims"):
        fashion_mnist(tmp_path, download=False)


# ---------- tar archives: members and their total within limits ----------

def test_member_over_the_limit_is_refused_before_anything_is_written(tmp_path):
    make_tar_gz(tmp_path / "a.tar.gz", {"small": b"x", "big": bytes(3 << 20)})
    with pytest.raises(DatasetError, match=r"a\.tar\.gz: member 'big' is 3\.0 MiB, over the 1\.0 MiB limit "
                                           r"for one file; it is not a data set archive"):
        safe_extract(tmp_path / "a.tar.gz", tmp_path / "out", max_file_bytes=1 << 20)
    assert not (tmp_path / "out").exists()


def test_members_over_the_total_are_refused_before_anything_is_written(tmp_path):
    make_tar_gz(tmp_path / "a.tar.gz", {f"part{i}": bytes(400 << 10) for i in range(3)})
    with pytest.raises(DatasetError, match=r"its members add up to more than the 1\.0 MiB limit"):
        safe_extract(tmp_path / "a.tar.gz", tmp_path / "out", max_total_bytes=1 << 20)
    assert not (tmp_path / "out").exists()


def test_too_many_members_are_refused(tmp_path):
    make_tar_gz(tmp_path / "a.tar.gz", {f"f{i}": b"" for i in range(5)})
    with pytest.raises(DatasetError, match="it has more than 4 members"):
        safe_extract(tmp_path / "a.tar.gz", tmp_path / "out", max_members=4)
    assert not (tmp_path / "out").exists()


def test_archive_exactly_at_the_limits_extracts(tmp_path):
    make_tar_gz(tmp_path / "a.tar.gz", {"a": b"1" * 600, "b": b"2" * 400})
    safe_extract(tmp_path / "a.tar.gz", tmp_path / "out", max_file_bytes=600, max_total_bytes=1000, max_members=2)
    assert (tmp_path / "out" / "a").read_bytes() == b"1" * 600 and (tmp_path / "out" / "b").read_bytes() == b"2" * 400


def test_declared_10_gib_member_is_refused_at_its_header(tmp_path):
    # The header promises 10 GiB of zeros; the refusal must come from the header, before any of them.
    info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
    info.size = 10 << 30
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(gzip.compress(info.tobuf() + bytes(1 << 16)))
    with pytest.raises(DatasetError, match=r"member 'cifar-10-batches-py/data_batch_1' is 10\.0 GiB, over "
                                           r"the 512\.0 MiB limit for one file"):
        cifar10(tmp_path, download=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cifar-10-python.tar.gz"]


@pytest.mark.skipif(shutil.which("tar") is None, reason="needs GNU tar to write a sparse archive")
def test_sparse_1_gib_member_is_refused_with_the_real_limits(tmp_path):
    # A 1 GiB file that is all hole: GNU tar -S stores it in a few hundred bytes.
    src = tmp_path / "src" / "cifar-10-batches-py"
    src.mkdir(parents=True)
    with open(src / "data_batch_1", "wb") as f:
        f.truncate(1 << 30)
    tarball = tmp_path / "data" / "cifar-10-python.tar.gz"
    tarball.parent.mkdir()
    subprocess.run(["tar", "-czSf", str(tarball), "-C", str(tmp_path / "src"), "cifar-10-batches-py"], check=True)
    assert tarball.stat().st_size < 10_000
    started = time.monotonic()
    with pytest.raises(DatasetError, match=r"is 1\.0 GiB, over the 512\.0 MiB limit for one file"):
        cifar10(tmp_path / "data", download=False)
    assert time.monotonic() - started < 5
    assert sorted(p.name for p in tarball.parent.iterdir()) == ["cifar-10-python.tar.gz"]


# ---------- downloads: no more than one data file's worth ----------

class _ThreeMiB(http.server.BaseHTTPRequestHandler):
    """Serves 3 MiB of zeros, declaring its length on /declared and not on /streamed."""

    def do_GET(self):
        self.send_response(200)
        if self.path == "/declared":
            self.send_header("Content-Length", str(3 << 20))
        self.send_header("Connection", "close")
        self.end_headers()
        with contextlib.suppress(ConnectionError):  # the client may hang up at the limit
            for _ in range(3):
                self.wfile.write(bytes(1 << 20))

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def three_mib_server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ThreeMiB)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("path, message", [
    ("/declared", r"/declared refused: it is 3\.0 MiB, over the 1\.0 MiB limit for one data file"),
    ("/streamed", r"/streamed stopped: it sent more than the 1\.0 MiB limit for one data file"),
])
def test_download_over_the_limit_is_refused_and_leaves_nothing(three_mib_server, tmp_path, path, message):
    with pytest.raises(DatasetError, match=message):
        download(three_mib_server + path, tmp_path / "x", "0" * 32, progress=False, max_bytes=1 << 20)
    assert list(tmp_path.iterdir()) == []
