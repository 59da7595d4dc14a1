"""Read the files torch.save writes (its zip format, torch >= 1.6, and its legacy format) without
torch and without unrestricted unpickling.

Such a file is a zip archive of one folder (torch names it "archive", older versions after the
file): `data.pkl` pickles the saved object, in which each tensor is
torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks) and each
storage the persistent id ('storage', torch.<Type>Storage, key, location, numel), whose bytes are
the member `data/<key>` in the byte order that the member `byteorder` names (little if absent).
The unpickler admits those globals, collections.OrderedDict and torch._utils._rebuild_parameter,
each as a checking stand-in, and refuses any other by name before anything is called.

The legacy format (torch < 1.6, or _use_new_zipfile_serialization=False; pytorch-fid's Inception
weights are such a file) is a sequence of protocol-2 pickles: the magic number, the protocol
version 1001 and a dict of system information; then the object, whose storages are persistent
ids ('storage', torch.<Type>Storage, key, location, numel, None); then the sorted list of the
storage keys; then each storage in that order as its element count (int64) and its elements,
both little-endian. The same checking unpickler reads it.

Tensors load as NumPy arrays that view their storage as torch's tensors do: a storage that two
tensors share is one buffer, and a non-contiguous tensor is a strided view of it, checked to stay
inside its storage. bfloat16 storages become float32, since NumPy has no bfloat16.
"""
import collections
import io
import math
import reprlib

import numpy as np

from .errors import DatasetError
from .limits import MAX_STATE_BYTES, ZIP_ERRORS, format_size
from .safe_pickle import Placeholder, Refused, RestrictedUnpickler, load_checked

# What torch.save of the legacy format begins with: pickle protocol 2, then its magic number
# 0x1950a86a20f9469cfc6c as a LONG1.
LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_LEGACY_MAGIC_NUMBER, _LEGACY_PROTOCOL = 0x1950a86a20f9469cfc6c, 1001
_BFLOAT16 = "bfloat16"
_STORAGE_DTYPES = {"DoubleStorage": "f8", "FloatStorage": "f4", "HalfStorage": "f2", "BFloat16Storage": _BFLOAT16,
                   "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1",
                   "ByteStorage": "u1", "BoolStorage": "b1", "ComplexFloatStorage": "c8",
                   "ComplexDoubleStorage": "c16"}


class _StorageType:
    """What a global torch.<Type>Storage loads as: a tag that only a persistent id accepts."""

    __slots__ = ("name", "dtype")

    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype

    def __repr__(self):
        return f"torch.{self.name}"


class _Storage:
    """One storage's elements, a writable 1-D array that the tensors viewing it share."""

    __slots__ = ("kind", "array")
    __hash__ = None

    def __init__(self, kind, array):
        self.kind, self.array = kind, array

    def __setstate__(self, state):
        raise Refused(f"a state for {self.kind!r}, which takes none")


def folder(archive):
    """The folder of a torch.save archive (its name ends with '/'), or None if it is not one."""
    tops = [name[:-len("data.pkl")] for name in archive.namelist()
            if name.endswith("/data.pkl") and name.count("/") == 1]
    return tops[0] if len(tops) == 1 else None


def read(archive, source, max_bytes=None):
    """The object in the torch.save archive (a zipfile.ZipFile), tensors as NumPy arrays, none
    declaring more than `max_bytes` (default MAX_STATE_BYTES)."""
    prefix = folder(archive)
    if prefix is None:
        raise DatasetError(f"{source} is a zip archive but not a torch.save file: it has no single "
                           f"<folder>/data.pkl")
    has_byteorder = prefix + "byteorder" in archive.namelist()
    byteorder = _member(archive, prefix + "byteorder", source) if has_byteorder else b"little"
    if byteorder not in (b"little", b"big"):
        raise DatasetError(f"{source}: its byteorder member says {reprlib.repr(byteorder)}, not little or big")
    pickled = _member(archive, prefix + "data.pkl", source)
    unpickler = _TorchUnpickler(io.BytesIO(pickled), len(pickled), archive, prefix,
                                "<" if byteorder == b"little" else ">", source,
                                MAX_STATE_BYTES if max_bytes is None else max_bytes)
    return load_checked(unpickler, source)


