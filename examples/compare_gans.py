"""DCGAN+BCE against spectral norm with the hinge loss, at one budget, over seeds.

    python examples/train_fashion_mnist_classifier.py --epochs 3 --train-size 0 --out fashion_mnist_classifier.pt
    python examples/compare_gans.py --steps 2000 --seeds 0 1 2 --out docs/compare_gans

Trains each configuration (CONFIGS) with the trainer for --steps steps of --batch-size images
per seed, then measures its final G (eval mode, or its EMA copy) with the trainer's metric
(--metric, the syntax of --eval-metric): the Fréchet distance between --samples images drawn
from fixed noise and as many held-out real images (the test split), by default in the
penultimate features of the Fashion-MNIST classifier that the first command trains. As a floor,
the same distance between the held-out images and as many training images. Writes to --out:
table.md (mean ± sample standard deviation over seeds, each seed's value, the budget),
samples.png (each run's 8x8 grid from the same noise, configurations side by side, a row per
seed) and results.json; and under runs/ each run's record and grid, which a later call with the
same budget (BUDGET) and the same settings reuses instead of training that run again.
"""
import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time

import numpy

from minigan import backend, data
from minigan.atomic import atomic_path, write_text
from minigan.training import Config, Trainer
from minigan.training.evaluation import Evaluator
from minigan.training.images import plt, save_grid
from minigan.metrics import frechet_distance

# name: (label, the trainer settings that make it; all else is the shared budget). Each follows
# its published recipe: DCGAN's (Radford et al. 2015) is Adam lr 2e-4, beta1 0.5, with BatchNorm in
# D. The spectrally normalized D of the SNGAN papers has no BatchNorm (after one, the convs before
# it are free in scale and spectral norm bounds the head alone), and the later recipes for it
# (Miyato & Koyama 2018, SAGAN, BigGAN) train it with Adam beta1 = 0. Here: beta1 0, the trainer's
# beta2 0.999 (BigGAN's), one D update per G update and lr 4e-4 for both, picked on seed 0 at the
# README's budget. With DCGAN's beta1 0.5, or with BatchNorm in D, the two SN runs stall as grey
# blurs at that budget, in torch's twin of the loop too (README).
SN_ADAM = dict(lr=4e-4, beta1=0.0)
CONFIGS = {
    "dcgan-bce": ("DCGAN + BCE", dict(loss="bce")),
    "dcgan-hinge-sn": ("DCGAN + hinge + SN", dict(loss="hinge", spectral_norm=True, d_batchnorm=False, **SN_ADAM)),
    "sngan-hinge-sn": ("SNGAN CNN + hinge + SN", dict(arch="sngan-cnn", loss="hinge", spectral_norm=True, **SN_ADAM)),
    # The control: how much of the gap is the optimizer's, not spectral norm's and the hinge loss's.
    "dcgan-bce-sn-adam": ("DCGAN + BCE, SN's Adam", dict(loss="bce", **SN_ADAM)),
}
GRID = 64  # images per sample grid


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), default=list(CONFIGS),
                        help="the first is the reference the others are set against")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--dataset", choices=("fashion-mnist", "cifar10"), default="fashion-mnist")
    parser.add_argument("--data-dir", default="data", help="the data set's folder (Fashion-MNIST: else "
                        "Debian's dataset-fashion-mnist package)")
    parser.add_argument("--steps", type=int, default=2000, help="training steps of every run (the budget)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--ndf", type=int, default=64)
    parser.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    parser.add_argument("--metric", default="classifier:fashion_mnist_classifier.pt",
                        help="as the trainer's --eval-metric: classifier:PATH, inception, random")
    parser.add_argument("--samples", type=int, default=2000, help="generated and held-out images compared")
    parser.add_argument("--out", default="runs/compare_gans")
    parser.add_argument("--note", default="", help="a line under the table, e.g. how the budget was scaled down")
    args = parser.parse_args(argv)
    if min(args.steps, args.batch_size, args.ngf, args.ndf) <= 0 or args.samples < 2:
        parser.error("--steps, --batch-size, --ngf and --ndf must be positive and --samples at least 2")
    return args


