"""Unpickle data files without letting them run code.

pickle.load calls any global the file names (os.system, eval, ...), so a
downloaded pickle is only as trustworthy as its server. This loader resolves
only the globals a plain numeric numpy array needs and checks the result.
"""

import pickle

import numpy as np

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy < 2
    from numpy.core.multiarray import _reconstruct

from .errors import DatasetError

# CIFAR-10's batches were written by Python 2 numpy, which named numpy.core;
# numpy >= 2 writes numpy._core. Both map to the installed function.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Protocols < 4 have no set opcode; protocol 2 names Python 2's module.
    ("builtins", "set"): set,
    ("__builtin__", "set"): set,
}
_CONTAINERS = (dict, list, tuple, set, frozenset)
_SCALARS = (bytes, str, int, float, complex, bool, type(None))
_NUMERIC_KINDS = "biufc"  # bool, signed, unsigned, float, complex


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise DatasetError(f"refused to unpickle global {module}.{name}: only plain containers, "
                               f"bytes, str, numbers and numeric numpy arrays are allowed") from None


def safe_load(file_obj, *, encoding="ASCII"):
    """Unpickle `file_obj`, admitting only containers, bytes, str, numbers, None and numeric arrays.

    Use encoding="bytes" for Python 2 pickles such as CIFAR-10's batches.
    """
    source = getattr(file_obj, "name", "pickle")
    try:
        obj = _RestrictedUnpickler(file_obj, encoding=encoding).load()
    except DatasetError:
        raise
    except Exception as exc:  # a corrupt pickle can fail in many ways
        raise DatasetError(f"{source} is not a valid pickle ({type(exc).__name__}: {exc})") from exc
    _check_plain(obj, source)
    return obj


def _check_plain(obj, source):
    """Raise DatasetError unless `obj` holds only allowed types (object arrays hide anything)."""
    pending, seen = [obj], set()
    while pending:  # iterative: deep nesting must not hit the recursion limit
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, _CONTAINERS):
            pending.extend(item)
        elif type(item) is np.ndarray:
            if item.dtype.kind not in _NUMERIC_KINDS:
                raise DatasetError(f"refused {source}: it holds a numpy array of non-numeric dtype {item.dtype}")
        elif not isinstance(item, _SCALARS):
            raise DatasetError(f"refused {source}: it holds a {type(item).__name__}")
