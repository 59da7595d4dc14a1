"""The Fashion-MNIST loss trajectories that tests/training/test_loss_trajectory.py compares against.

`python tests/training/loss_trajectory.py` rewrites loss_trajectory.json from the engine it
imports. The committed file was written by the engine before the batch-innermost layout
(main at 8d30bc2): "scalars", its trajectory, and "nudged", its trajectory with every
weight moved by one float32 ulp before each step. GAN training amplifies rounding
differences step by step, so "to float32 rounding" means: no further from the reference
than that engine itself goes under one-ulp changes.
"""
import json
from pathlib import Path

import numpy

from minigan.data import fashion_mnist
from minigan.training import Config, Trainer

REFERENCE = Path(__file__).with_name("data") / "loss_trajectory.json"
STEPS = 100
# DCGAN-32 on Fashion-MNIST at a quarter of the widths, so that 100 steps take seconds.
SETUP = dict(dataset="fashion-mnist", batch_size=32, ngf=16, ndf=16, nz=100, seed=0, max_steps=STEPS)


def trajectory(out, nudge_seed=None):
    """(STEPS, 4) float32: loss_D, loss_G, D(x), D(G(z)) after each of STEPS steps; with
    nudge_seed, before each step every weight is moved one ulp up or down at random: a
    change of float32 rounding in every step, as a change of summation order makes."""
    images = fashion_mnist(train=True, download=False)[0][:STEPS * SETUP["batch_size"]]
    trainer = Trainer(Config(**SETUP, out=str(out)), images=images)
    rng = numpy.random.default_rng(nudge_seed)
    scalars = []
    for step in range(STEPS):
        if nudge_seed is not None:
            for p in (*trainer.G.parameters(), *trainer.D.parameters()):
                toward = numpy.where(rng.random(p.shape) < 0.5, -numpy.inf, numpy.inf).astype(p.dtype)
                p.data[...] = numpy.nextafter(p.data, toward)
        scalars.append(trainer.run_step(step))
    return numpy.array(scalars, dtype=numpy.float32)


if __name__ == "__main__":
    import tempfile
    with tempfile.TemporaryDirectory() as out:
        scalars, nudged = trajectory(out), trajectory(out, nudge_seed=0)
    REFERENCE.write_text(json.dumps({"setup": SETUP, "columns": ["loss_D", "loss_G", "D(x)", "D(G(z))"],
                                     "scalars": scalars.tolist(), "nudged": nudged.tolist()}) + "\n")
    print(f"wrote {REFERENCE}: final {scalars[-1]}, nudged {nudged[-1]}")
