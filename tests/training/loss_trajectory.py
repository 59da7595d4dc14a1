"""The Fashion-MNIST loss trajectory that tests/training/test_loss_trajectory.py compares against.

`python tests/training/loss_trajectory.py` rewrites loss_trajectory.json from the engine it
imports. The committed file was written by the engine before the batch-innermost layout
(main at 8d30bc2), so the test proves the layout changed no loss beyond float32 rounding.
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


def trajectory(out):
    """(STEPS, 4) float32: loss_D, loss_G, D(x), D(G(z)) after each of STEPS steps."""
    images = fashion_mnist(train=True, download=False)[0][:STEPS * SETUP["batch_size"]]
    trainer = Trainer(Config(**SETUP, out=str(out)), images=images)
    return numpy.array([trainer.run_step(step) for step in range(STEPS)], dtype=numpy.float32)


if __name__ == "__main__":
    import tempfile
    with tempfile.TemporaryDirectory() as out:
        scalars = trajectory(out)
    REFERENCE.write_text(json.dumps({"setup": SETUP, "columns": ["loss_D", "loss_G", "D(x)", "D(G(z))"],
                                     "scalars": scalars.tolist()}, indent=0) + "\n")
    print(f"wrote {REFERENCE}: final {scalars[-1]}")
