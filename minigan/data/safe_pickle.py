"""Unpickle data files without letting them run code.

pickle.load calls any global the file names (os.system, eval, ...), so a
downloaded pickle is only as trustworthy as its server. This loader admits
only the few globals that plain numeric data needs, and never calls the real
ones: each maps to a stand-in that checks its arguments and builds the result
itself, so a declared array size is checked against the bytes the file holds
before anything is allocated. Arrays are read-only views of those bytes, and
the stand-ins that copy share a budget of the pickle's own size. Numpy objects
stay placeholders until the load ends and are then replaced by what they built.
"""

import functools
import io
import math
import pickle
import re
import reprlib

import numpy as np

from .errors import DatasetError

_DTYPE_NAME = re.compile(r"[biufc][0-9]{1,2}")  # how numpy pickles a numeric dtype: 'u1', 'i8', 'c16'
_BYTE_ORDERS = ("<", ">", "|", "=")
_KIND_NAMES = {"O": " object", "V": " void", "U": " str", "S": " bytes", "M": " datetime64", "m": " timedelta64"}
_SCALARS = (bytes, bytearray, str, int, float, complex, bool, type(None))


class Refused(Exception):
    """A stand-in refused its arguments; safe_load adds the file's name."""


class _Ndarray:
    """What the global numpy.ndarray loads as: a tag that only _reconstruct accepts.

    The class itself is not handed out, since calling it allocates any shape.
    """

    __slots__ = ()

    def __repr__(self):
        return "numpy.ndarray"


_NDARRAY = _Ndarray()


class Placeholder:
    """A numpy object the pickle declared; `value` is what was built from it once checked."""

    __hash__ = None  # like an array: never a dict key or set member, where it could not be replaced

    def __init__(self, value=None):
        self.value = value

    def __setstate__(self, state):
        raise Refused(f"a state for a numpy {type(self.value).__name__} that takes none")


class PlaceholderDtype(Placeholder):
    def __setstate__(self, state):
        # numpy writes (3, byte order, None, None, None, -1, -1, 0) for every numeric dtype;
        # the rest would describe fields, subarrays or object flags.
        if not (type(state) is tuple and len(state) == 8 and state[0] == 3 and _text(state[1]) in _BYTE_ORDERS
                and state[2:] == (None, None, None, -1, -1, 0)):
            raise Refused(f"numpy.dtype state {reprlib.repr(state)}: only a byte order is allowed")
        self.value = self.value.newbyteorder(_text(state[1]))


class PlaceholderArray(Placeholder):
    def __setstate__(self, state):
        # numpy writes (1, shape, dtype, is_fortran, data) once, after _reconstruct
        if self.value is not None or not (type(state) is tuple and len(state) == 5 and state[0] == 1
                                          and isinstance(state[2], PlaceholderDtype) and state[3] in (True, False)):
            raise Refused(f"numpy array state {reprlib.repr(state)}: expected (1, shape, dtype, fortran, data) "
                          f"once, after _reconstruct")
        self.value = _array(state[4], state[2].value, state[1], "F" if state[3] else "C", "numpy array state")


def _text(value):
    """`value`, decoded if it is bytes: Python 2 pickles loaded with encoding='bytes' give bytes for str."""
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value


def _array(data, dtype, shape, order, what):
    """A read-only view of `data` as `dtype` and `shape`, once the size they declare matches its length.

    A view, not a copy: arrays that a pickle builds many times over one buffer cost it once.
    """
    if not (type(shape) is tuple and all(type(n) is int and n >= 0 for n in shape)):
        raise Refused(f"{what}: shape {reprlib.repr(shape)} is not a tuple of non-negative ints")
    if not isinstance(data, (bytes, bytearray)):
        raise Refused(f"{what}: data of type {type(data).__name__}, where only bytes are allowed")
    declared = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if declared != len(data):
        raise Refused(f"{what}: an array declared as {dtype} {shape}, {declared} bytes, holds {len(data)} bytes")
    array = np.frombuffer(data, dtype).reshape(shape, order=order)
    array.flags.writeable = False  # a bytearray may back other arrays too
    return array


