"""Checkpoint and resume rules: what a run's checkpoint holds, and how a run continues from it
exactly (the file format itself is checkpoint.py's)."""
import dataclasses
import json
import os

from . import checkpoint, rundir
from .atomic import write_text
from .config import RESUMABLE_OVERRIDES, Config


def save(trainer, path=None):
    """trainer's whole training state (nets, optimizers, noise stream, step, config) at path,
    by default checkpoint.npz in its run directory."""
    sections = {"G": trainer.G.state_dict(), "D": trainer.D.state_dict(),
                "opt_G": trainer.opt_G.state_dict(), "opt_D": trainer.opt_D.state_dict(),
                "noise": {"philox_state": trainer.noise_state}}
    if trainer.G_ema is not None:
        sections["G_ema"] = trainer.G_ema.state_dict()
    checkpoint.save(path or trainer.path("checkpoint.npz"), sections, {
        "step": trainer.step, "epoch": trainer.step // len(trainer.batches),
        "config": dataclasses.asdict(trainer.config)})


def resume(trainer_class, path, overrides=None):
    """A trainer_class in exactly the state saved at path (a checkpoint or a run directory).

    overrides may change how long the run goes and where it writes, nothing that
    changes what is trained (RESUMABLE_OVERRIDES).
    """
    if os.path.isdir(path):
        path = os.path.join(path, "checkpoint.npz")
    overrides = dict(overrides or {})
    # The run goes on where its checkpoint is (not in the --out it saved: that may be another
    # copy of the run), unless --out says otherwise.
    overrides.setdefault("out", os.path.dirname(os.path.abspath(path)))
    if "epochs" in overrides and "max_steps" not in overrides:
        overrides["max_steps"] = 0  # --epochs N replaces the saved --max-steps
    sections, scalars = checkpoint.load(path)
    if "noise" not in sections:
        raise ValueError(f"{path} was written by an older minigan whose noise stream this one "
                         f"cannot continue; start a new run (sample.py still reads it)")
    saved = Config(**scalars["config"])
    changed = {k: v for k, v in overrides.items()
               if k not in RESUMABLE_OVERRIDES and getattr(saved, k) != v}
    if changed:
        raise ValueError(f"cannot change {sorted(changed)} when resuming from {path}; "
                         f"the checkpoint was trained with "
                         f"{ {k: getattr(saved, k) for k in changed} }")
    keep = {k: v for k, v in overrides.items() if k in RESUMABLE_OVERRIDES}
    if keep.get("backend", saved.backend) != "cupy":  # a GPU run's GPU-only modes stay behind
        keep = {"cuda_graph": False, "matmul": "auto", **keep}
    trainer = trainer_class(dataclasses.replace(saved, **keep))
    trainer.G.load_state_dict(sections["G"])
    trainer.D.load_state_dict(sections["D"])
    trainer.opt_G.load_state_dict(sections["opt_G"])
    trainer.opt_D.load_state_dict(sections["opt_D"])
    if trainer.G_ema is not None:
        trainer.G_ema.load_state_dict(sections["G_ema"])
    trainer.noise_state[...] = trainer.xp.asarray(sections["noise"]["philox_state"])
    trainer.step = scalars["step"]
    trainer.history = rundir.read_metrics(trainer.path("metrics.jsonl"), trainer.step)
    return trainer


def reload_history(trainer):
    """metrics.jsonl cut back to trainer.step (later lines were never checkpointed): the
    records, also written back. Write it only holding the run directory (rundir.owned)."""
    history = rundir.read_metrics(trainer.path("metrics.jsonl"), trainer.step)
    write_text(trainer.path("metrics.jsonl"), "".join(json.dumps(r) + "\n" for r in history))
    return history
