"""Checkpoint and resume rules: what a run's checkpoint holds, and how a run continues from it
exactly (the file format itself is checkpoint.py's)."""
import dataclasses
import json
import os

from . import checkpoint, rundir
from ..atomic import write_text
from .config import RESUMABLE_OVERRIDES, Config


# The records logged beside the checkpoint, each cut back to the checkpoint's step on resume.
RECORD_FILES = {"history": "metrics.jsonl", "evaluations": "eval.jsonl"}


def save(trainer, path=None, evaluation=None):
    """trainer's whole training state (nets, optimizers, noise stream, step, config) at path,
    by default checkpoint.npz in its run directory; evaluation, the metric's record of this step,
    goes in too when given (best.npz)."""
    sections = {"G": trainer.G.state_dict(), "D": trainer.D.state_dict(),
                "opt_G": checkpoint.flat_optimizer_state(trainer.opt_G.state_dict()),
                "opt_D": checkpoint.flat_optimizer_state(trainer.opt_D.state_dict()),
                "noise": {"philox_state": trainer.noise_state}}
    if trainer.G_ema is not None:
        sections["G_ema"] = trainer.G_ema.state_dict()
    scalars = {"step": trainer.step, "epoch": trainer.epochs_done(trainer.step),
               "config": dataclasses.asdict(trainer.config)}
    if evaluation is not None:
        scalars["evaluation"] = evaluation
    checkpoint.save(path or trainer.path("checkpoint.npz"), sections, scalars)


def resume(trainer_class, path, overrides=None):
    """A trainer_class in exactly the state saved at path (a checkpoint or a run directory).

    overrides may change how long the run goes and where it writes, nothing that
    changes what is trained (RESUMABLE_OVERRIDES).
    """
    path = checkpoint_path(path)
    overrides = dict(overrides or {})
    # The run goes on where its checkpoint is (not in the --out it saved: that may be another
    # copy of the run), unless --out says otherwise.
    overrides.setdefault("out", os.path.dirname(os.path.abspath(path)))
    if "epochs" in overrides and "max_steps" not in overrides:
        overrides["max_steps"] = 0  # --epochs N replaces the saved --max-steps
    sections, scalars, saved = load_checked(path)
    if "noise" not in sections:
        raise ValueError(f"{path} was written by an older minigan whose noise stream this one "
                         f"cannot continue; start a new run (sample.py still reads it)")
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
    check_against(path, sections, trainer.G, trainer.D, trainer.G_ema)
    trainer.G.load_state_dict(sections["G"])
    trainer.D.load_state_dict(sections["D"])
    for name in ("opt_G", "opt_D"):
        optimizer = getattr(trainer, name)
        optimizer.load_state_dict(checkpoint.optimizer_state(sections.get(name, {}), optimizer))
    if trainer.G_ema is not None:
        trainer.G_ema.load_state_dict(sections["G_ema"])
    trainer.noise_state[...] = trainer.xp.asarray(sections["noise"]["philox_state"])
    trainer.step = scalars["step"]
    for attribute, name in RECORD_FILES.items():
        setattr(trainer, attribute, rundir.read_metrics(trainer.path(name), trainer.step))
    return trainer


def checkpoint_path(path):
    """path, or the checkpoint.npz in it when it is a run directory."""
    return os.path.join(path, "checkpoint.npz") if os.path.isdir(path) else path


def load_checked(path):
    """(sections, scalars, Config) of the checkpoint at path: the one loader of the trainer and
    sample.py, refusing (checkpoint.CheckpointError, naming the file) what is not a whole,
    known checkpoint. Then check_against checks its arrays against the model."""
    sections, scalars = checkpoint.load(path)
    fields = [f.name for f in dataclasses.fields(Config)]
    checkpoint.check_scalars(path, scalars, fields)
    try:
        config = Config(**scalars["config"])
    except (ValueError, TypeError) as error:
        raise checkpoint.CheckpointError(f"{path} holds an invalid config ({error}); it is damaged "
                                         f"or edited") from None
    return sections, scalars, config


# An optimizer saved before its first step has no state; early format-1 runs had no noise.
OPTIONAL_SECTIONS = ("opt_G", "opt_D", "noise")


def section_names(config):
    return ["G", "D", "opt_G", "opt_D", "noise"] + (["G_ema"] if config.ema else [])


def check_against(path, sections, G, D, G_ema=None):
    """Every array of the checkpoint fits these nets and their Adam states, and is finite."""
    expected = {"G": checkpoint.expected_arrays(G.state_dict()),
                "D": checkpoint.expected_arrays(D.state_dict()),
                "opt_G": checkpoint.expected_adam(G.parameters()),
                "opt_D": checkpoint.expected_adam(D.parameters()),
                "noise": {"philox_state": ((6,), "u")}}
    if G_ema is not None:
        expected["G_ema"] = checkpoint.expected_arrays(G_ema.state_dict())
    checkpoint.check_sections(path, sections, expected, OPTIONAL_SECTIONS)


def reload_records(trainer):
    """Each of RECORD_FILES cut back to trainer.step (later lines were never checkpointed), also
    written back where it exists, into trainer's attribute of its name. Call it only holding the
    run directory (rundir.owned)."""
    for attribute, name in RECORD_FILES.items():
        records = rundir.read_metrics(trainer.path(name), trainer.step)
        if os.path.exists(trainer.path(name)):
            write_text(trainer.path(name), "".join(json.dumps(r) + "\n" for r in records))
        setattr(trainer, attribute, records)