def read_legacy(file, source, max_bytes=None):
    """The object in the torch.save file of the legacy format open at `file` (binary, seekable),
    tensors as NumPy arrays, their storages together declaring at most `max_bytes` (default
    MAX_STATE_BYTES) and no more than the file holds."""
    size = file.seek(0, io.SEEK_END)
    file.seek(0)
    magic, protocol, info = (load_checked(RestrictedUnpickler(file, size), source) for _ in range(3))
    if magic != _LEGACY_MAGIC_NUMBER or protocol != _LEGACY_PROTOCOL or not isinstance(info, dict):
        raise DatasetError(f"{source}: its header (magic number {reprlib.repr(magic)}, protocol "
                           f"{reprlib.repr(protocol)}) is not torch's legacy format")
    unpickler = _LegacyUnpickler(file, size, source, MAX_STATE_BYTES if max_bytes is None else max_bytes)
    obj = load_checked(unpickler, source)
    keys = load_checked(RestrictedUnpickler(file, size), source)
    if not (isinstance(keys, list) and sorted(keys) == sorted(unpickler.storages)):
        raise DatasetError(f"{source}: its list of storages {reprlib.repr(keys)} is not those its tensors use, "
                           f"{reprlib.repr(sorted(unpickler.storages))}")
    for key in keys:  # the storages' arrays are filled in place: the tensors are views of them
        _read_storage(file, unpickler.storages[key], key, source)
    return obj


def _read_storage(file, storage, key, source):
    count = int.from_bytes(file.read(8).ljust(8, b"\xff"), "little", signed=True)  # a short read: -1
    itemsize = 2 if storage.kind == "BFloat16Storage" else storage.array.itemsize
    data = file.read(count * itemsize) if count == len(storage.array) else b""
    if count != len(storage.array) or len(data) != count * itemsize:
        raise DatasetError(f"{source} is truncated or corrupt: storage {key} ({storage.kind} of "
                           f"{len(storage.array)} elements) is not there whole")
    storage.array[:] = _decode(data, _STORAGE_DTYPES[storage.kind], "<")


def _decode(data, dtype, byteorder):
    """The elements in `data` of a storage of `dtype` ('f4', ..., or bfloat16) in that byte order."""
    if dtype == _BFLOAT16:  # bfloat16 is the top half of a float32
        return (np.frombuffer(data, byteorder + "u2").astype(np.uint32) << 16).view(np.float32)
    dtype = np.dtype(byteorder + dtype)
    return np.frombuffer(bytearray(data), dtype).astype(dtype.newbyteorder("="), copy=False)


def _member(archive, name, source):
    try:
        return archive.read(name)
    except ZIP_ERRORS as exc:
        raise DatasetError(f"{source}: its member {name} is corrupt or truncated ({exc})") from None


# The stand-ins; each takes the unpickler first.

def _rebuild_tensor_v2(load, storage, offset, size, stride, requires_grad, hooks, metadata=None):
    what = (f"torch._utils._rebuild_tensor_v2(offset={offset!r}, size={reprlib.repr(size)}, "
            f"stride={reprlib.repr(stride)})")
    if not isinstance(storage, _Storage):
        raise Refused(f"{what} given a {type(storage).__name__} for its storage")
    if not (_naturals(size) and _naturals(stride) and len(size) == len(stride) and type(offset) is int
            and offset >= 0 and type(requires_grad) is bool):
        raise Refused(f"{what}: size and stride must be tuples of as many non-negative ints, offset a "
                      f"non-negative int")
    if not (isinstance(hooks, dict) and not hooks and not metadata):
        raise Refused(f"{what} with backward hooks or metadata: only plain tensors are allowed")
    elements = storage.array
    last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if math.prod(size) else offset - 1
    if last >= len(elements):
        raise Refused(f"{what} reaches element {last} of its storage, which has {len(elements)}")
    if math.prod(size) * elements.itemsize > load.max_bytes:  # overlapping views, stride 0, can claim any size
        raise Refused(f"{what} declares more than {format_size(load.max_bytes)} of elements")
    view = np.lib.stride_tricks.as_strided(elements[offset:], size, [s * elements.itemsize for s in stride])
    return Placeholder(view)


