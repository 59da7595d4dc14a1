"""The training command line behind examples/train_*.py: flags (config.parse_args), --dry-run,
signals, messages and exit statuses (0 done, 1 diverged or a write failed, 2 bad input or
setup, 128+N stopped by signal N: 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP)."""
import contextlib
import dataclasses
import os
import signal
import sys
import time

from .. import backend, data
from .config import parse_args
from .report import reported
from .rundir import RunDirectoryBusy, is_disk_full
from .trainer import Trainer, TrainingDiverged

# Batch schedulers and `docker stop` send SIGTERM, a closed terminal SIGHUP: each is a Ctrl-C.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def main(argv=None, dataset="cifar10"):
    """Command-line entry point; returns the exit status."""
    config, given = parse_args(argv, dataset)
    if config.dry_run:
        config = dataclasses.replace(
            config, dataset="fake", max_steps=config.max_steps or 3,
            batch_size=config.batch_size if "batch_size" in given else 32,
            out=config.out if "out" in given else "runs/dry-run")
    return reported(lambda: _train(config, given), {
        (data.DatasetError, backend.BackendUnavailable, RunDirectoryBusy, ValueError): 2,
        TrainingDiverged: 1})


def _train(config, given):
    _check_folder("--data-dir", config.data_dir)
    if "out" in given or not config.resume:
        _check_folder("--out", config.out)
    trainer, received = None, []
    try:
        if config.resume:
            trainer = Trainer.resume(config.resume, {k: getattr(config, k) for k in given})
        else:
            trainer = Trainer(config)
        print(f"training on {trainer.config.dataset} ({len(trainer.images)} images) with the "
              f"{trainer.config.backend} backend for {trainer.total_steps} steps; "
              f"writing to {trainer.config.out}", file=sys.stderr)
        started = time.perf_counter()
        with interrupt_sets_flag(trainer) as received:
            trainer.run()
    except OSError as error:
        if trainer is None or not is_disk_full(error):
            raise
        checkpoint = trainer.path("checkpoint.npz")
        kept = (f"the last good checkpoint {checkpoint} is intact; free some space and continue "
                f"with --resume {trainer.config.out}" if os.path.exists(checkpoint) else
                "no checkpoint was saved; free some space and start again")
        print(f"error: the disk is full: could not write {error.filename}; {kept}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if not received:
            raise
        # A second stop signal: abort mid-step (atomic writes keep every file whole).
        print(f"aborted; the last checkpoint on disk is {trainer.path('checkpoint.npz')}", file=sys.stderr)
        return 128 + received[0]
    if received:
        name = signal.Signals(received[0]).name
        print(f"{name}: saved {trainer.path('checkpoint.npz')} at step {trainer.step}; "
              f"continue with --resume {trainer.config.out}", file=sys.stderr)
    best = trainer.best_evaluation
    print(f"done: {trainer.step} steps in {time.perf_counter() - started:.0f} s; samples in "
          f"{trainer.path('samples.png')}, losses in {trainer.path('loss.png')}" +
          (f"; the best {best['metric']} Fréchet distance, {best['frechet_distance']:.4g}, was at step "
           f"{best['step']}: {trainer.path('best.npz')}" if best else ""), file=sys.stderr)
    return 128 + received[0] if received else 0


def _check_folder(flag, path):
    if not path:
        raise ValueError(f"{flag} is empty; give a folder")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{flag} {path} is a file, not a folder; give a folder")


@contextlib.contextmanager
def interrupt_sets_flag(trainer):
    """The first SIGINT, SIGTERM or SIGHUP asks trainer's loop to stop after the current step
    (it then saves a checkpoint and returns); a second one aborts. Yields a list that gets the
    first signal's number."""
    received = []

    def request_stop(signum, frame):
        if received:
            raise KeyboardInterrupt
        received.append(signum)
        trainer.stop_requested = True
        print(f"\n{signal.Signals(signum).name}: finishing this step and saving a checkpoint "
              f"(send it again to abort)", file=sys.stderr)

    try:
        previous = {s: signal.signal(s, request_stop) for s in STOP_SIGNALS}
    except ValueError:  # not the main thread: signals cannot be caught here
        yield received
        return
    try:
        yield received
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
