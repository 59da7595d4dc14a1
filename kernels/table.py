"""The kernel tables: `cpu` (Numba and NumPy) and `cuda` (CUDA through CuPy), one per backend.

Each family module kernels/<family>.py writes its contract once, as a Protocol
class `Contract` whose methods give each kernel's signature and semantics, and
implements every contract function as NAME_cpu and NAME_cuda side by side. A
table holds, for every contract function of every family in FAMILIES, that
backend's implementation; minigan.backend.kernels(xp) returns one, and ops call
`kernels(xp).NAME(...)`. Adding a family is adding its module's name to FAMILIES.
"""
import importlib
import inspect
import types

FAMILIES = tuple(importlib.import_module(f"{__package__}.{name}") for name in
                 ("convolution", "batchnorm", "activation", "adam", "philox", "gemm", "pooling"))
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
