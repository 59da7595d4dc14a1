"""Read the files torch.save writes (its zip format, torch >= 1.6) without torch and without
unrestricted unpickling.

Such a file is a zip archive of one folder (torch names it "archive", older versions after the
file): `data.pkl` pickles the saved object, in which each tensor is
torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks) and each
storage the persistent id ('storage', torch.<Type>Storage, key, location, numel), whose bytes are
the member `data/<key>` in the byte order that the member `byteorder` names (little if absent).
The unpickler admits those globals, collections.OrderedDict and torch._utils._rebuild_parameter,
each as a checking stand-in, and refuses any other by name before anything is called.

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

# What torch.save of the old format (torch < 1.6, or _use_new_zipfile_serialization=False)
# begins with: pickle protocol 2, then its magic number 0x1950a86a20f9469cfc6c as a LONG1.
LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
LEGACY_ADVICE = ("it was written in torch's legacy format (torch < 1.6, or "
                 "_use_new_zipfile_serialization=False), which is unsupported; re-save it with "
                 "torch >= 1.6: torch.save(torch.load(path), path)")
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
        if kind.dtype == _BFLOAT16:  # bfloat16 is the top half of a float32
            return (np.frombuffer(data, self.byteorder + "u2").astype(np.uint32) << 16).view(np.float32)
        dtype = np.dtype(self.byteorder + kind.dtype)
        return np.frombuffer(bytearray(data), dtype).astype(dtype.newbyteorder("="), copy=False)