def _rebuild_parameter(load, data, requires_grad, hooks):
    if not isinstance(data, Placeholder) or type(requires_grad) is not bool or not isinstance(hooks, dict) or hooks:
        raise Refused("torch._utils._rebuild_parameter: only a tensor without backward hooks is allowed")
    return data


def _ordered_dict(load, *args):
    # torch pickles an OrderedDict as OrderedDict() followed by its items
    if args:
        raise Refused(f"collections.OrderedDict{reprlib.repr(args)}: only OrderedDict() is allowed")
    return collections.OrderedDict()


def _naturals(values):
    return type(values) is tuple and all(type(n) is int and n >= 0 for n in values)


class _TorchUnpickler(RestrictedUnpickler):
    ALLOWED_GLOBALS = {
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("collections", "OrderedDict"): _ordered_dict,
        **{("torch", name): _StorageType(name, dtype) for name, dtype in _STORAGE_DTYPES.items()},
    }
    ALLOW = "tensors of bool, integer, float and complex storages, OrderedDict and plain containers"

    def __init__(self, file, size, archive, prefix, byteorder, source, max_bytes):
        super().__init__(file, size)
        self.archive, self.prefix, self.byteorder, self.source = archive, prefix, byteorder, source
        self.max_bytes = max_bytes
        self.storages = {}

    def persistent_load(self, pid):
        if not (type(pid) is tuple and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)
                and type(pid[2]) is str and type(pid[4]) is int and pid[4] >= 0):
            raise Refused(f"persistent id {reprlib.repr(pid)}: only ('storage', torch.<Type>Storage, key, "
                          f"location, numel) is allowed")
        _, kind, key, _, numel = pid
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = _Storage(kind.name, self._elements(kind, key, numel))
        if storage.kind != kind.name or len(storage.array) != numel:
            raise Refused(f"storage {key} is read as {storage.kind} of {len(storage.array)} elements and as "
                          f"{kind.name} of {numel}")
        return storage

    def _elements(self, kind, key, numel):
        name = f"{self.prefix}data/{key}"
        try:
            self.archive.getinfo(name)
        except KeyError:
            raise Refused(f"storage {key} has no member {name} in the archive") from None
        data = _member(self.archive, name, self.source)
        itemsize = 2 if kind.dtype == _BFLOAT16 else int(kind.dtype[1:])
        if len(data) != numel * itemsize:
            raise Refused(f"storage {key} ({kind.name} of {numel} elements) holds {len(data)} bytes, "
                          f"not {numel * itemsize}")
        return _decode(data, kind.dtype, self.byteorder)


class _LegacyUnpickler(_TorchUnpickler):
    """The object's pickle in a legacy file: storages are allocated when first named, after their
    declared sizes are checked against the file's and the limit, and filled once the pickle ends."""

    def __init__(self, file, size, source, max_bytes):
        super().__init__(file, size, None, None, "<", source, max_bytes)
        self.file_size, self.declared = size, 0

    def persistent_load(self, pid):
        if not (type(pid) is tuple and len(pid) == 6 and pid[5] is None):
            raise Refused(f"persistent id {reprlib.repr(pid)}: only ('storage', torch.<Type>Storage, key, "
                          f"location, numel, None) is allowed")
        return super().persistent_load(pid[:5])

    def _elements(self, kind, key, numel):
        self.declared += numel * (2 if kind.dtype == _BFLOAT16 else int(kind.dtype[1:]))
        if self.declared > min(self.max_bytes, self.file_size):
            raise Refused(f"storage {key} brings the storages to {self.declared} bytes, more than the file's "
                          f"{self.file_size} or the limit of {format_size(self.max_bytes)}")
        return np.zeros(numel, np.float32 if kind.dtype == _BFLOAT16 else kind.dtype)
