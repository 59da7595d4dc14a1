"""The training command line behind examples/train_*.py: flags (config.parse_args), --dry-run,
Ctrl-C, messages and exit statuses (0 done, 1 diverged, 2 bad input or setup, 130 interrupted)."""
import contextlib
import dataclasses
import signal
import sys
import time

from .. import backend, data
from .config import parse_args
from .trainer import Trainer, TrainingDiverged


def main(argv=None, dataset="cifar10"):
    """Command-line entry point; returns the exit status."""
    config, given = parse_args(argv, dataset)
    if config.dry_run:
        config = dataclasses.replace(
            config, dataset="fake", max_steps=config.max_steps or 3,
            batch_size=config.batch_size if "batch_size" in given else 32,
            out=config.out if "out" in given else "runs/dry-run")
    try:
        if config.resume:
            trainer = Trainer.resume(config.resume, {k: getattr(config, k) for k in given})
        else:
            trainer = Trainer(config)
        print(f"training on {trainer.config.dataset} ({len(trainer.images)} images) with the "
              f"{trainer.config.backend} backend for {trainer.total_steps} steps; "
              f"writing to {trainer.config.out}", file=sys.stderr)
        started = time.perf_counter()
        with interrupt_sets_flag(trainer):
            trainer.run()
    except (data.DatasetError, backend.BackendUnavailable, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if trainer.stop_requested:
        print(f"interrupted: saved {trainer.path('checkpoint.npz')} at step {trainer.step}; "
              f"continue with --resume {trainer.config.out}", file=sys.stderr)
    print(f"done: {trainer.step} steps in {time.perf_counter() - started:.0f} s; samples in "
          f"{trainer.path('samples.png')}, losses in {trainer.path('loss.png')}", file=sys.stderr)
    return 130 if trainer.stop_requested else 0


@contextlib.contextmanager
def interrupt_sets_flag(trainer):
    """The first Ctrl-C asks trainer's loop to stop after the current step (it then saves a
    checkpoint and returns); a second one aborts."""
    def request_stop(signum, frame):
        if trainer.stop_requested:
            raise KeyboardInterrupt
        trainer.stop_requested = True
        print("\nCtrl-C: finishing this step and saving a checkpoint (Ctrl-C again to abort)",
              file=sys.stderr)

    try:
        previous = signal.signal(signal.SIGINT, request_stop)
    except ValueError:  # not the main thread: signals cannot be caught here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
