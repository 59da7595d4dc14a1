"""The kernel tables: `cpu` (Numba and NumPy) and `cuda` (CUDA through CuPy), one per backend.

Each family module kernels/<family>.py writes its contract once, as a Protocol
class `Contract` whose methods give each kernel's signature and semantics, and
implements every contract function as NAME_cpu and NAME_cuda side by side. A
table holds, for every contract function of every family in FAMILIES, that
backend's implementation; minigan.backend.kernels(xp) returns one, and ops call
`kernels(xp).NAME(...)`. Adding a family is adding its module: every public module here is one.
"""
import importlib
import inspect
import pkgutil
import sys
import types


def _families():
    """Every public module of this package but this one, by name: each is a family with a Contract."""
    names = [info.name for info in pkgutil.iter_modules(sys.modules[__package__].__path__)
             if not info.name.startswith("_") and info.name != "table"]
    return tuple(importlib.import_module(f"{__package__}.{name}") for name in sorted(names))


FAMILIES = _families()
BACKENDS = ("cpu", "cuda")


def contract(family):
    """{name: method} of family's Contract, the functions every backend implements."""
    return {name: method for name, method in vars(family.Contract).items()
            if inspect.isfunction(method) and not name.startswith("_")}


class Table(types.SimpleNamespace):
    """One backend's kernels, as attributes named by the contracts."""

    def __init__(self, backend):
        functions = {}
        for family in FAMILIES:
            for name in contract(family):
                assert name not in functions, f"{family.__name__}.{name}: a second family defines it"
                functions[name] = getattr(family, f"{name}_{backend}")
        super().__init__(**functions)
        self.backend = backend

    def __repr__(self):
        return f"<minigan.kernels.table.{self.backend}>"


cpu, cuda = Table("cpu"), Table("cuda")