def shared_settings(args, runs):
    """The trainer settings every run shares (the budget); each run's Config is built anew from
    them and its CONFIGS entry, so that defaults that follow --arch follow the run's."""
    return dict(backend=args.backend, dataset=args.dataset, data_dir=args.data_dir, max_steps=args.steps,
                batch_size=args.batch_size, ngf=args.ngf, ndf=args.ndf, eval_metric=args.metric,
                eval_samples=args.samples, log_every=50, sample_every=10 ** 9, checkpoint_every=10 ** 9,
                plot_every=10 ** 9, out=runs)


def unknown_settings(names):
    """The settings of CONFIGS[names] that this minigan's trainer lacks, e.g. before --arch lands."""
    fields = {f.name for f in dataclasses.fields(Config)}
    return sorted({key for name in names for key in CONFIGS[name][1] if key not in fields})


def split(config, train):
    """uint8 (N, C, H, W) images of the data set's training or test split, as the trainer reads them."""
    if config.dataset == "fashion-mnist":
        return data.fashion_mnist(config.data_dir, train=train)[0]
    return data.cifar10(config.data_dir, train=train)[0]


def summary(values):
    """(mean, sample standard deviation or None for one seed)."""
    return float(numpy.mean(values)), (float(numpy.std(values, ddof=1)) if len(values) > 1 else None)


def table(args, records, floor):
    reference = args.configs[0]
    ref_mean, _ = summary([records[reference][seed]["frechet_distance"] for seed in args.seeds])
    lines = [f"Fréchet distance ({args.metric.split(':')[0]} features; lower is better) of {args.samples} "
             f"generated against {args.samples} held-out {args.dataset} images, after {args.steps} steps of "
             f"batch {args.batch_size}, ngf = {args.ngf}, ndf = {args.ndf}, seeds {args.seeds} "
             f"(mean ± sample std over seeds).", "",
             "| configuration | distance | per seed | gap to " + CONFIGS[reference][0] + " | train s / run "
             "| settings |",
             "|---|---|---|---|---|---|"]
    for name in args.configs:
        values = [records[name][seed]["frechet_distance"] for seed in args.seeds]
        mean, std = summary(values)
        gap = "" if name == reference else f"{mean - ref_mean:+.2f}"
        spread = f" ± {std:.2f}" if std is not None else ""
        seconds = numpy.mean([records[name][seed]["train_seconds"] for seed in args.seeds])
        lines.append(f"| {CONFIGS[name][0]} | {mean:.2f}{spread} | {', '.join(f'{v:.2f}' for v in values)} | "
                     f"{gap} | {seconds:.0f} | {settings_text(name)} |")
    lines += ["", f"Floor: the distance of {args.samples} training images to the held-out ones is {floor:.2f}."]
    lines += ["", args.note] if args.note else []
    return "\n".join(lines) + "\n"


def settings_text(name):
    """CONFIGS[name]'s trainer settings and the Adam settings it keeps by default, as flags."""
    settings = {"lr": Config.lr, "beta1": Config.beta1, **CONFIGS[name][1]}
    return " ".join(f"--{key.replace('_', '-')} {value}" if not isinstance(value, bool) else
                    f"--{'' if value else 'no-'}{key.replace('_', '-')}" for key, value in settings.items())


def save_side_by_side(path, args):
    """Each run's grid (grid_path); one column per configuration, one row per seed."""
    rows, cols = len(args.seeds), len(args.configs)
    figure, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.4 * rows), squeeze=False)
    for c, name in enumerate(args.configs):
        for r, seed in enumerate(args.seeds):
            axes[r][c].imshow(plt.imread(grid_path(args, name, seed)))
            axes[r][c].set_xticks([])
            axes[r][c].set_yticks([])
            if r == 0:
                axes[r][c].set_title(CONFIGS[name][0], fontsize=10)
            if c == 0:
                axes[r][c].set_ylabel(f"seed {seed}")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100)
    plt.close(figure)