# The stand-ins. Each takes the unpickler first: those that copy data spend from its budget.

def _codecs_encode(load, text, encoding):
    # Python 3 pickles bytes at protocols 0-2 as _codecs.encode(str, 'latin1').
    if type(text) is not str or encoding != "latin1":
        raise Refused(f"_codecs.encode({type(text).__name__}, {reprlib.repr(encoding)}): only "
                      f"_codecs.encode(str, 'latin1'), which is how bytes are pickled, is allowed")
    load.spend(len(text), "_codecs.encode")
    return text.encode("latin1")


def _set(load, items):
    # Protocols < 4 pickle a set as set(list of its items).
    load.spend(len(items), "set")
    return set(items)


def _bytes(load, *args):
    # Protocols 0-2 pickle b'' as bytes(); bytes(n) would allocate n bytes.
    if args:
        raise Refused(f"bytes{reprlib.repr(args)}: only bytes() is allowed")
    return b""


def _dtype(load, name, align, copy):
    text = _text(name)
    if isinstance(text, str) and _DTYPE_NAME.fullmatch(text):
        try:
            return PlaceholderDtype(np.dtype(text))
        except TypeError:  # not a type numpy has, such as 'i3'
            pass
    kind = _KIND_NAMES.get(text[:1], "") if isinstance(text, str) else ""
    raise Refused(f"numpy.dtype({reprlib.repr(name)}), a non-numeric dtype{kind}: only bool, integer, "
                  f"float and complex dtypes are allowed")


def _reconstruct(load, cls, shape, typecode):
    # numpy pickles every array as _reconstruct(ndarray, (0,), b'b') and then its state;
    # another shape would be allocated here, before the state could be checked.
    if cls is not _NDARRAY or shape != (0,) or typecode not in (b"b", "b"):
        raise Refused(f"numpy _reconstruct{reprlib.repr((cls, shape, typecode))}: only the empty "
                      f"ndarray that numpy writes is allowed")
    return PlaceholderArray()


def _frombuffer(load, data, dtype, shape, order):
    # Protocol 5 pickles an array as _frombuffer(its bytes, dtype, shape, order).
    _check_dtype(dtype, "numpy _frombuffer")
    if order not in ("C", "F"):
        raise Refused(f"numpy _frombuffer with order {reprlib.repr(order)}: only 'C' and 'F' are allowed")
    return PlaceholderArray(_array(data, dtype.value, shape, order, "numpy _frombuffer"))


def _scalar(load, dtype, data):
    # numpy pickles a scalar such as np.int64(3) as scalar(dtype, its bytes).
    _check_dtype(dtype, "numpy scalar")
    return Placeholder(_array(data, dtype.value, (), "C", "numpy scalar")[()])


def _check_dtype(dtype, what):
    if not isinstance(dtype, PlaceholderDtype):
        raise Refused(f"{what} given a {type(dtype).__name__} for its dtype: only a numpy dtype is allowed")


