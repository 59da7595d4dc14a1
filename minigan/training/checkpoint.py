"""Checkpoints: one .npz that numpy.load(..., allow_pickle=False) reads.

Arrays go in under prefixed keys ("G/main.0.weight", "optD/3.exp_avg");
the RNG state and the config, which are not arrays, go in as JSON strings.
"""
import json

import numpy

from ..backend import to_numpy
from .atomic import atomic_path


def save(path, sections, scalars):
    """sections: {prefix: {name: array or int}}; scalars: {name: int or JSON-able object}."""
    arrays = {}
    for prefix, entries in sections.items():
        for name, value in entries.items():
            arrays[f"{prefix}/{name}"] = numpy.asarray(to_numpy(value) if hasattr(value, "shape") else value)
    for name, value in scalars.items():
        arrays[name] = numpy.asarray(value if isinstance(value, int) else json.dumps(value))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            numpy.savez(f, **arrays)


def load(path):
    """(sections, scalars) as save() got them; refuses pickled objects."""
    sections, scalars = {}, {}
    with numpy.load(path, allow_pickle=False) as archive:
        for key in archive.files:
            value = archive[key]
            if "/" in key:
                prefix, name = key.split("/", 1)
                sections.setdefault(prefix, {})[name] = value
            elif value.dtype.kind == "U":
                scalars[key] = json.loads(str(value))
            else:
                scalars[key] = int(value)
    return sections, scalars
