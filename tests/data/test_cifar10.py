"""CIFAR-10 reading, downloading over a local HTTP server, and safe extraction.

These share two helpers: a tiny CIFAR-10 written in the official formats, and
an HTTP server on 127.0.0.1 that serves it (plus broken responses).
"""

import ast
import hashlib
import http.server
import importlib
import io
import shutil
import socket
import struct
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

import minigan.data
from minigan.data import CIFAR10, DataLoader, DatasetError, cifar10, download, safe_extract

TRAIN_PER_BATCH, TEST_N = 3, 4


# ---------- a tiny CIFAR-10 in the official formats ----------

def py2_pickle(obj):
    """Pickle `obj` the way Python 2's cPickle wrote CIFAR-10's batches.

    Strings are BINSTRINGs (read back as bytes with encoding='bytes') and arrays
    name numpy.core.multiarray._reconstruct, as in the files from Toronto.
    """
    out = bytearray(b"\x80\x02")

    def emit(o):
        if isinstance(o, dict):
            out.extend(b"}(")
            for k, v in o.items():
                emit(k)
                emit(v)
            out.extend(b"u")
        elif isinstance(o, list):
            out.extend(b"](")
            for v in o:
                emit(v)
            out.extend(b"e")
        elif isinstance(o, tuple):
            out.extend(b"(")
            for v in o:
                emit(v)
            out.extend(b"t")
        elif isinstance(o, bytes):
            out.extend(b"T" + struct.pack("<i", len(o)) + o)
        elif isinstance(o, int):
            out.extend(b"J" + struct.pack("<i", o))
        elif o is None:
            out.extend(b"N")
        elif isinstance(o, np.ndarray):  # uint8 only, as in CIFAR
            out.extend(b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n")
            emit((0,))
            emit(b"b")
            out.extend(b"\x87R(")  # _reconstruct(ndarray, (0,), b"b"), then its state tuple:
            emit(1)
            emit(o.shape)
            out.extend(b"cnumpy\ndtype\n")
            emit((b"u1", 0, 1))
            out.extend(b"R")
            emit((3, b"|", None, None, None, -1, -1, 0))
            out.extend(b"b\x89")  # set the dtype's state; fortran_order=False
            emit(o.tobytes())
            out.extend(b"tb")
        else:
            raise TypeError(type(o))

    emit(obj)
    out.extend(b".")
    return bytes(out)


def cifar_row(image):
    """The 3072 bytes of one image: R plane, G plane, B plane, each row-major 32x32."""
    row = np.empty(3072, np.uint8)
    c, y, x = np.indices((3, 32, 32))
    row[c * 1024 + y * 32 + x] = image[c, y, x]
    return row


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    """Write a tiny CIFAR-10 (5 train batches, 1 test batch) in both formats, as folders and tarballs."""
    rng = np.random.default_rng(7)
    batches = {f"data_batch_{i}": TRAIN_PER_BATCH for i in range(1, 6)} | {"test_batch": TEST_N}
    content = {name: (rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, n))
               for name, n in batches.items()}
    src = tmp_path_factory.mktemp("cifar-src")
    py_dir, bin_dir = src / "cifar-10-batches-py", src / "cifar-10-batches-bin"
    py_dir.mkdir()
    bin_dir.mkdir()
    for name, (images, labels) in content.items():
        rows = np.stack([cifar_row(im) for im in images])
        (py_dir / name).write_bytes(py2_pickle({
            b"batch_label": name.encode(), b"labels": [int(v) for v in labels], b"data": rows,
            b"filenames": [f"img_{i}.png".encode() for i in range(len(rows))]}))
        (bin_dir / f"{name}.bin").write_bytes(
            b"".join(bytes([int(label)]) + row.tobytes() for label, row in zip(labels, rows)))
    (py_dir / "batches.meta").write_bytes(py2_pickle(
        {b"num_cases_per_batch": 10000, b"label_names": [b"airplane"] * 10, b"num_vis": 3072}))
    (bin_dir / "batches.meta.txt").write_text("airplane\n" * 10)
    for folder, tar_name in ((py_dir, "cifar-10-python.tar.gz"), (bin_dir, "cifar-10-binary.tar.gz")):
        with tarfile.open(src / tar_name, "w:gz") as tar:
            tar.add(folder, arcname=folder.name)
    train = [content[f"data_batch_{i}"] for i in range(1, 6)]
    expected = {True: (np.concatenate([im for im, _ in train]), np.concatenate([lb for _, lb in train])),
                False: content["test_batch"]}
    return src, expected


