"""minigan.save and minigan.load: state dicts, optimizer states and plain containers of them, in
an .npz file that holds no pickle; load also reads the state dicts that torch.save writes.

The format (version 1)
----------------------
A minigan.save file is an uncompressed .npz archive, which numpy.load(path, allow_pickle=False)
opens. Its member `manifest.npy`, a 0-d str array, holds the JSON text
    {"format": "minigan", "version": 1, "root": VALUE}
and each array is the member `<n>.npy` (n = 0, 1, ...). VALUE encodes the saved object:
  - None, True, False, an int, a finite float, a str: itself;
  - a float nan, inf or -inf: {"float": "nan"}, {"float": "inf"}, {"float": "-inf"};
  - a list, a tuple: {"list": [VALUE, ...]}, {"tuple": [VALUE, ...]};
  - a dict, an OrderedDict: {"dict": [[KEY, VALUE], ...]}, {"ordered_dict": [...]}, in order;
    a KEY is None, a bool, an int, a finite float or a str, written as itself (torch's optimizer
    state is keyed by parameter index);
  - an array of bools or numbers (NumPy or CuPy): {"array": "<n>"}; a NumPy scalar such as
    numpy.int64(3): {"scalar": "<n>"}, its value a 0-d member; a Tensor:
    {"tensor": "<n>", "requires_grad": true or false}.
An array object saved twice (tied weights) is stored once and loads as one object. Every dict
in VALUE is one of these tagged forms, so a user's dict never reads as a tag. Anything else
(sets, bytes, objects, arrays of strings or objects) is refused, naming where it sits.

Files are written atomically (minigan.atomic). load() reads every member through checks first:
its size and the shape its header declares, so a damaged or hostile file fails with a message
naming it instead of allocating what it claims.
"""
import json
import math
import os
from collections import OrderedDict

import numpy

from . import backend
from .atomic import atomic_path
from .autograd import Tensor
from .data import torch_file
from .data.errors import DatasetError, NotAZipArchive
from .data.limits import ZIP_ERRORS, open_zip

FORMAT, VERSION = "minigan", 1
MANIFEST = "manifest.npy"
MAX_DEPTH = 100  # nesting of containers; deeper is no state dict
_ARRAY_KINDS = "biufc"  # bool, integers, floats, complex
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_KEY_TYPES = (type(None), bool, int, float, str)
_HEADER_READERS = {(1, 0): numpy.lib.format.read_array_header_1_0, (2, 0): numpy.lib.format.read_array_header_2_0}


class SerializationError(ValueError):
    """A file that minigan.load cannot read, or an object that minigan.save cannot write."""


def save(obj, path):
    """Write `obj` (a state dict, an optimizer state, or plain containers of them) to `path`."""
    arrays, stored = {}, {}
    root = _encode(obj, "obj", arrays, stored, 0)
    manifest = json.dumps({"format": FORMAT, "version": VERSION, "root": root}, allow_nan=False)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            numpy.savez(f, manifest=numpy.asarray(manifest), **arrays)


def _encode(value, where, arrays, stored, depth):
    if depth > MAX_DEPTH:
        raise SerializationError(f"minigan.save: {where} is nested more than {MAX_DEPTH} containers deep")
    if isinstance(value, numpy.generic):  # before the Python types: numpy.float64 is a float
        return {"scalar": _store(numpy.asarray(value), where, arrays, stored)}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, (list, tuple)):
        items = [_encode(item, f"{where}[{i}]", arrays, stored, depth + 1) for i, item in enumerate(value)]
        return {type(value).__name__: items}
    if isinstance(value, dict):
        for key in value:
            if type(key) not in _KEY_TYPES or (type(key) is float and not math.isfinite(key)):
                raise SerializationError(f"minigan.save: {where} has a key of type {type(key).__name__} "
                                         f"({key!r:.60}); keys must be None, bool, int, finite float or str")
        pairs = [[key, _encode(item, f"{where}[{key!r}]", arrays, stored, depth + 1)] for key, item in value.items()]
        return {"ordered_dict" if isinstance(value, OrderedDict) else "dict": pairs}
    if isinstance(value, Tensor):
        return {"tensor": _store(value.data, where, arrays, stored), "requires_grad": bool(value.requires_grad)}
    if backend.is_array(value):
        return {"array": _store(value, where, arrays, stored)}
    raise SerializationError(f"minigan.save: {where} is a {type(value).__module__}.{type(value).__qualname__}, "
                             f"which cannot be saved; give arrays, Tensors, numbers, str, None and "
                             f"dicts, lists and tuples of them")


