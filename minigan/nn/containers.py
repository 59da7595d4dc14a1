"""ModuleList, ModuleDict and Identity: holders of modules, with torch's keys, methods and repr.

A container's children are in its _modules under torch's names ("0", "1", ... for a list, the
keys for a dict), so parameters(), state_dict() ("0.weight") and repr follow with no more code.
"""
import operator
from collections.abc import Iterable, Mapping

from .module import Module, indent

__all__ = ["Identity", "ModuleDict", "ModuleList"]


class Identity(Module):
    """Returns its input; takes (and ignores) any arguments, as torch's."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):  # noqa: A002  (torch's name)
        return input


class ModuleList(Module):
    """A list of modules, registered as children "0", "1", ...; indexing, slicing, append, extend,
    insert, pop, del and += as a Python list (and torch's ModuleList)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _index(self, index):
        """index (an int, negative counting from the end) as the key of its child."""
        index = operator.index(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for a ModuleList of length {len(self)}")
        return str(index % len(self))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(list(self._modules.values())[index])
        return self._modules[self._index(index)]

    def __setitem__(self, index, module):
        self.add_module(self._index(index), module)

    def __delitem__(self, index):
        keys = list(self._modules)[index] if isinstance(index, slice) else [self._index(index)]
        for key in keys:
            del self._modules[key]
        self._renumber(list(self._modules.values()))

    def _renumber(self, modules):
        """modules as the children "0" ... "len - 1", the keys torch's state_dict expects."""
        self._modules.clear()
        self._modules.update((str(i), m) for i, m in enumerate(modules))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return type(self)([*self, *other])

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        if not isinstance(modules, Iterable):
            raise TypeError(f"ModuleList.extend should be called with an iterable, but got "
                            f"{type(modules).__name__}")
        for module in list(modules):  # list(): extending a list by itself
            self.append(module)
        return self

    def insert(self, index, module):
        """module before position index, as list.insert (an index past the end appends)."""
        index = operator.index(index)
        self.append(module)  # checks module; then it moves to its place
        modules = list(self._modules.values())
        modules.insert(index, modules.pop())
        self._renumber(modules)

    def pop(self, index=-1):
        module = self[index]
        del self[index]
        return module

    def __repr__(self):
        """torch's: consecutive equal children on one line, as "(0-2): 3 x Linear(...)"."""
        if not self._modules:
            return "ModuleList()"
        runs = []  # [first index, last index, repr]
        for index, module in enumerate(self):
            text = repr(module)
            if runs and runs[-1][2] == text:
                runs[-1][1] = index
            else:
                runs.append([index, index, text])
        lines = [indent(f"({first}): {text}" if first == last else f"({first}-{last}): {last - first + 1} x {text}")
                 for first, last, text in runs]
        return "ModuleList(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """An ordered dict of modules, registered as children under their keys (strings)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def clear(self):
        self._modules.clear()

    def pop(self, key):
        module = self[key]
        del self[key]
        return module

    def update(self, modules):
        """Add (or replace) modules from a mapping, or from an iterable of (key, module) pairs."""
        if isinstance(modules, (Mapping, ModuleDict)):
            pairs = list(modules.items())
        elif isinstance(modules, Iterable) and not isinstance(modules, (str, Module)):
            pairs = []
            for index, pair in enumerate(modules):
                if not isinstance(pair, Iterable) or isinstance(pair, str):
                    raise TypeError(f"ModuleDict.update: element {index} should be a (key, module) pair, "
                                    f"got {type(pair).__name__}")
                pairs.append(tuple(pair))
                if len(pairs[-1]) != 2:
                    raise ValueError(f"ModuleDict.update: element {index} has length {len(pairs[-1])}; "
                                     f"a (key, module) pair has 2")
        else:
            raise TypeError(f"ModuleDict.update should be called with a mapping or an iterable of "
                            f"(key, module) pairs, but got {type(modules).__name__}")
        for key, module in pairs:
            self[key] = module