def assert_split(got, want):
    images, labels = got
    assert images.dtype == np.uint8 and images.shape == want[0].shape
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(images, want[0])
    np.testing.assert_array_equal(labels, want[1])


# ---------- a local HTTP server ----------

class _Handler(http.server.BaseHTTPRequestHandler):
    routes = {}  # path -> (body, declared Content-Length or None to send none)

    def do_GET(self):
        if self.path not in self.routes:
            self.send_error(404)
            return
        body, length = self.routes[self.path]
        self.send_response(200)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(cifar):
    """Serve the tiny CIFAR archives, a tampered archive, a truncated body and a body of unknown length."""
    src, _ = cifar
    python_tar = (src / "cifar-10-python.tar.gz").read_bytes()
    tampered = bytearray(python_tar)
    tampered[len(tampered) // 2] ^= 0xFF
    routes = {
        "/cifar-10-python.tar.gz": (python_tar, len(python_tar)),
        "/cifar-10-binary.tar.gz": ((src / "cifar-10-binary.tar.gz").read_bytes(), None),
        "/tampered/cifar-10-python.tar.gz": (bytes(tampered), len(tampered)),
        "/truncated": (python_tar[:1000], len(python_tar)),  # promises more than it sends, then closes
    }
    handler = type("Handler", (_Handler,), {"routes": routes})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", routes
    httpd.shutdown()
    httpd.server_close()


def md5_of(data):
    return hashlib.md5(data).hexdigest()


# ---------- reading local copies ----------

@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("copy", ["cifar-10-batches-py", "cifar-10-batches-bin",
                                  "cifar-10-python.tar.gz", "cifar-10-binary.tar.gz"])
def test_reads_every_local_format(cifar, tmp_path, copy, train):
    src, expected = cifar
    if copy.endswith(".tar.gz"):
        shutil.copy(src / copy, tmp_path)
    else:
        shutil.copytree(src / copy, tmp_path / copy)
    assert_split(cifar10(tmp_path, train=train, download=False), expected[train])
    assert not list(tmp_path.glob(".extract-*"))


@pytest.mark.parametrize("train", [True, False])
def test_the_dataset_gives_each_image_with_its_label_and_batches_of_them(cifar, train):
    src, expected = cifar
    dataset = CIFAR10(src, train=train)
    images, labels = expected[train]
    assert len(dataset) == len(images) and dataset.train == train
    assert dataset.classes[0] == "airplane" and dataset.classes[9] == "truck" and dataset.class_to_idx["cat"] == 3
    for i in range(len(dataset)):
        image, label = dataset[i]
        np.testing.assert_array_equal(image, images[i])
        assert type(label) is int and label == labels[i]
    batch_images, batch_labels = next(iter(DataLoader(dataset, batch_size=len(images))))
    np.testing.assert_array_equal(batch_images.numpy(), images)
    assert batch_labels.dtype == np.int64 and batch_labels.numpy().tolist() == labels.tolist()


def test_the_dataset_does_not_download_unless_asked(tmp_path):
    with pytest.raises(DatasetError, match="download=False"):
        CIFAR10(tmp_path)


def test_reads_when_pointed_at_the_batches_folder(cifar, tmp_path):
    src, expected = cifar
    shutil.copytree(src / "cifar-10-batches-py", tmp_path / "cifar-10-batches-py")
    assert_split(cifar10(tmp_path / "cifar-10-batches-py", train=False, download=False), expected[False])


def test_python_folder_wins_over_binary_folder(cifar, tmp_path):
    src, expected = cifar
    shutil.copytree(src / "cifar-10-batches-py", tmp_path / "cifar-10-batches-py")
    (tmp_path / "cifar-10-batches-bin").mkdir()
    (tmp_path / "cifar-10-batches-bin" / "test_batch.bin").write_bytes(bytes(3073))
    assert_split(cifar10(tmp_path, train=False, download=False), expected[False])


def test_binary_batch_with_wrong_byte_count_is_named(cifar, tmp_path):
    src, _ = cifar
    shutil.copytree(src / "cifar-10-batches-bin", tmp_path / "cifar-10-batches-bin")
    bad = tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin"
    bad.write_bytes(bad.read_bytes()[:-5])
    with pytest.raises(DatasetError, match=r"data_batch_3\.bin has 9214 bytes"):
        cifar10(tmp_path, download=False)


def test_python_batch_with_wrong_row_size_is_named(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(py2_pickle({b"data": np.zeros((2, 3000), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(DatasetError, match="test_batch has the wrong shape"):
        cifar10(tmp_path, train=False, download=False)


def test_missing_batch_is_named(cifar, tmp_path):
    src, _ = cifar
    shutil.copytree(src / "cifar-10-batches-py", tmp_path / "cifar-10-batches-py")
    (tmp_path / "cifar-10-batches-py" / "data_batch_5").unlink()
    with pytest.raises(DatasetError, match="data_batch_5 is missing"):
        cifar10(tmp_path, download=False)


def test_corrupt_tarball_in_root_is_named(tmp_path):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4)
    with pytest.raises(DatasetError, match=r"cifar-10-python\.tar\.gz: the archive is corrupt or truncated"):
        cifar10(tmp_path, download=False)
    assert not (tmp_path / "cifar-10-batches-py").exists()


def test_nothing_found_offline_explains_what_to_do(tmp_path):
    with pytest.raises(DatasetError) as err:
        cifar10(tmp_path, download=False)
    message = str(err.value)
    for part in (f"could not be found in {tmp_path}", "download=False",
                 "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "--data-dir", "--dataset fashion-mnist"):
        assert part in message
    assert "\n" not in message


# ---------- downloading ----------

def test_cifar10_downloads_verifies_and_extracts(cifar, server, tmp_path, capsys):
    _, expected = cifar
    base, routes = server
    body = routes["/cifar-10-python.tar.gz"][0]
    url = base + "/cifar-10-python.tar.gz"
    assert_split(cifar10(tmp_path / "data", train=False, url=url, md5=md5_of(body)), expected[False])
    assert (tmp_path / "data" / "cifar-10-python.tar.gz").read_bytes() == body
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["cifar-10-batches-py", "cifar-10-python.tar.gz"]
    progress = capsys.readouterr().err
    assert url in progress and "100.0%" in progress and "\r" in progress


def test_download_without_content_length_shows_bytes(server, tmp_path, capsys):
    base, routes = server
    body = routes["/cifar-10-binary.tar.gz"][0]
    download(base + "/cifar-10-binary.tar.gz", tmp_path / "b.tar.gz", md5_of(body))
    assert (tmp_path / "b.tar.gz").read_bytes() == body
    assert "total size unknown" in capsys.readouterr().err


def test_download_quiet_without_progress(server, tmp_path, capsys):
    base, routes = server
    download(base + "/cifar-10-python.tar.gz", tmp_path / "a", md5_of(routes["/cifar-10-python.tar.gz"][0]),
             progress=False)
    assert capsys.readouterr().err == ""


def test_wrong_md5_leaves_no_file(server, tmp_path):
    base, routes = server
    url = base + "/tampered/cifar-10-python.tar.gz"
    good_md5 = md5_of(routes["/cifar-10-python.tar.gz"][0])
    with pytest.raises(DatasetError) as err:
        download(url, tmp_path / "x.tar.gz", good_md5, progress=False)
    message = str(err.value)
    assert url in message and good_md5 in message and md5_of(routes[url[len(base):]][0]) in message
    assert list(tmp_path.iterdir()) == []


def test_cifar10_rejects_tampered_download(server, tmp_path):
    base, routes = server
    url = base + "/tampered/cifar-10-python.tar.gz"
    with pytest.raises(DatasetError, match="MD5 mismatch") as err:
        cifar10(tmp_path, url=url, md5=md5_of(routes["/cifar-10-python.tar.gz"][0]), progress=False)
    assert "--dataset fashion-mnist" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_truncated_body_leaves_no_file(server, tmp_path):
    base, routes = server
    declared = routes["/truncated"][1]
    with pytest.raises(DatasetError, match=f"truncated body, expected {declared} bytes, got 1000"):
        download(base + "/truncated", tmp_path / "t", md5_of(routes["/truncated"][0]), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_http_error_names_url_and_status(server, tmp_path):
    base, _ = server
    with pytest.raises(DatasetError, match=f"{base}/missing failed: HTTP 404"):
        download(base + "/missing", tmp_path / "m", "0" * 32, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_connection_refused_is_a_dataset_error(tmp_path):
    with socket.socket() as s:  # a port that was free a moment ago has no listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DatasetError, match=f"127.0.0.1:{port}/x failed"):
        download(f"http://127.0.0.1:{port}/x", tmp_path / "x", "0" * 32, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_removes_the_partial_file(server, tmp_path, monkeypatch):
    base, routes = server

    def interrupt(self, got):
        assert list(tmp_path.glob("x.part-*")), "the body should be going to a .part file"
        raise KeyboardInterrupt

    # minigan.data.download is the function; the module is reached through importlib.
    monkeypatch.setattr(importlib.import_module("minigan.data.download")._ProgressBar, "update", interrupt)
    with pytest.raises(KeyboardInterrupt):
        download(base + "/cifar-10-python.tar.gz", tmp_path / "x", "0" * 32)
    assert list(tmp_path.iterdir()) == []


# ---------- safe extraction ----------

def make_tar_gz(path, members):
    """Write a tar.gz of `members`: (TarInfo, bytes or None)."""
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)


def test_safe_extract_extracts_plain_members(tmp_path):
    make_tar_gz(tmp_path / "ok.tar.gz", [(tarfile.TarInfo("d/f.txt"), b"hello")])
    safe_extract(tmp_path / "ok.tar.gz", tmp_path / "out")
    assert (tmp_path / "out" / "d" / "f.txt").read_bytes() == b"hello"


def test_safe_extract_refuses_parent_traversal(tmp_path):
    make_tar_gz(tmp_path / "evil.tar.gz", [(tarfile.TarInfo("ok.txt"), b"fine"), (tarfile.TarInfo("../evil"), b"x")])
    (tmp_path / "out").mkdir()
    with pytest.raises(DatasetError, match=r"'\.\./evil' would be written outside"):
        safe_extract(tmp_path / "evil.tar.gz", tmp_path / "out")
    assert not (tmp_path / "evil").exists()
    assert list((tmp_path / "out").iterdir()) == []  # checked before anything was written


def test_safe_extract_refuses_absolute_symlink(tmp_path):
    link = tarfile.TarInfo("link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    make_tar_gz(tmp_path / "link.tar.gz", [(link, None)])
    with pytest.raises(DatasetError, match="refusing to extract"):
        safe_extract(tmp_path / "link.tar.gz", tmp_path / "out")
    assert not (tmp_path / "out" / "link").is_symlink()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_safe_extract_reports_a_damaged_archive(cifar, tmp_path, damage):
    src, _ = cifar
    good = (src / "cifar-10-python.tar.gz").read_bytes()
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(bytes(range(256)) * 8 if damage == "garbage" else good[: len(good) // 2])
    with pytest.raises(DatasetError, match=r"bad\.tar\.gz: the archive is corrupt or truncated"):
        safe_extract(bad, tmp_path / "out")


# ---------- the package ----------

# The torch-style Dataset and DataLoader give Tensors, as torch's do; the rest reads files.
TENSOR_USERS = {"dataset.py": {"autograd", "backend"}, "dataloader.py": {"autograd", "backend", "config"},
                "loader.py": {"backend"}}


def test_package_imports_nothing_from_the_engine_but_its_tensor():
    for path in Path(minigan.data.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 2 and node.module in TENSOR_USERS.get(path.name, ()):
                continue
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1 and not (node.module or "").startswith("minigan"), (path, node.module)
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("minigan") for a in node.names), path


def test_dataset_error_is_a_runtime_error():
    assert issubclass(DatasetError, RuntimeError)
