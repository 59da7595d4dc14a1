"""The DCGAN training loop: non-saturating GAN loss on logits, exact resume, samples and plots."""
import contextlib
import dataclasses
import json
import os
import signal
import sys
import time

import numpy

from .. import backend, data
from .. import functional as F
from ..autograd import Tensor, no_grad
from ..config import using_config
from ..cuda_graph import CudaGraph
from ..models.dcgan import Discriminator, Generator, init_weights
from ..optim import Adam
from . import checkpoint, images
from .atomic import write_text
from .config import RESUMABLE_OVERRIDES, Config, parse_args
from .progress import Progress

SAMPLE_COUNT = 64


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the last checkpoint on disk is the last good one."""


def load_images(config):
    """The training images, uint8 (N, C, H, W)."""
    if config.dataset == "fake":
        return data.fake(n=max(1024, 4 * config.batch_size), channels=3, seed=config.seed)[0]
    if config.dataset == "fashion-mnist":
        return data.fashion_mnist(config.data_dir, train=True)[0]
    return data.cifar10(config.data_dir, train=True)[0]


class Trainer:
    """Trains G and D as config says; images (uint8 N, C, H, W) replace config.dataset if given."""

    def __init__(self, config, images=None):
        self.config = config
        if config.backend == "cupy":
            backend.require_cupy()
        self.device = "cuda" if config.backend == "cupy" else "cpu"
        self.xp = backend.array_module(backend.to_device(numpy.zeros(1), self.device))
        self.images = load_images(config) if images is None else images
        # On the device once; each epoch's order once per epoch: a step copies nothing over.
        self.batches = data.Batches(self.images, config.batch_size, config.seed, xp=self.xp)
        nc, size = self.images.shape[1], self.images.shape[2]
        if config.image_size % size:
            raise ValueError(f"image size {config.image_size} is not a multiple of the data's {size}")
        self.upsample = config.image_size // size
        init_rng = numpy.random.default_rng([config.seed, 0])
        self.G = init_weights(Generator(config.nz, config.ngf, nc, config.image_size), init_rng)
        self.D = init_weights(Discriminator(config.ndf, nc, config.image_size), init_rng)
        self.G.to(self.device)
        self.D.to(self.device)
        self.G_ema = None
        if config.ema:
            self.G_ema = Generator(config.nz, config.ngf, nc, config.image_size).to(self.device)
            self.G_ema.load_state_dict(self.G.state_dict())
        betas = (config.beta1, 0.999)
        # On the GPU the step counts live on the device, so a CUDA graph can replay the step.
        capturable = self.device == "cuda"
        self.opt_G = Adam(self.G.parameters(), config.lr, betas, capturable=capturable)
        self.opt_D = Adam(self.D.parameters(), config.lr, betas, capturable=capturable)
        # G's noise: a counter-based generator whose state lives on the device with the nets.
        self.noise_state = backend.kernels(self.xp).random_state([config.seed, 1])
        fixed = numpy.random.default_rng([config.seed, 2]).standard_normal((SAMPLE_COUNT, config.nz, 1, 1))
        self.fixed_noise = self.to_device(fixed.astype(numpy.float32))
        self.static_real, self.graph = None, None  # --cuda-graph: the input buffer, the captured step
        self.step = 0
        self.history = []  # metrics.jsonl records of this run so far
        self.stop_requested = False

    # --- paths --------------------------------------------------------------
    def path(self, *parts):
        return os.path.join(self.config.out, *parts)

    @property
    def total_steps(self):
        return self.config.max_steps or self.config.epochs * len(self.batches)

    def to_device(self, array):
        return backend.to_device(array, self.device)

    # --- one step -----------------------------------------------------------
    def real_batch(self, step):
        epoch, index = divmod(step, len(self.batches))
        x = data.normalize(self.batches.batch(epoch, index), self.xp, numpy.float32)
        if self.upsample > 1:  # nearest-neighbour, for --image-size 64 on 32-pixel data
            x = x.repeat(self.upsample, axis=2).repeat(self.upsample, axis=3)
        return Tensor(x)

    def run_step(self, step):
        """Train on batch `step` (0-based); returns the logged scalars, a device array.

        With --cuda-graph, this process's first step runs eagerly (compiling every
        kernel) on a static input buffer; the second captures train_step on that
        buffer as a CUDA graph; from then on a step copies its batch into the
        buffer and replays the graph.
        """
        real = self.real_batch(step)
        with self.matmul_engine():
            if not self.config.cuda_graph:
                return self.train_step(real)
            if self.static_real is None:
                self.static_real = real.data
                return self.train_step(real)
            self.static_real[...] = real.data
            if self.graph is None:
                self.graph = CudaGraph(lambda: self.train_step(Tensor(self.static_real)), self.xp)
            return self.graph.replay().copy()  # the graph's outputs are overwritten by the next replay

    def matmul_engine(self):
        """A block in which the GPU's matrix products run on config.matmul_engine."""
        if self.device != "cuda":
            return contextlib.nullcontext()
        return using_config("matmul", self.config.matmul_engine)

    def train_step(self, real):
        """One D update and one G update; returns the logged scalars (loss_D, loss_G, D(x),
        D(G(z))) as one device array (no host sync)."""
        n = real.shape[0]
        ones, zeros = Tensor(self.xp.ones(n, numpy.float32)), Tensor(self.xp.zeros(n, numpy.float32))
        z = backend.kernels(self.xp).random_normal(self.noise_state, (n, self.config.nz, 1, 1), numpy.float32)
        fake = self.G(Tensor(z))

        d_real, d_fake = self.D(real), self.D(fake.detach())
        loss_D = F.binary_cross_entropy_with_logits(d_real, ones) + \
            F.binary_cross_entropy_with_logits(d_fake, zeros)
        self.opt_D.zero_grad()
        loss_D.backward()
        self.opt_D.step()

        # G's loss goes through the updated D; D's own weight gradients are not needed for it.
        with frozen(self.D):
            loss_G = F.binary_cross_entropy_with_logits(self.D(fake), ones)
            self.opt_G.zero_grad()
            loss_G.backward()
        self.opt_G.step()
        if self.G_ema is not None:
            self.update_ema()
        with no_grad():
            return self.xp.stack([loss_D.data, loss_G.data, F.sigmoid(d_real).data.mean(),
                                  F.sigmoid(d_fake).data.mean()])

    def update_ema(self):
        decay = self.config.ema
        with no_grad():
            for average, p in zip(self.G_ema.parameters(), self.G.parameters()):
                average.data *= decay
                average.data += (1 - decay) * p.data
            for (_, average), (_, b) in zip(self.G_ema.named_buffers(), self.G.named_buffers()):
                average.data[...] = b.data

    # --- the loop -----------------------------------------------------------
    def run(self):
        """Train to total_steps. Ctrl-C finishes the step in flight, checkpoints and returns."""
        os.makedirs(self.path("samples"), exist_ok=True)
        write_text(self.path("config.json"), json.dumps(dataclasses.asdict(self.config), indent=2))
        if self.step == 0:
            images.save_grid(self.path("real_samples.png"), self.images[:SAMPLE_COUNT] / 127.5 - 1)
        progress = Progress(self.total_steps, self.step)
        pending, interval_start = [], time.perf_counter()
        with interrupt_sets_flag(self):
            while self.step < self.total_steps and not self.stop_requested:
                pending.append(self.run_step(self.step))
                self.step += 1
                checkpoint_due = self.step % self.config.checkpoint_every == 0
                if self.step % self.config.log_every == 0 or checkpoint_due:
                    self.log(pending, time.perf_counter() - interval_start, progress)
                    pending, interval_start = [], time.perf_counter()
                if self.step % self.config.sample_every == 0:
                    self.save_samples()
                if self.step % self.config.plot_every == 0:
                    images.save_loss_plot(self.path("loss.png"), self.history)
                if checkpoint_due:
                    self.save_checkpoint()
            self.log(pending, time.perf_counter() - interval_start, progress)
            progress.close()
            self.save_checkpoint()
            self.save_samples()
            if self.history:
                images.save_loss_plot(self.path("loss.png"), self.history)
        if self.stop_requested:
            print(f"interrupted: saved {self.path('checkpoint.npz')} at step {self.step}; "
                  f"continue with --resume {self.config.out}", file=sys.stderr)
        return self.history

    def log(self, pending, seconds, progress):
        """Read the pending scalars in one transfer, check them, append them to metrics.jsonl."""
        if not pending:
            return
        values = backend.to_numpy(self.xp.stack(pending))
        first = self.step - len(pending) + 1
        step_time = seconds / len(pending)
        records = []
        for offset, (loss_D, loss_G, d_x, d_gz) in enumerate(values.tolist()):
            step = first + offset
            if not numpy.isfinite([loss_D, loss_G]).all():
                raise TrainingDiverged(
                    f"training diverged at step {step}: loss_D={loss_D}, loss_G={loss_G}. "
                    f"The last good checkpoint is kept at {self.path('checkpoint.npz')}; "
                    f"try a lower --lr or another --seed.")
            records.append({"step": step, "epoch": (step - 1) // len(self.batches),
                            "loss_D": loss_D, "loss_G": loss_G, "D(x)": d_x, "D(G(z))": d_gz,
                            "step_time": step_time,
                            "images_per_s": self.config.batch_size / step_time})
        with open(self.path("metrics.jsonl"), "a") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)
        self.history.extend(records)
        progress.update(self.step, records[-1])

    def generate(self, z):
        """Samples from the averaged G if there is one, in eval mode (running BN statistics)."""
        G = self.G_ema or self.G
        G.eval()
        with no_grad():
            out = G(Tensor(z)).data
        G.train()
        return backend.to_numpy(out)

    def save_samples(self):
        samples = self.generate(self.fixed_noise)
        images.save_grid(self.path("samples", f"step_{self.step:07d}.png"), samples)
        images.save_grid(self.path("samples.png"), samples)

    # --- checkpoints --------------------------------------------------------
    def save_checkpoint(self, path=None):
        sections = {"G": self.G.state_dict(), "D": self.D.state_dict(),
                    "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(),
                    "noise": {"philox_state": self.noise_state}}
        if self.G_ema is not None:
            sections["G_ema"] = self.G_ema.state_dict()
        checkpoint.save(path or self.path("checkpoint.npz"), sections, {
            "step": self.step, "epoch": self.step // len(self.batches),
            "config": dataclasses.asdict(self.config)})

    @classmethod
    def resume(cls, path, overrides=None):
        """A Trainer in exactly the state saved at path (a checkpoint or a run directory).

        overrides may change how long the run goes and where it writes, nothing that
        changes what is trained (RESUMABLE_OVERRIDES).
        """
        if os.path.isdir(path):
            path = os.path.join(path, "checkpoint.npz")
        sections, scalars = checkpoint.load(path)
        if "noise" not in sections:
            raise ValueError(f"{path} was written by an older minigan whose noise stream this one "
                             f"cannot continue; start a new run (sample.py still reads it)")
        saved = Config(**scalars["config"])
        changed = {k: v for k, v in (overrides or {}).items()
                   if k not in RESUMABLE_OVERRIDES and getattr(saved, k) != v}
        if changed:
            raise ValueError(f"cannot change {sorted(changed)} when resuming from {path}; "
                             f"the checkpoint was trained with "
                             f"{ {k: getattr(saved, k) for k in changed} }")
        keep = {k: v for k, v in (overrides or {}).items() if k in RESUMABLE_OVERRIDES}
        if keep.get("backend", saved.backend) != "cupy":  # a GPU run's GPU-only modes stay behind
            keep = {"cuda_graph": False, "matmul": "auto", **keep}
        trainer = cls(dataclasses.replace(saved, **keep))
        trainer.G.load_state_dict(sections["G"])
        trainer.D.load_state_dict(sections["D"])
        trainer.opt_G.load_state_dict(sections["opt_G"])
        trainer.opt_D.load_state_dict(sections["opt_D"])
        if trainer.G_ema is not None:
            trainer.G_ema.load_state_dict(sections["G_ema"])
        trainer.noise_state[...] = trainer.xp.asarray(sections["noise"]["philox_state"])
        trainer.step = scalars["step"]
        trainer.history = trainer.reload_history()
        return trainer

    def reload_history(self):
        """metrics.jsonl up to the resumed step (later lines were never checkpointed)."""
        try:
            with open(self.path("metrics.jsonl")) as f:
                history = [r for r in map(json.loads, f) if r["step"] <= self.step]
        except FileNotFoundError:
            return []
        write_text(self.path("metrics.jsonl"), "".join(json.dumps(r) + "\n" for r in history))
        return history



@contextlib.contextmanager
def frozen(module):
    """Within the block, module's parameters take no gradient."""
    params = list(module.parameters())
    for p in params:
        p.requires_grad = False
    try:
        yield
    finally:
        for p in params:
            p.requires_grad = True


@contextlib.contextmanager
def interrupt_sets_flag(trainer):
    """The first Ctrl-C asks the loop to stop after the current step; a second one aborts."""
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
        trainer.run()
    except (data.DatasetError, backend.BackendUnavailable, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"done: {trainer.step} steps in {time.perf_counter() - started:.0f} s; samples in "
          f"{trainer.path('samples.png')}, losses in {trainer.path('loss.png')}", file=sys.stderr)
    return 130 if trainer.stop_requested else 0
