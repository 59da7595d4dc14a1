"""Checkpoints: one .npz that numpy.load(..., allow_pickle=False) reads.

Arrays go in under prefixed keys ("G/main.0.weight", "optD/3.exp_avg");
the RNG state and the config, which are not arrays, go in as JSON strings,
and "format" says which layout this is (a file without it is format 1, the
layout from before it was written). load() refuses, in one sentence naming the
file, anything that is not such a file; check_arrays() what does not fit the
model it is loaded into. The trainer's resume and sample.py both go through them.
"""
import json
import os
import stat

import numpy

from ..backend import to_numpy
from .atomic import atomic_path

FORMAT = 1
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members, an empty zip


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used, with the reason and the file's name."""


def save(path, sections, scalars):
    """sections: {prefix: {name: array or int}}; scalars: {name: int or JSON-able object}."""
    arrays = {"format": numpy.asarray(FORMAT)}
    for prefix, entries in sections.items():
        for name, value in entries.items():
            arrays[f"{prefix}/{name}"] = numpy.asarray(to_numpy(value) if hasattr(value, "shape") else value)
    for name, value in scalars.items():
        arrays[name] = numpy.asarray(value if isinstance(value, int) else json.dumps(value))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            numpy.savez(f, **arrays)


def load(path):
    """(sections, scalars) as save() got them, "format" left out; refuses pickled objects and,
    naming the file, anything that is not a whole checkpoint of a known format."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise CheckpointError(f"there is no checkpoint at {path}; give the checkpoint.npz of a run "
                              f"(or its run directory)") from None
    if not stat.S_ISREG(info.st_mode):  # opening a FIFO would block
        raise CheckpointError(f"{path} is not a regular file; give the checkpoint.npz of a run")
    with open(path, "rb") as f:
        if f.read(4) not in ZIP_MAGIC:
            raise CheckpointError(f"{path} is not a checkpoint (not an .npz archive); give the "
                                  f"checkpoint.npz of a run")
    sections, scalars = {}, {}
    try:
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
    except Exception as error:  # any way a damaged archive fails to parse: zip, npy header, JSON
        raise CheckpointError(f"{path} is damaged (truncated or corrupted: {type(error).__name__}: "
                              f"{error}); use an intact copy or start a new run") from None
    version = scalars.pop("format", 1)
    if version != FORMAT:
        raise CheckpointError(f"{path} has checkpoint format {version}, which this minigan "
                              f"(format {FORMAT}) cannot read; use a newer minigan")
    return sections, scalars


def check_scalars(path, scalars, config_fields):
    """The step and the config (a dict whose keys are all among config_fields)."""
    config = scalars.get("config")
    if not isinstance(scalars.get("step"), int) or scalars["step"] < 0 or not isinstance(config, dict):
        raise CheckpointError(f"{path} is missing its step or its config; it is not a minigan "
                              f"checkpoint, or is damaged")
    unknown = sorted(set(config) - set(config_fields))
    if unknown:
        raise CheckpointError(f"{path} has unknown config keys {unknown}; it was written by "
                              f"another version of minigan, or edited")


KINDS = {"f": "floats", "i": "integers", "u": "unsigned integers"}


def check_section_names(path, sections, names, optional=()):
    """sections has every one of names but the optional ones, and no other."""
    missing = sorted(set(names) - set(sections) - set(optional))
    extra = sorted(set(sections) - set(names))
    if missing or extra:
        raise CheckpointError(f"{path} lacks sections {missing} or has unexpected ones {extra}; it "
                              f"was written for another model, or is damaged")


def check_sections(path, sections, expected, optional=()):
    """sections must be exactly expected's, {prefix: {name: (shape, dtype kind)}}, with finite
    floats and no negative BatchNorm variance; an optional section may be absent (an optimizer
    saved before its first step has no state)."""
    check_section_names(path, sections, expected, optional)
    for prefix, arrays in sections.items():
        want = expected[prefix]
        odd = sorted(set(arrays) ^ set(want))
        if odd:
            raise CheckpointError(f"{path}: section {prefix} does not fit the model ({odd[:3]} "
                                  f"differ); it was written for another model, or is damaged")
        for name, value in arrays.items():
            shape, kind = want[name]
            key = f"{prefix}/{name}"
            if tuple(value.shape) != tuple(shape) or value.dtype.kind != kind:
                raise CheckpointError(f"{path}: {key} is {value.dtype} {tuple(value.shape)}, the model "
                                      f"needs {KINDS[kind]} of shape {tuple(shape)}; it was written "
                                      f"for another model, or is damaged")
            if kind == "f" and not numpy.isfinite(value).all():
                raise CheckpointError(f"{path}: {key} holds NaN or infinite values; use an earlier "
                                      f"checkpoint")
            if name.endswith("running_var") and (value < 0).any():
                raise CheckpointError(f"{path}: {key} holds negative variances; use an earlier checkpoint")


def expected_arrays(state):
    """{name: (shape, dtype kind)} of a state_dict, for check_sections."""
    return {name: (tuple(value.shape), numpy.dtype(value.dtype).kind) for name, value in state.items()}


def flat_optimizer_state(state_dict):
    """An optimizer's state_dict()["state"] as the checkpoint holds it, {"index.name": array or int};
    its param_groups are left out (the config gives them)."""
    return {f"{index}.{name}": value for index, state in state_dict["state"].items()
            for name, value in state.items()}


def optimizer_state(flat, optimizer):
    """The state_dict for optimizer.load_state_dict of a checkpoint's flat_optimizer_state, with
    optimizer's own param_groups (check_sections has checked the names against expected_adam)."""
    state = {}
    for name, value in flat.items():
        index, _, key = name.partition(".")
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": optimizer.state_dict()["param_groups"]}


def expected_adam(params):
    """{name: (shape, dtype kind)} of an Adam state over params, as flat_optimizer_state gives it."""
    expected = {}
    for index, p in enumerate(params):
        expected.update({f"{index}.step": ((), "i"), f"{index}.exp_avg": (tuple(p.shape), "f"),
                         f"{index}.exp_avg_sq": (tuple(p.shape), "f")})
    return expected