# What makes two runs of a configuration and seed the same run, with its CONFIGS settings: a
# record with these is reused.
BUDGET = ("dataset", "steps", "batch_size", "ngf", "ndf", "backend", "metric", "samples")


def record_path(args, name, seed):
    return os.path.join(args.out, "runs", f"{name}-seed{seed}.json")


def grid_path(args, name, seed):
    return os.path.join(args.out, "runs", f"{name}-seed{seed}.png")


def earlier_record(args, name, seed):
    """The record of this run from an earlier call with the same budget and settings, or None."""
    try:
        with open(record_path(args, name, seed)) as f:
            record = json.load(f)
    except (FileNotFoundError, ValueError):
        return None
    budget = {key: vars(args)[key] for key in BUDGET}
    same = record.get("budget") == budget and record.get("settings") == CONFIGS[name][1]
    return record if same and os.path.isfile(grid_path(args, name, seed)) else None


def train_and_measure(args, shared, evaluator, name, seed):
    """Train one run, write its record and grid under --out/runs, and return the record."""
    trainer = Trainer(Config(**{**shared, **CONFIGS[name][1], "seed": seed, "out": os.path.join(shared["out"], name)}))
    started = time.perf_counter()
    trainer.run()
    record = {"budget": {key: vars(args)[key] for key in BUDGET}, "settings": CONFIGS[name][1],
              "train_seconds": time.perf_counter() - started, "frechet_distance": evaluator.score(trainer.generate)}
    save_grid(grid_path(args, name, seed), trainer.generate(trainer.to_device(evaluator.noise[:GRID])))
    write_text(record_path(args, name, seed), json.dumps(record, indent=1))
    return record


def main(argv=None):
    args = parse_args(argv)
    missing = unknown_settings(args.configs)
    if missing:
        print(f"compare_gans.py: this minigan's trainer has no {missing} settings yet, which "
              f"{[n for n in args.configs if set(CONFIGS[n][1]) & set(missing)]} need; choose other --configs",
              file=sys.stderr)
        return 2
    records = {name: {} for name in args.configs}
    with tempfile.TemporaryDirectory() as runs:
        shared = shared_settings(args, runs)
        base = Config(**shared)
        try:
            xp = backend.require_cupy() if args.backend == "cupy" else numpy
            evaluator = Evaluator(base, split(base, train=False), xp)
        except (ValueError, RuntimeError) as error:  # no classifier file, no data set, no GPU
            print(f"compare_gans.py: {error}", file=sys.stderr)
            return 2
        train_sample = split(base, train=True)[:args.samples]
        floor = frechet_distance(evaluator.real_features,
                                 evaluator.features(data.normalize(train_sample, numpy, numpy.float32)))
        for seed in args.seeds:
            for name in args.configs:  # seeds outermost: a drift in the machine hits every configuration alike
                record = earlier_record(args, name, seed)
                kept = record is not None
                record = record or train_and_measure(args, shared, evaluator, name, seed)
                records[name][seed] = record
                print(f"{name:16s} seed {seed}: distance {record['frechet_distance']:.3f} "
                      f"({record['train_seconds']:.0f} s{', measured before' if kept else ''})", flush=True)
    text = table(args, records, floor)
    write_text(os.path.join(args.out, "table.md"), text)
    save_side_by_side(os.path.join(args.out, "samples.png"), args)
    write_text(os.path.join(args.out, "results.json"), json.dumps(
        {"arguments": vars(args), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "floor": floor,
         "runs": records}, indent=1))
    print(text + f"wrote {args.out}/table.md, samples.png, results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