def _store(array, where, arrays, stored):
    """The member name of `array`, stored once however often it appears."""
    if array.dtype.kind not in _ARRAY_KINDS:
        raise SerializationError(f"minigan.save: {where} is an array of {array.dtype}, which cannot be "
                                 f"saved; only bool and numeric arrays can")
    if id(array) not in stored:
        name = str(len(stored))
        stored[id(array)] = (name, array)  # the array too: its id must stay taken
        arrays[name] = backend.to_numpy(array)
    return stored[id(array)][0]


def load(path, map_location=None, max_bytes=None):
    """The object saved at `path` by minigan.save, or by torch.save (its zip format, torch >= 1.6, or
    its legacy format, read without torch: tensors come back as NumPy arrays). Arrays are loaded to the CPU, or with
    map_location='cuda' to the GPU. Files whose members declare more than `max_bytes` unpacked
    (default minigan.data.limits.MAX_STATE_BYTES), or tensors claiming more, are refused."""
    if map_location not in (None, "cpu") and not str(map_location).startswith("cuda"):
        raise ValueError(f"minigan.load: map_location must be None, 'cpu' or 'cuda', got {map_location!r}")
    try:
        with open_zip(path, max_bytes) as archive:
            if MANIFEST in archive.namelist():
                obj = _decode_archive(archive, path)
            elif torch_file.folder(archive) is not None:
                obj = torch_file.read(archive, str(path), max_bytes)
            else:
                raise SerializationError(f"{path} is a zip archive, but neither minigan.save nor torch.save "
                                         f"wrote it (it has no {MANIFEST} and no <folder>/data.pkl)")
    except FileNotFoundError:
        raise FileNotFoundError(f"minigan.load: there is no file {path}") from None
    except NotAZipArchive:
        obj = _load_legacy(path, max_bytes)
    except DatasetError as exc:
        raise SerializationError(f"minigan.load: {exc}") from None
    return obj if map_location in (None, "cpu") else _to_device(obj, map_location, {})


def _load_legacy(path, max_bytes):
    """The object in `path`, a regular file but no whole zip archive: torch's legacy format, or refused."""
    with open(path, "rb") as f:
        if f.read(len(torch_file.LEGACY_MAGIC)) != torch_file.LEGACY_MAGIC:
            raise SerializationError(f"minigan.load: {path} is not a file that minigan.save or torch.save wrote, "
                                     f"or it is truncated or corrupt: it is not a whole zip archive, nor in "
                                     f"torch's legacy format")
        try:
            return torch_file.read_legacy(f, str(path), max_bytes)
        except DatasetError as exc:
            raise SerializationError(f"minigan.load: {exc}") from None


def _decode_archive(archive, path):
    """The object in a minigan.save archive, every member checked before it is read."""
    arrays = {}
    for info in archive.infolist():
        name, ext = os.path.splitext(info.filename)
        if ext != ".npy":
            raise SerializationError(f"{path}: unexpected member {info.filename}; the file is damaged or "
                                     f"was not written by minigan.save")
        arrays[name] = _read_member(archive, info, path)
    try:
        manifest = json.loads(str(arrays.pop("manifest")))
    except (ValueError, KeyError) as exc:
        raise SerializationError(f"{path}: its manifest is not JSON ({exc}); the file is damaged") from None
    if not (isinstance(manifest, dict) and manifest.get("format") == FORMAT and "root" in manifest):
        raise SerializationError(f"{path}: its manifest is not a minigan.save manifest")
    if manifest.get("version") != VERSION:
        raise SerializationError(f"{path} has minigan.save format version {manifest.get('version')!r}; this "
                                 f"minigan reads version {VERSION}; use a newer minigan")
    used = {}
    obj = _decode(manifest["root"], arrays, used, path, 0)
    unused = sorted(set(arrays) - {name for _, name, _ in used})
    if unused:
        raise SerializationError(f"{path}: members {unused[:5]} are named by no entry of its manifest; "
                                 f"the file is damaged")
    return obj