# CIFAR-10's batches were written by Python 2's numpy, which names numpy.core;
# numpy >= 2 writes numpy._core. Protocols 0-2 name Python 2's __builtin__.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy.core.multiarray", "scalar"): _scalar,
    ("numpy._core.multiarray", "scalar"): _scalar,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _dtype,
    ("_codecs", "encode"): _codecs_encode,
    ("builtins", "bytes"): _bytes,
    ("__builtin__", "bytes"): _bytes,
    ("builtins", "set"): _set,  # protocols < 4 have no set opcode
    ("__builtin__", "set"): _set,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves the allowed globals to their stand-ins, which share one budget: together they
    may copy no more than the pickle's own size, so that a small pickle calling them again and
    again on one shared argument cannot fill memory. A subclass for another kind of file names
    its own ALLOWED_GLOBALS ({(module, name): stand-in or tag}) and says what they ALLOW."""

    ALLOWED_GLOBALS = _ALLOWED_GLOBALS
    ALLOW = "plain containers, bytes, str, numbers and numeric numpy arrays"

    def __init__(self, file, size, encoding="ASCII"):
        super().__init__(file, encoding=encoding)
        self.budget = size

    def find_class(self, module, name):
        try:
            found = self.ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise Refused(f"refused to unpickle global {module}.{name}: only {self.ALLOW} "
                          f"are allowed") from None
        return functools.partial(found, self) if callable(found) else found  # tags go as they are

    def spend(self, n, what):
        self.budget -= n
        if self.budget < 0:
            raise Refused(f"{what}: the pickle copies more than its own size, repeating shared data")


def safe_load(file_obj, *, encoding="ASCII"):
    """Unpickle the seekable `file_obj`, admitting only containers, bytes, str, numbers, None and
    numeric numpy data. Arrays are read-only views of the bytes that the pickle holds.

    Use encoding="bytes" for Python 2 pickles such as CIFAR-10's batches.
    """
    source = getattr(file_obj, "name", "pickle")
    try:
        start = file_obj.tell()
        size = file_obj.seek(0, io.SEEK_END) - start
        file_obj.seek(start)
    except OSError as exc:
        raise DatasetError(f"{source} cannot be read ({exc})") from exc
    return load_checked(RestrictedUnpickler(file_obj, size, encoding), source)


def load_checked(unpickler, source):
    """What `unpickler` (a RestrictedUnpickler) loads, its placeholders replaced by what they
    built; any fault is a DatasetError naming `source`."""
    try:
        obj = unpickler.load()
    except DatasetError:  # a fault that a stand-in found in the file around the pickle
        raise
    except Refused as exc:
        raise DatasetError(f"{source}: {exc}; it is not a plain data file, so it was not loaded") from None
    except Exception as exc:  # a corrupt pickle can fail in many ways
        raise DatasetError(f"{source} is not a valid pickle ({type(exc).__name__}: {exc})") from exc
    return _finish(obj, source)


def _finish(root, source):
    """Return `root` with each placeholder replaced by what it built; refuse any type not allowed.

    Lists and dicts are fixed in place; tuples, being immutable, are rebuilt.
    """
    tuples, mutables, built = _scan(root, source)
    _rebuild_tuples(tuples, built)
    for item in mutables:
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, value in [(k, v) for k, v in pairs if id(v) in built]:
            item[key] = built[id(value)]
    return built.get(id(root), root)


def _scan(root, source):
    """Check every object reachable from `root`; return its tuples, its lists and dicts, and
    {id: built value} of its placeholders. Iterative: deep nesting must not hit the recursion limit."""
    seen, tuples, mutables, built = {}, [], [], {}
    pending = [root]
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen[id(item)] = item  # keeps it alive, so that its id is not reused by a rebuilt tuple
        if isinstance(item, dict):
            # Attributes that BUILD set on an OrderedDict (torch's _metadata) are dropped unread.
            getattr(item, "__dict__", {}).clear()
            mutables.append(item)
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            mutables.append(item)
            pending.extend(item)
        elif isinstance(item, tuple):
            tuples.append(item)
            pending.extend(item)
        elif isinstance(item, (set, frozenset)):  # never hold placeholders, which are unhashable
            pending.extend(item)
        elif isinstance(item, Placeholder):
            if item.value is None:
                raise DatasetError(f"refused {source}: it holds a numpy array whose data never came")
            built[id(item)] = item.value
        elif not isinstance(item, _SCALARS):
            what = "global never called" if isinstance(item, (functools.partial, _Ndarray)) else type(item).__name__
            raise DatasetError(f"refused {source}: it holds a {what}")
    return tuples, mutables, built


def _rebuild_tuples(tuples, built):
    """Add to `built` each tuple that holds a built value, inner tuples first.

    Tuples cannot hold each other in a cycle, so a depth-first post-order exists.
    """
    done = set()
    for start in tuples:
        stack = [(start, False)]
        while stack:
            item, inner_done = stack.pop()
            if inner_done:
                rebuilt = tuple(built.get(id(x), x) for x in item)
                if any(new is not old for new, old in zip(rebuilt, item)):
                    built[id(item)] = rebuilt
            elif id(item) not in done:
                done.add(id(item))
                stack.append((item, True))
                stack.extend((x, False) for x in item if type(x) is tuple)
