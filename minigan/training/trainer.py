"""The GAN training step and loop: --n-critic D updates then one G update, each on the
--loss of gan_losses.py, G's weight average, logged scalars, samples, plots and the
sample-quality measurements of --eval-every (the metric itself is evaluation.py's).

What else a run needs lives beside it: the checkpoint and resume rules in
resume.py, the step's CUDA-graph capture in graphed_step.py, the command
line (flags, Ctrl-C, exit statuses) in cli.py.
"""
import contextlib
import dataclasses
import json
import math
import os
import time

import numpy

from .. import backend, data
from .. import functional as F
from ..autograd import Tensor, no_grad
from ..config import using_config
from ..functional.layout import as_nchw
from ..models import architectures
from ..models.dcgan import init_weights
from ..optim import Adam
from . import evaluation, images
from . import resume as resume_rules
from . import rundir
from ..atomic import write_text
from .gan_losses import LOSSES, penalties
from .graphed_step import GraphedStep
from .malloc import keep_freed_memory
from .progress import Progress

SAMPLE_COUNT = 64
SAMPLE_COLUMNS = 8  # of the sample grids; a conditional run's has one row per class
# A mean loss this large (BCE or hinge) means logits of this size: the weights have run away (e.g. --lr 1e4).
DIVERGED_LOSS = 1e4


class TrainingDiverged(RuntimeError):
    """A loss became NaN, infinite or huge; the last checkpoint on disk is the last good one."""


def load_data(config):
    """The training images, uint8 (N, C, H, W), and their class labels, int64 (N,)."""
    if config.dataset == "fake":
        return data.fake(n=max(1024, 4 * config.batch_size), channels=3, seed=config.seed)
    if config.dataset == "fashion-mnist":
        return data.fashion_mnist(config.data_dir, train=True)
    if config.dataset == "folder":  # resized and cropped to the model's size as they are read
        folder = data.ImageFolder(config.data_dir, size=config.image_size)
        return numpy.stack([folder[i][0] for i in range(len(folder))]), numpy.array(folder.targets, numpy.int64)
    return data.cifar10(config.data_dir, train=True)


def class_count(config, labels):
    """The classes a --conditional run learns (0 without it): labels 0 ... max(labels)."""
    if not config.conditional:
        return 0
    if labels is None:
        raise ValueError("--conditional needs the images' labels; give labels= with images=")
    count = int(labels.max()) + 1 if len(labels) else 0
    if count < 2 or labels.min() < 0:
        where = f" in {config.data_dir}" if config.dataset == "folder" else ""
        raise ValueError(f"--conditional needs labelled data of 2 classes or more; --dataset {config.dataset}"
                         f"{where} has labels {sorted(set(labels.tolist()))[:5]} (a folder needs one "
                         f"sub-folder per class)")
    return count


