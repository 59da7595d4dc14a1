"""Training configuration and its command line (pytorch/examples' dcgan flag names)."""
import argparse
import dataclasses

from ..models.architectures import ARCHITECTURES, IMAGE_SIZES
from .evaluation import metric_problem
from .gan_losses import LOSSES

DATASETS = ("cifar10", "fashion-mnist", "folder", "fake")

# What a resumed run may change: how long it runs and what it writes, not what it trains.
# (--eval-metric and --eval-samples stay: best.npz is the best by the metric the run began with.)
RESUMABLE_OVERRIDES = {"epochs", "max_steps", "sample_every", "checkpoint_every", "log_every",
                       "plot_every", "eval_every", "out", "resume", "backend", "data_dir", "cuda_graph",
                       "matmul"}
MATMUL_CHOICES = ("auto", "cublas", "exact", "tf32")
GRAPH_DEFAULT_MATMUL = "exact"  # the fastest engine verified inside a CUDA graph capture (so far the only one)
# A sanity bound, not advice: larger rates only make NaN at once; up to it, a run that
# diverges is stopped by the trainer's loss check with a message.
MAX_LR = 1e4


@dataclasses.dataclass
class Config:
    backend: str = "numpy"
    cuda_graph: bool = False  # capture the whole step as one CUDA graph (cupy backend)
    matmul: str = "auto"  # the GPU's matrix products: cublas, exact or tf32 (own kernels); auto: see matmul_engine
    arch: str = "dcgan"
    spectral_norm: bool = None  # spectral normalization of every D layer; None: on for sngan-cnn only
    d_batchnorm: bool = None  # DCGAN's D with its BatchNorm layers; None: on for dcgan (sngan-cnn's D has none)
    conditional: bool = False  # class-conditional G and (projection) D, trained on the data's labels
    dataset: str = "cifar10"
    data_dir: str = "data"
    image_size: int = 32
    epochs: int = 25
    max_steps: int = 0  # 0: run all epochs
    batch_size: int = 128
    lr: float = 2e-4
    lr_g: float = 0.0  # G's learning rate (two-timescale); 0: --lr
    lr_d: float = 0.0  # D's learning rate; 0: --lr
    loss: str = "bce"
    gp_weight: float = 10.0  # WGAN-GP's penalty weight (lambda), with --loss wgan-gp
    r1: float = 0.0  # R1's gamma on real images; 0: off
    r1_every: int = 1  # lazy R1: on every r1_every-th D update, scaled up to match (StyleGAN2 uses 16)
    n_critic: int = 1  # D updates per G update (a step), each on its own batch and noise
    beta1: float = 0.5
    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    ema: float = 0.0  # decay of the generator's weight average; 0: off
    seed: int = 0
    out: str = "runs/dcgan"
    resume: str = ""
    sample_every: int = 500
    checkpoint_every: int = 1000
    log_every: int = 10  # steps between reads of the logged scalars
    plot_every: int = 100
    eval_every: int = 0  # steps between sample-quality measurements (evaluation.py); 0: off
    eval_metric: str = "auto"
    eval_samples: int = 2048
    dry_run: bool = False

    def __post_init__(self):
        if self.spectral_norm is None:  # the architecture's own: SNGAN's is spectrally normalized
            self.spectral_norm = self.arch == "sngan-cnn"
        if self.d_batchnorm is None:
            self.d_batchnorm = self.arch == "dcgan"
        problems = [f"{name} must be positive, got {getattr(self, name)}"
                    for name in ("batch_size", "nz", "ngf", "ndf", "sample_every", "checkpoint_every",
                                 "log_every", "plot_every", "n_critic", "r1_every", "gp_weight") if getattr(self, name) <= 0]
        problems += [f"{name} must be 0 or more, got {getattr(self, name)}"
                     for name in ("epochs", "max_steps", "seed", "eval_every") if getattr(self, name) < 0]
        if self.eval_samples < 2:  # a covariance needs two samples
            problems.append(f"eval_samples must be 2 or more, got {self.eval_samples}")
        if metric_problem(self.eval_metric):
            problems.append(metric_problem(self.eval_metric))
        if self.eval_every and self.conditional:  # its fixed sample would need fixed labels too
            problems.append("--eval-every cannot measure a --conditional run yet; drop one of them")
        if not self.r1 >= 0:  # NaN fails this too
            problems.append(f"r1 (gamma) must be 0 (off) or positive, got {self.r1}")
        if self.cuda_graph and self.r1 and self.r1_every > 1:
            problems.append("--cuda-graph replays one step: it cannot apply R1 on some steps only; "
                            "use --r1-every 1 or drop --cuda-graph")
        if self.epochs <= 0 and self.max_steps <= 0:
            problems.append("give --epochs or --max-steps a positive value")
        if not 0 < self.lr <= MAX_LR:  # NaN fails this too
            problems.append(f"lr must be a number in (0, {MAX_LR:g}], got {self.lr} (DCGAN's is 2e-4)")
        problems += [f"{name} must be 0 (use --lr) or a number in (0, {MAX_LR:g}], got {value}"
                     for name, value in (("lr_g", self.lr_g), ("lr_d", self.lr_d))
                     if not (value == 0 or 0 < value <= MAX_LR)]
        if self.loss not in LOSSES:
            problems.append(f"loss must be one of {tuple(LOSSES)}, got {self.loss!r}")
        if not 0 <= self.beta1 < 1:
            problems.append(f"beta1 must be in [0, 1), got {self.beta1}")
        problems += [f"{name} must not be empty" for name in ("out", "data_dir") if not getattr(self, name)]
        if self.image_size not in (32, 64):
            problems.append(f"image_size must be 32 or 64, got {self.image_size}")
        if self.arch not in ARCHITECTURES:
            problems.append(f"arch must be one of {tuple(ARCHITECTURES)}, got {self.arch!r}")
        elif self.image_size in (32, 64) and self.image_size not in IMAGE_SIZES[self.arch]:
            problems.append(f"--arch {self.arch} is for --image-size "
                            f"{' or '.join(map(str, IMAGE_SIZES[self.arch]))} only, got {self.image_size}")
        if self.d_batchnorm and self.arch != "dcgan":
            problems.append(f"--d-batchnorm is for --arch dcgan; the D of --arch {self.arch} has no BatchNorm")
        if self.dataset not in DATASETS:
            problems.append(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        if self.backend not in ("numpy", "cupy"):
            problems.append(f"backend must be numpy or cupy, got {self.backend!r}")
        if not 0 <= self.ema < 1:
            problems.append(f"ema must be in [0, 1), got {self.ema}")
        if self.matmul not in MATMUL_CHOICES:
            problems.append(f"matmul must be one of {MATMUL_CHOICES}, got {self.matmul!r}")
        if self.backend != "cupy" and (self.cuda_graph or self.matmul != "auto"):
            problems.append("--cuda-graph and --matmul are for the GPU: add --backend cupy")
        if self.cuda_graph and self.matmul == "cublas":
            # Binding the handle to the capture stream is not enough: CuPy 14 sets cuBLAS's stream
            # again in every gemm call and refuses that while capturing (see minigan/cuda_graph.py).
            problems.append("--cuda-graph cannot use --matmul cublas yet (CuPy refuses cuBLAS calls "
                            "during a capture): use --matmul exact or tf32, or auto")
        if self.cuda_graph and (self.spectral_norm or self.conditional):
            # Both read or sync the device in each step, which a capture refuses: spectral_norm's
            # power iteration multiplies with cuBLAS, embedding checks its indices on the host.
            problems.append("--cuda-graph cannot capture --spectral-norm or --conditional yet (spectral "
                            "norm's power iteration calls cuBLAS, the embedding reads its labels back): "
                            "run them without --cuda-graph")
        if problems:
            raise ValueError("invalid training configuration: " + "; ".join(problems))

    @property
    def generator_lr(self):
        return self.lr_g or self.lr

    @property
    def discriminator_lr(self):
        return self.lr_d or self.lr

    @property
    def matmul_engine(self):
        """The GPU's matmul engine (config.matmul): auto is cuBLAS in eager mode and, in graph mode,
        GRAPH_DEFAULT_MATMUL, the fastest engine that has been verified inside a capture on a GPU.
        (cuBLAS inside a capture, --cuda-graph --matmul cublas, has not been: see minigan/cuda_graph.py.)"""
        if self.matmul != "auto":
            return self.matmul
        return GRAPH_DEFAULT_MATMUL if self.cuda_graph else "cublas"


def parse_args(argv=None, dataset="cifar10"):
    """(Config, the names the user gave explicitly): explicit flags override a resumed config."""
    parser = argparse.ArgumentParser(description="Train a GAN (DCGAN or SNGAN's CNN) with minigan.")
    defaults = Config(dataset=dataset)
    for field in dataclasses.fields(Config):
        flag = "--" + field.name.replace("_", "-")
        if field.type in (bool, "bool"):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                                help=_HELP.get(field.name))
        else:
            default = getattr(defaults, field.name)
            parser.add_argument(flag, type=type(default), default=None,
                                help=f"{_HELP.get(field.name, '')} (default: {default})".strip())
    args = vars(parser.parse_args(argv))
    given = {name: value for name, value in args.items() if value is not None}
    try:  # built anew, not replaced, so that defaults that follow --arch follow the given one
        config = Config(**{"dataset": dataset, **given})
    except ValueError as error:
        parser.error(str(error))
    return config, set(given)


