"""The kernel tables against the contracts, and the kernel layer's place at the bottom of the package.

Each family's Contract (a Protocol) states its kernels' signatures once; both
tables must hold exactly those functions, with those signatures (names,
kinds and defaults of the parameters), read by inspect from the objects
themselves.
"""
import ast
import inspect
import os
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

from minigan import backend
from minigan.kernels import table

REPO = Path(__file__).resolve().parents[2]
KERNELS = REPO / "kernels"


def parameters(function, drop_self=False):
    """(name, kind, default) of each parameter: the signature without annotations."""
    params = list(inspect.signature(function).parameters.values())[int(drop_self):]
    return [(p.name, p.kind, p.default) for p in params]


def test_contracts_are_disjoint_and_documented():
    names = [name for family in table.FAMILIES for name in table.contract(family)]
    assert names and len(names) == len(set(names)), "two families define a kernel of one name"
    for family in table.FAMILIES:
        for name, method in table.contract(family).items():
            assert inspect.getdoc(method), f"{family.__name__}.Contract.{name} has no docstring"


@pytest.mark.parametrize("backend_name", table.BACKENDS)
def test_table_implements_every_contract(backend_name):
    kernels = getattr(table, backend_name)
    contract = {name: method for family in table.FAMILIES for name, method in table.contract(family).items()}
    assert set(vars(kernels)) - {"backend"} == set(contract)
    for name, method in contract.items():
        assert parameters(getattr(kernels, name)) == parameters(method, drop_self=True), \
            f"{backend_name}.{name}{inspect.signature(getattr(kernels, name))} breaks the contract " \
            f"{name}{inspect.signature(method)}"


def test_references_share_the_contract_signatures():
    for family in table.FAMILIES:
        for name, method in table.contract(family).items():
            reference = getattr(family, f"{name}_reference", None)
            if reference is not None:
                assert parameters(reference) == parameters(method, drop_self=True), f"{name}_reference"


def test_backend_picks_the_table():
    assert backend.kernels(numpy) is table.cpu
    assert backend.kernels(object()) is table.cuda


def test_kernels_import_nothing_from_minigan():
    """The lowest layer never reaches up, not even inside a function: its imports are the
    standard library, NumPy, Numba, CuPy and its own modules."""
    for path in sorted(KERNELS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1, f"{path.name}:{node.lineno} imports from above kernels/"
                assert node.level == 1 or not (node.module or "").startswith("minigan"), \
                    f"{path.name}:{node.lineno} imports {node.module}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("minigan"), \
                        f"{path.name}:{node.lineno} imports {alias.name}"


def test_importing_the_kernels_needs_no_cupy():
    script = ("import sys; sys.modules['cupy'] = None; import minigan.kernels.table as t; "
              "assert t.cuda.im2col and 'numba' in sys.modules")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-400:]


@pytest.mark.slow
def test_kernels_refuse_a_second_import_name_that_would_poison_the_numba_cache(tmp_path):
    """kernels/ is importable from the repo root as `kernels` as well as `minigan.kernels`.

    Numba's cache (cache=True) lives next to the source and records the module
    name, so an entry written under `kernels.convolution` cannot load as
    `minigan.kernels.convolution` ("No module named 'kernels'"). The package
    refuses the second name with a clear error, and the canonical name keeps
    working from the same cache.
    """
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"), PYTHONPATH="")
    script = ("import numpy, {module} as t; k = t.cpu; "
              "print(k.col2im(k.im2col(numpy.ones((1, 1, 2, 2)), 3, 3, (1, 1), (1, 1), (2, 2)),"
              " (1, 1, 2, 2), 3, 3, (1, 1), (1, 1), (2, 2)).sum())")
    first = subprocess.run([sys.executable, "-c", script.format(module="kernels.table")], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=120)
    assert first.returncode != 0
    assert "import it under that name" in first.stderr and "'kernels'" in first.stderr
    for cwd in (REPO, tmp_path):  # minigan from this checkout, whatever is installed
        second = subprocess.run([sys.executable, "-c", script.format(module="minigan.kernels.table")],
                                cwd=cwd, env=dict(env, PYTHONPATH=str(REPO)), capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 0, second.stderr[-400:]
        assert second.stdout.strip() == "16.0"