def _read_member(archive, info, path):
    """The array in member `info`, once its header declares a bool or numeric array of exactly its size."""
    try:
        with archive.open(info) as member:
            read_header = _HEADER_READERS.get(numpy.lib.format.read_magic(member))
            if read_header is None:
                raise SerializationError(f"{path}: member {info.filename} is not a version 1 or 2 .npy array")
            shape, _, dtype = read_header(member)
            data_bytes = info.file_size - member.tell()
        declared = math.prod(shape) * dtype.itemsize
        if (info.filename != MANIFEST and dtype.kind not in _ARRAY_KINDS) or declared != data_bytes:
            raise SerializationError(f"{path}: member {info.filename} declares a {dtype} array of shape "
                                     f"{shape} ({declared} bytes) but holds {data_bytes} bytes of data; the "
                                     f"file is damaged")
        with archive.open(info) as member:
            return numpy.lib.format.read_array(member, allow_pickle=False)
    except ZIP_ERRORS as exc:
        if isinstance(exc, SerializationError):
            raise
        raise SerializationError(f"{path}: member {info.filename} is damaged (truncated or corrupt: "
                                 f"{type(exc).__name__}: {exc})") from None


def _decode(value, arrays, used, path, depth):
    if depth > MAX_DEPTH:
        raise SerializationError(f"{path}: its manifest nests more than {MAX_DEPTH} containers deep")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict) and len(value) in (1, 2):
        (tag, content), *rest = value.items()
        if tag in ("list", "tuple") and isinstance(content, list) and not rest:
            items = [_decode(item, arrays, used, path, depth + 1) for item in content]
            return items if tag == "list" else tuple(items)
        if tag in ("dict", "ordered_dict") and isinstance(content, list) and not rest:
            return _decode_dict(tag, content, arrays, used, path, depth)
        if tag == "float" and content in _NON_FINITE and not rest:
            return _NON_FINITE[content]
        member = content if isinstance(content, str) and content in arrays else None
        if tag in ("array", "scalar") and member and not rest:
            return _use(tag, member, arrays, used)
        if tag == "tensor" and member and rest and rest[0][0] == "requires_grad" and type(rest[0][1]) is bool:
            return _use(tag, member, arrays, used, requires_grad=rest[0][1])
    raise SerializationError(f"{path}: its manifest has an entry it cannot decode ({str(value):.80}); the "
                             f"file is damaged or from another minigan")


def _decode_dict(tag, pairs, arrays, used, path, depth):
    result = OrderedDict() if tag == "ordered_dict" else {}
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 2 and type(pair[0]) in _KEY_TYPES):
            raise SerializationError(f"{path}: its manifest has a dict entry it cannot decode ({str(pair):.80}); "
                                     f"the file is damaged")
        result[pair[0]] = _decode(pair[1], arrays, used, path, depth + 1)
    return result


def _use(tag, name, arrays, used, requires_grad=False):
    """The object that member `name` loads as `tag`: one object however often the manifest names it."""
    key = (tag, name, requires_grad)
    if key not in used:
        array = arrays[name]
        used[key] = (array[()] if tag == "scalar" else
                     Tensor(array, requires_grad=requires_grad) if tag == "tensor" else array)
    return used[key]


def _to_device(obj, device, moved):
    """obj with each array and Tensor moved to `device` ('cuda'), the structure and the sharing
    of arrays kept (`moved`: {id: moved array})."""
    if isinstance(obj, Tensor):
        return Tensor(_to_device(obj.data, device, moved), requires_grad=obj.requires_grad)
    if backend.is_array(obj):
        if id(obj) not in moved:
            moved[id(obj)] = (obj, backend.to_device(obj, device))  # obj too: its id must stay taken
        return moved[id(obj)][1]
    if isinstance(obj, dict):
        return type(obj)((key, _to_device(value, device, moved)) for key, value in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(item, device, moved) for item in obj)
    return obj
