"""Imports flow one way: no cycle among minigan's and kernels' modules, and kernels/ reaches
no higher than itself.

The graph is read from the source (every `import` and `from` statement, at any depth, so
imports inside functions count), not from what an import happens to execute.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The source folder of each package; kernels/ installs as minigan.kernels.
PACKAGES = {"minigan": ROOT / "minigan", "minigan.kernels": ROOT / "kernels"}


def modules(packages):
    """{module name: path} of every .py file of packages ({package name: folder})."""
    found = {}
    for package, folder in packages.items():
        for path in sorted(folder.rglob("*.py")):
            relative = path.relative_to(folder).with_suffix("")
            if ".".join((package, relative.parts[0])) in packages:
                continue  # a link to another package's folder (minigan/kernels): read under its name
            parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
            found[".".join((package, *parts))] = path
    return found


def imported_names(name, path, is_package):
    """The absolute names of the modules that the file at path imports, relative imports resolved."""
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)  # `from P import submodule`


def import_graph(packages=PACKAGES):
    """{module: modules of the packages it imports}. Importing a.b.c runs a.b's __init__ too, so
    the packages on the way count, except the importer's own ancestors (already being imported)."""
    found = modules(packages)
    graph = {}
    for name, path in found.items():
        is_package = path.name == "__init__.py"
        ancestors = {name.rsplit(".", i)[0] for i in range(name.count(".") + 1)}
        edges = set()
        for target in imported_names(name, path, is_package):
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                step = ".".join(parts[:i])
                if step in found and step not in ancestors:
                    edges.add(step)
        graph[name] = edges - {name}
    return graph


def find_cycle(graph):
    """One cycle as a list of modules (first repeated at the end), or None."""
    state = {}  # absent: unvisited; 1: on the current path; 2: done

    for start in sorted(graph):
        if start in state:
            continue
        path, stack = [], [(start, iter(sorted(graph[start])))]
        state[start] = 1
        path.append(start)
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state.get(child) == 1:
                return path[path.index(child):] + [child]
            elif child not in state:
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph[child]))))
    return None


def upward_imports(graph, low="minigan.kernels"):
    """'module imports target' for each import of the package low that leaves it."""
    return sorted(f"{name} imports {target}" for name, targets in graph.items()
                  if name == low or name.startswith(low + ".")
                  for target in targets if not (target == low or target.startswith(low + ".")))


def find_cycles(graph):
    """Cycles of graph, each as find_cycle gives it, until cutting one edge of each leaves none."""
    graph, cycles = {name: set(targets) for name, targets in graph.items()}, []
    while (cycle := find_cycle(graph)) is not None:
        cycles.append(cycle)
        graph[cycle[-2]].discard(cycle[-1])
    return cycles


def test_no_import_cycle():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)


def test_kernels_import_nothing_from_minigan():
    """The lowest layer never reaches up, not even inside a function."""
    up = upward_imports(import_graph())
    assert not up, "kernels/ imports from minigan: " + "; ".join(up)


def test_the_checks_find_a_cycle_and_an_upward_import_inside_functions(tmp_path):
    """The checks can fail: on a made-up tree whose cycle and upward import hide in functions."""
    files = {"pkg/__init__.py": "from . import a\n",
             "pkg/a.py": "def f():\n    from .b import g\n",
             "pkg/b.py": "import pkg.sub.c\n",
             "pkg/sub/__init__.py": "",
             "pkg/sub/c.py": "from .. import a\n",
             "low/__init__.py": "",
             "low/k.py": "def f():\n    from ..sub import c\n    from . import m\n",
             "low/m.py": "import numpy\n"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph({"pkg": tmp_path / "pkg", "pkg.low": tmp_path / "low"})
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]]
    assert upward_imports(graph, "pkg.low") == ["pkg.low.k imports pkg.sub", "pkg.low.k imports pkg.sub.c"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
