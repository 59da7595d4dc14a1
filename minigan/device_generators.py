"""The Philox states that ops draw random numbers from on a device (dropout's masks).

Each device has one state (kernels/philox.py's uint64 array of 6, on that device), derived from
the seed of minigan.config's generator: manual_seed(s) therefore makes the masks repeat, and
the CPU and a GPU draw the same masks from the same seed (torch seeds every device's generator
from one seed, too). The states live in the config beside the generator (thread-local, as it
is) and are made anew for a generator they were not made from, so manual_seed restarts them.
On the GPU the state stays on the device, where the kernels advance it: drawing needs no host
sync and no host RNG, so it can be captured in a CUDA graph (make the state by one eager call
before capturing, as the graph needs anyway).
"""
import numpy

from .backend import array_module, kernels
from .config import config

STREAM_KEY = 0x64726F70  # spawn key "drop": this stream apart from every other stream of the seed


def philox_state(array):
    """The state of the device that array lives on, advanced by whatever draws from it."""
    xp = array_module(array)
    device = (xp, None if xp is numpy else xp.cuda.runtime.getDevice())  # CuPy's current device, as its kernels
    generator, states = config.device_generators
    if generator is not config.generator:  # a new generator (manual_seed): new states
        generator, states = config.generator, {}
        config.device_generators = generator, states
    if device not in states:
        states[device] = kernels(xp).random_state(_seed(generator))
    return states[device]


def _seed(generator):
    """A SeedSequence for the Philox states, from the generator's own seed; one drawn from the
    generator where it has none (a bit generator made from a saved state)."""
    seed = generator.bit_generator.seed_seq
    if not isinstance(seed, numpy.random.SeedSequence):
        return numpy.random.SeedSequence(int(generator.integers(2 ** 63)))
    return numpy.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, STREAM_KEY))
