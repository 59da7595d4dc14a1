"""The trainer's memory: the D update's graph does not live on through the G update, and
steady-state steps neither page-fault (glibc keeps freed big buffers mapped, malloc.py) nor grow
the resident set."""
import json
import subprocess
import sys
import weakref

import pytest

from minigan.autograd import FunctionHook
from minigan.training import Trainer

from .test_trainer import ROOT, tiny_config

MiB = 2**20


class DUpdateIntermediates(FunctionHook):
    """Weak references to the arrays flowing between D's layers in the D update (D's parameters
    require gradients then), checked at the first D layer of the G update (D frozen)."""

    def __init__(self, D):
        self.params = {id(p): p for p in D.parameters()}
        self.d_update, self.alive_in_g_update = [], None

    def forward_postprocess(self, function, arrays):
        inputs = getattr(function, "inputs", ())  # set where the call was recorded for backward
        weights = [x for x in inputs if id(x) in self.params]
        if not weights:
            return
        intermediates = [x.data for x in inputs if getattr(x, "creator", None) is not None]
        if weights[0].requires_grad:
            self.d_update += map(weakref.ref, intermediates)
        elif self.alive_in_g_update is None:
            self.alive_in_g_update = sum(ref() is not None for ref in self.d_update)


def test_the_d_update_graph_is_released_before_the_g_update(tmp_path):
    trainer = Trainer(tiny_config(tmp_path))
    with DUpdateIntermediates(trainer.D) as hook:
        trainer.run_step(0)
    assert len(hook.d_update) >= 6, "the hook saw too few of D's layers to check anything"
    assert hook.alive_in_g_update == 0, \
        f"{hook.alive_in_g_update} of the D update's {len(hook.d_update)} intermediate arrays were alive " \
        "in the G update"


STEADY_STATE = """
import json, resource, sys
from minigan.training import Config, Trainer

def rss():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))

trainer = Trainer(Config(dataset="fake", batch_size=int(sys.argv[1]), out=sys.argv[3], seed=0))
for step in range(3):  # warm-up: the heap grows to the step's peak
    trainer.run_step(step)
before, sizes = resource.getrusage(resource.RUSAGE_SELF), []
for step in range(3, 3 + int(sys.argv[2])):
    trainer.run_step(step)
    sizes.append(rss())
after = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"minor_faults": after.ru_minflt - before.ru_minflt,
                  "major_faults": after.ru_majflt - before.ru_majflt,
                  "rss": sizes, "malloc": trainer.malloc_setting}))
"""


@pytest.mark.slow
def test_steady_state_steps_neither_fault_nor_grow(tmp_path):
    """Batch 160: D2's im2col and G3's column matrices are 40 MiB each, above glibc's largest
    mmap threshold (32 MiB), which without malloc.py's setting are unmapped on free and faulted
    back in every step (about 4,700 minor faults per step here)."""
    steps = 4
    done = subprocess.run([sys.executable, "-c", STEADY_STATE, "160", str(steps), str(tmp_path / "run")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout.splitlines()[-1])
    assert measured["malloc"].startswith("glibc"), measured["malloc"]
    faults = (measured["minor_faults"] + measured["major_faults"]) / steps
    assert faults < 256, f"{faults:.0f} page faults per steady-state step (1 MiB of pages is 256): {measured}"
    growth = (measured["rss"][-1] - measured["rss"][0]) / MiB
    assert growth < 4, f"RSS grew {growth:.1f} MiB over {steps - 1} steady-state steps: {measured}"
