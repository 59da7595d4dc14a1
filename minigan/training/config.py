"""Training configuration and its command line (pytorch/examples' dcgan flag names)."""
import argparse
import dataclasses

from .gan_losses import LOSSES

DATASETS = ("cifar10", "fashion-mnist", "folder", "fake")

# What a resumed run may change: how long it runs and what it writes, not what it trains.
RESUMABLE_OVERRIDES = {"epochs", "max_steps", "sample_every", "checkpoint_every", "log_every",
                       "plot_every", "out", "resume", "backend", "data_dir", "cuda_graph", "matmul"}
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
    dry_run: bool = False

    def __post_init__(self):
        problems = [f"{name} must be positive, got {getattr(self, name)}"
                    for name in ("batch_size", "nz", "ngf", "ndf", "sample_every", "checkpoint_every",
                                 "log_every", "plot_every", "n_critic", "r1_every", "gp_weight") if getattr(self, name) <= 0]
        problems += [f"{name} must be 0 or more, got {getattr(self, name)}"
                     for name in ("epochs", "max_steps", "seed") if getattr(self, name) < 0]
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
    parser = argparse.ArgumentParser(description="Train a DCGAN with minigan.")
    defaults = Config(dataset=dataset)
    for field in dataclasses.fields(Config):
        flag = "--" + field.name.replace("_", "-")
        if field.type == "bool" or isinstance(field.default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                                help=_HELP.get(field.name))
        else:
            default = getattr(defaults, field.name)
            parser.add_argument(flag, type=type(default), default=None,
                                help=f"{_HELP.get(field.name, '')} (default: {default})".strip())
    args = vars(parser.parse_args(argv))
    given = {name: value for name, value in args.items() if value is not None}
    try:
        config = dataclasses.replace(defaults, **given)
    except ValueError as error:
        parser.error(str(error))
    return config, set(given)


_HELP = {
    "backend": "numpy (CPU) or cupy (NVIDIA GPU)",
    "cuda_graph": "run each training step as one captured CUDA graph (needs --backend cupy)",
    "matmul": "GPU matrix products: cublas; exact (own FP32 GEMM); tf32 (own tensor-core GEMM); "
              f"auto: cublas, or with --cuda-graph {GRAPH_DEFAULT_MATMUL}, the fastest engine verified "
              "inside a graph (cublas cannot run inside a graph yet)",
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
    "out": "run directory: samples, plots, metrics.jsonl, config.json, checkpoint.npz",
    "resume": "checkpoint file (or run directory) to continue from, exactly",
    "dry_run": "a few steps on fake data, to check that everything runs",
    "log_every": "steps between reads of the logged scalars (each read syncs the GPU)",
}