class Trainer:
    """Trains G and D as config says; images (uint8 N, C, H, W) and their labels (int64 N, for
    --conditional) replace config.dataset if given."""

    def __init__(self, config, images=None, labels=None):
        # auto is fixed once, so that a run's measurements (and best.npz) stay in one metric.
        config = dataclasses.replace(config, eval_metric=evaluation.resolve(config.eval_metric))
        self.config = config
        # Each step frees and reallocates the same big host arrays: keep them mapped (malloc.py).
        self.malloc_setting = keep_freed_memory()
        if config.backend == "cupy":
            backend.require_cupy()
        self.device = "cuda" if config.backend == "cupy" else "cpu"
        self.xp = backend.array_module(backend.to_device(numpy.zeros(1), self.device))
        self.images, labels = load_data(config) if images is None else (images, labels)
        self.num_classes = class_count(config, labels)
        # On the device once; each epoch's order once per epoch: a step copies nothing over.
        self.batches = data.Batches(self.images, config.batch_size, config.seed, xp=self.xp,
                                    labels=labels if self.num_classes else None)
        nc, size = self.images.shape[1], self.images.shape[2]
        if config.image_size % size:
            raise ValueError(f"image size {config.image_size} is not a multiple of the data's {size}")
        self.upsample = config.image_size // size
        if self.total_steps == 0:
            raise ValueError(f"--epochs {config.epochs} of {len(self.batches)} batches with --n-critic "
                             f"{config.n_critic} make no step; give more --epochs or --max-steps")
        self.G, self.D = self.make_nets(nc)
        self.G_ema = None
        if config.ema:
            self.G_ema = architectures.generator(config.arch, config.nz, config.ngf, nc, config.image_size,
                                                 self.num_classes).to(self.device)
            self.G_ema.load_state_dict(self.G.state_dict())
        betas = (config.beta1, 0.999)
        # On the GPU the step counts live on the device, so a CUDA graph can replay the step.
        capturable = self.device == "cuda"
        self.opt_G = Adam(self.G.parameters(), config.generator_lr, betas, capturable=capturable)
        self.opt_D = Adam(self.D.parameters(), config.discriminator_lr, betas, capturable=capturable)
        # G's noise: a counter-based generator whose state lives on the device with the nets.
        self.noise_state = backend.kernels(self.xp).random_state([config.seed, 1])
        fixed = numpy.random.default_rng([config.seed, 2]).standard_normal((SAMPLE_COUNT, config.nz, 1, 1))
        self.fixed_labels = None
        if self.num_classes:  # row c: class c, column j: the same z_j in every row
            fixed = numpy.tile(fixed[:SAMPLE_COLUMNS], (self.num_classes, 1, 1, 1))
            self.fixed_labels = self.to_device(numpy.repeat(numpy.arange(self.num_classes), SAMPLE_COLUMNS))
        self.fixed_noise = self.to_device(fixed.astype(numpy.float32))
        self.graphed_step = GraphedStep(self.train_step, self.xp) if config.cuda_graph else None
        self.loss = LOSSES[config.loss]()
        self.penalties = penalties(config)
        self.evaluator = evaluation.Evaluator(config, self.images, self.xp) if config.eval_every else None
        self.step = 0
        self.history = []  # metrics.jsonl records of this run so far
        self.evaluations = []  # eval.jsonl records
        self.stop_requested = False  # set (by cli.py's signal handler) to end run() after the step in flight

    def make_nets(self, nc):
        """(G, D) as the config says, initialised from the seed, on the device."""
        config = self.config
        # What init_weights leaves as the constructors drew it (the class embeddings, spectral
        # norm's u and v) comes from the seed too, so that a run is a function of its config.
        with using_config("generator", numpy.random.default_rng([config.seed, 3])):
            G = architectures.generator(config.arch, config.nz, config.ngf, nc, config.image_size,
                                        self.num_classes)
            D = architectures.discriminator(config.arch, config.ndf, nc, config.image_size, self.num_classes,
                                            config.d_batchnorm)
        init_rng = numpy.random.default_rng([config.seed, 0])
        G, D = init_weights(G, init_rng), init_weights(D, init_rng)
        if config.spectral_norm:  # after init_weights, which writes the weights spectral_norm then takes
            with using_config("generator", numpy.random.default_rng([config.seed, 4])):
                architectures.spectrally_normalize(D)
        return G.to(self.device), D.to(self.device)

    # --- paths --------------------------------------------------------------
    def path(self, *parts):
        return os.path.join(self.config.out, *parts)

    # A step is one G update and the n_critic D updates before it (SNGAN's "generator
    # iterations"); each D update takes the next batch, so a step takes n_critic batches and
    # step s trains on batches s * n_critic ... s * n_critic + n_critic - 1 of the shuffled stream.
    @property
    def total_steps(self):
        return self.config.max_steps or self.config.epochs * len(self.batches) // self.config.n_critic

    def epochs_done(self, step):
        """Whole passes over the data in the first `step` steps."""
        return step * self.config.n_critic // len(self.batches)

    def to_device(self, array):
        return backend.to_device(array, self.device)

    # --- one step -----------------------------------------------------------
    def real_batch(self, number):
        """Batch `number` (0-based) of the stream of shuffled epochs."""
        epoch, index = divmod(number, len(self.batches))
        x = as_nchw(self.batches.normalized(epoch, index, numpy.float32))
        if self.upsample > 1:  # nearest-neighbour, for --image-size 64 on 32-pixel data
            x = x.repeat(self.upsample, axis=2).repeat(self.upsample, axis=3)
        return Tensor(x)

    def real_labels(self, number):
        """The labels of real_batch(number)'s images (--conditional)."""
        return Tensor(self.batches.batch_labels(*divmod(number, len(self.batches))))

    def run_step(self, step):
        """Train step `step` (0-based) on its n_critic batches; returns the logged scalars, a
        device array.

        With --cuda-graph, train_step runs through GraphedStep: eagerly in this process's
        first step, captured in its second, replayed from then on.
        """
        numbers = range(step * self.config.n_critic, (step + 1) * self.config.n_critic)
        batches = [self.real_batch(k) for k in numbers]
        if self.num_classes:
            batches += [self.real_labels(k) for k in numbers]
        with self.matmul_engine():
            return self.graphed_step(*batches) if self.graphed_step else self.train_step(*batches, step=step)

    @property
    def graph(self):
        """The captured step's CudaGraph (--cuda-graph, from the second step on), else None."""
        return self.graphed_step.graph if self.graphed_step else None

    def matmul_engine(self):
        """A block in which the GPU's matrix products run on config.matmul_engine."""
        if self.device != "cuda":
            return contextlib.nullcontext()
        return using_config("matmul", self.config.matmul_engine)

    def train_step(self, *batches, step=0):
        """One D update per real batch (n_critic of them), each on fresh noise, then one G
        update on the last D update's fake (as pytorch/examples' dcgan, which saves a G
        forward); returns the logged scalars (loss_D, loss_G, D(x), D(G(z))) as one device
        array (no host sync), those of D averaged over its updates. The noise's dtype is the
        batches'. D's loss includes the penalties (WGAN-GP's, R1); loss_D logs it so.
        step numbers the D updates, for a lazy R1.

        batches: the n_critic real batches, then (--conditional) their n_critic label batches.
        A conditional G makes each fake of the real image's class at its place in the batch:
        D then sees the same classes real and fake, and no labels need drawing."""
        reals = batches[:self.config.n_critic]
        labels = [(y,) for y in batches[self.config.n_critic:]] or [()] * len(reals)
        d_scalars = []
        for k, (real, y) in enumerate(zip(reals, labels, strict=True)):
            z = backend.kernels(self.xp).random_normal(self.noise_state, (real.shape[0], self.config.nz, 1, 1),
                                                       real.data.dtype)
            fake = self.G(Tensor(z), *y)
            # D's loss is its real term plus its fake term (plus penalties), each backpropagated as
            # soon as it is computed (as pytorch/examples' dcgan does): the second backward adds
            # into the first's gradients, and only one of D's two graphs is alive at a time. Each
            # pass's scalars are read out right away and its tensors dropped.
            self.opt_D.zero_grad()
            d_real = self.D(real, *y)
            loss_real = self.loss.discriminator_real(d_real)
            loss_real.backward(self.seed(loss_real))
            with no_grad():
                d_x = F.sigmoid(d_real).data.mean()
            del d_real
            d_fake = self.D(fake.detach(), *y)
            loss_rest = self.loss.discriminator_fake(d_fake)
            critic = (lambda x, y=y: self.D(x, *y)) if y else self.D  # the penalties' D(x), of the batch's classes
            for penalty in self.penalties:
                term = penalty(critic, real, fake, self.noise_state, step * len(reals) + k)
                loss_rest = loss_rest if term is None else loss_rest + term
            loss_rest.backward(self.seed(loss_rest))
            self.opt_D.step()
            with no_grad():
                d_scalars.append((loss_real.data + loss_rest.data, d_x, F.sigmoid(d_fake).data.mean()))
            del d_fake, loss_real, loss_rest

        # G's loss goes through the updated D; D's own weight gradients are not needed for it.
        with frozen(self.D):
            loss_G = self.loss.generator(self.D(fake, *y))
            self.opt_G.zero_grad()
            loss_G.backward(self.seed(loss_G))
        self.opt_G.step()
        if self.G_ema is not None:
            self.update_ema()
        # One D update (the default) needs no averaging launches.
        loss_D, d_x, d_gz = d_scalars[0] if len(d_scalars) == 1 else \
            [self.xp.stack(values).mean() for values in zip(*d_scalars)]
        return self.xp.stack([loss_D, loss_G.data, d_x, d_gz])

    def seed(self, loss):
        """The gradient that loss.backward starts from: a kept 1 (a fill launch fewer on the GPU)."""
        return self.loss.constants.full_like(loss, 1)

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
        """Train to total_steps, or until stop_requested is set (by the command line's signal
        handler): the step in flight finishes, then a checkpoint is saved. Returns the history.

        The run directory is this trainer's alone meanwhile (rundir.owned); on entry the temp
        files of a killed run are removed and metrics.jsonl is cut back to this step.
        """
        with rundir.owned(self.config.out):
            rundir.remove_temp_files(self.config.out)
            resume_rules.reload_records(self)
            return self._loop()

    def _loop(self):
        os.makedirs(self.path("samples"), exist_ok=True)
        write_text(self.path("config.json"), json.dumps(dataclasses.asdict(self.config), indent=2))
        if self.step == 0:
            images.save_grid(self.path("real_samples.png"), self.images[:SAMPLE_COUNT] / 127.5 - 1)
        progress = Progress(self.total_steps, self.step)
        pending, interval_start = [], time.perf_counter()
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
            if self.evaluator and self.step % self.config.eval_every == 0:
                interval_start += self.evaluate()  # the measurement's time is no step's
            if checkpoint_due:
                self.save_checkpoint()
        self.log(pending, time.perf_counter() - interval_start, progress)
        progress.close()
        self.save_checkpoint()
        self.save_samples()
        if self.history:
            images.save_loss_plot(self.path("loss.png"), self.history)
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
            if not numpy.isfinite([loss_D, loss_G]).all() or max(abs(loss_D), abs(loss_G)) > DIVERGED_LOSS:
                checkpoint_path = self.path("checkpoint.npz")
                kept = (f"The last good checkpoint is kept at {checkpoint_path}"
                        if os.path.exists(checkpoint_path) else "No checkpoint was saved before it")
                raise TrainingDiverged(
                    f"training diverged at step {step}: loss_D={loss_D:.4g}, loss_G={loss_G:.4g}. "
                    f"{kept}; start again with a lower --lr or another --seed.")
            records.append({"step": step, "epoch": (step * self.config.n_critic - 1) // len(self.batches),
                            "loss_D": loss_D, "loss_G": loss_G, "D(x)": d_x, "D(G(z))": d_gz,
                            "step_time": step_time,
                            "images_per_s": self.config.batch_size * self.config.n_critic / step_time})
        rundir.append_lines(self.path("metrics.jsonl"), [json.dumps(r) + "\n" for r in records])
        self.history.extend(records)
        progress.update(self.step, records[-1])

    def generate(self, z, labels=None):
        """Samples from the averaged G if there is one, in eval mode (running BN statistics);
        a conditional G takes the labels (N,) of their classes."""
        G = self.G_ema or self.G
        G.eval()
        with no_grad():
            out = G(Tensor(z), *(() if labels is None else (Tensor(labels),))).data
        G.train()
        return backend.to_numpy(out)

    def evaluate(self):
        """Measure the metric (evaluation.py) at this step: the record goes to eval.jsonl and
        metric.png, and this step's checkpoint to best.npz when its distance is the lowest so
        far. Returns the seconds it took."""
        started = time.perf_counter()
        distance = self.evaluator.score(self.generate)
        best = self.best_evaluation
        record = {"step": self.step, "metric": self.evaluator.metric, "frechet_distance": distance}
        if distance < (best["frechet_distance"] if best else math.inf):
            self.save_checkpoint(self.path("best.npz"), evaluation=record)
        record["eval_seconds"] = time.perf_counter() - started
        rundir.append_lines(self.path("eval.jsonl"), [json.dumps(record) + "\n"])
        self.evaluations.append(record)
        images.save_metric_plot(self.path("metric.png"), self.evaluations)
        return time.perf_counter() - started

    @property
    def best_evaluation(self):
        """The eval.jsonl record of the lowest distance so far (best.npz's step), or None."""
        return min(self.evaluations, key=lambda r: r["frechet_distance"], default=None)

    def save_samples(self):
        samples = self.generate(self.fixed_noise, self.fixed_labels)
        images.save_grid(self.path("samples", f"step_{self.step:07d}.png"), samples, SAMPLE_COLUMNS)
        images.save_grid(self.path("samples.png"), samples, SAMPLE_COLUMNS)

    # --- checkpoints (the rules are resume.py's) ------------------------------
    def save_checkpoint(self, path=None, evaluation=None):
        resume_rules.save(self, path, evaluation)

    @classmethod
    def resume(cls, path, overrides=None):
        """A Trainer in exactly the state saved at path; see resume.resume."""
        return resume_rules.resume(cls, path, overrides)


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
