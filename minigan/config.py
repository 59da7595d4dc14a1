"""Process-wide modes in one place (as DeZero's Config): grad mode, the GPU's matmul engine,
the generator behind default initialisation (and the device generators derived from it),
and the installed function hooks. Read them as
`config.NAME`; change them for a block with `using_config(NAME, value)`, which restores the old
value on the way out.

This module imports from minigan only the kernel layer's engine names, so every layer
above the kernels may read it (the kernels themselves take the engine as an argument).
"""
import contextlib
import threading

import numpy

from .kernels.gemm import MATMUL_ENGINES


class Config(threading.local):
    """The modes; thread-local, so no_grad in one thread leaves another recording."""

    def __init__(self):
        self.grad_enabled = True  # record ops for backward (off under no_grad)
        self.matmul = "cublas"  # the GPU products' engine: cuBLAS, or minigan's exact or TF32 GEMM
        self.generator = numpy.random.default_rng()  # default initialisation's random generator
        # (generator, {(array module, device id): Philox state}): the states ops draw from on each
        # device, made from that generator's seed (minigan.device_generators)
        self.device_generators = (None, {})
        self.function_hooks = ()  # called around every op's forward and backward (autograd.FunctionHook)


config = Config()

_CHECKS = {
    "grad_enabled": lambda v: isinstance(v, bool) or "True or False",
    "matmul": lambda v: v in MATMUL_ENGINES or f"one of {MATMUL_ENGINES}",
    "generator": lambda v: isinstance(v, numpy.random.Generator) or "a numpy.random.Generator",
    "function_hooks": lambda v: isinstance(v, tuple) or "a tuple of FunctionHooks",
}


def set_config(name, value):
    """Set mode name to value, checked; returns the old value."""
    if name not in _CHECKS:
        raise ValueError(f"minigan.config: unknown mode {name!r}; the modes are {sorted(_CHECKS)}")
    valid = _CHECKS[name](value)
    if valid is not True:
        raise ValueError(f"minigan.config: {name} must be {valid}, got {value!r}")
    previous = getattr(config, name)
    setattr(config, name, value)
    return previous


@contextlib.contextmanager
def using_config(name, value):
    """Within the block, mode name is value."""
    previous = set_config(name, value)
    try:
        yield
    finally:
        setattr(config, name, previous)