_HELP = {
    "backend": "numpy (CPU) or cupy (NVIDIA GPU)",
    "cuda_graph": "run each training step as one captured CUDA graph (needs --backend cupy)",
    "matmul": "GPU matrix products: cublas; exact (own FP32 GEMM); tf32 (own tensor-core GEMM); "
              f"auto: cublas, or with --cuda-graph {GRAPH_DEFAULT_MATMUL}, the fastest engine verified "
              "inside a graph (cublas cannot run inside a graph yet)",
    "arch": "dcgan (Radford et al.) or sngan-cnn (the standard CNN of Miyato et al. 2018, Table 3, "
            "32x32 only; the paper's widths are --ngf 64 --ndf 64 and its z --nz 128)",
    "spectral_norm": "spectrally normalize every conv, linear and embedding layer of D "
                     "(default: on for --arch sngan-cnn, off for dcgan)",
    "d_batchnorm": "keep the BatchNorm layers of DCGAN's D; --no-d-batchnorm leaves them out, as the "
                   "SNGAN papers' spectrally normalized D does (with them, spectral norm bounds D's "
                   "head only) (default: on for --arch dcgan; sngan-cnn's D has none)",
    "conditional": "class-conditional GAN on the data set's labels: G takes a class embedding "
                   "concatenated to z, D is a projection discriminator; samples have one row per class",
    "dataset": "cifar10, fashion-mnist, folder (your images: --data-dir DIR/<class>/*.png|jpg, "
               "resized and center-cropped to --image-size) or fake",
    "data_dir": "folder holding (or receiving) the data set; with --dataset folder, the image folder",
    "image_size": "32, or 64 (adds one block to G and D; images are upsampled 2x)",
    "max_steps": "stop after this many steps in all (0: run --epochs)",
    "lr_g": "G's learning rate, for two-timescale updates (default: --lr)",
    "lr_d": "D's learning rate (default: --lr)",
    "loss": "bce (DCGAN's non-saturating loss), hinge (SNGAN's) or wgan-gp (the Wasserstein loss with "
            "WGAN-GP's gradient penalty, weight --gp-weight)",
    "gp_weight": "WGAN-GP's gradient-penalty weight lambda (with --loss wgan-gp)",
    "r1": "the R1 penalty's gamma: gamma/2 * |grad_x D(x)|^2 on real images, added to D's loss; 0: off",
    "r1_every": "apply R1 on every N-th D update only, scaled by N (lazy regularization, StyleGAN2)",
    "n_critic": "D updates per G update; each takes its own batch and noise, so a step uses "
                "n_critic batches and an epoch has len(data) / (batch_size * n_critic) steps",
    "ema": "keep an exponential moving average of G with this decay, e.g. 0.999",
    "out": "run directory: samples, plots, metrics.jsonl, config.json, checkpoint.npz (and with "
           "--eval-every: eval.jsonl, metric.png, best.npz)",
    "resume": "checkpoint file (or run directory) to continue from, exactly",
    "dry_run": "a few steps on fake data, to check that everything runs",
    "log_every": "steps between reads of the logged scalars (each read syncs the GPU)",
    "eval_every": "steps between measurements of sample quality (eval.jsonl, metric.png; the best "
                  "step's checkpoint is kept as best.npz); 0: never",
    "eval_metric": "the Fréchet distance's features: random (a seeded random network, offline), "
                   "inception (FID), classifier:PATH (the penultimate layer of the classifier that "
                   "examples/train_fashion_mnist_classifier.py saved at PATH) or auto (inception "
                   "when its weights are present, else random)",
    "eval_samples": "images generated from fixed noise for each measurement, against as many fixed "
                    "real images (all of them if fewer)",
}
