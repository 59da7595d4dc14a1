"""Same-budget sample quality of training modes: does --cuda-graph or TF32 change what G learns?

    python benchmarks/quality.py --backend cupy --modes eager graph-exact graph-tf32 --seeds 0 1 2

Each run trains the DCGAN with the trainer for --steps steps (all runs the
same budget), draws --samples images from G in eval mode from one fixed
noise, and measures the Fréchet distance of their random-network features
to those of as many held-out real images (the test split;
minigan/metrics/random_network.py). Runs that differ only in --seed show how far the
distance moves by chance. A mode keeps the quality of the first mode (the
reference) when the gap between their mean distances is no larger than that
spread (the larger of the two modes' seed ranges). Writes
benchmarks/results/<machine>/quality.json.
"""
import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time

import numpy

import harness
import workloads
from minigan import backend, data
from minigan.metrics import frechet_distance, random_features
from minigan.training import Config, Trainer
from minigan.atomic import write_text

HERE = os.path.dirname(os.path.abspath(__file__))
MODES = {"eager": dict(cuda_graph=False),  # cuBLAS on the GPU
         "graph-exact": dict(cuda_graph=True, matmul="exact"),
         "graph-tf32": dict(cuda_graph=True, matmul="tf32")}


def held_out_images(config, n):
    """n real images the runs never trained on, in [-1, 1]."""
    if config.dataset == "fake":
        images = data.fake(n=n, channels=3, seed=config.seed + 10_000)[0]
    elif config.dataset == "fashion-mnist":
        images = data.fashion_mnist(config.data_dir, train=False)[0]
    else:
        images = data.cifar10(config.data_dir, train=False)[0]
    if len(images) < n:
        raise ValueError(f"--samples {n} is more than the {len(images)} held-out images")
    return images[:n] / 127.5 - 1


def train_and_measure(config, samples, reference):
    trainer = Trainer(config)
    started = time.perf_counter()
    trainer.run()
    seconds = time.perf_counter() - started
    noise = numpy.random.default_rng(12345).standard_normal((samples, config.nz, 1, 1)).astype(numpy.float32)
    generated = numpy.concatenate([trainer.generate(trainer.to_device(noise[i:i + 500]))
                                   for i in range(0, samples, 500)])
    return {"frechet_distance": frechet_distance(reference, random_features(generated, trainer.xp)),
            "train_seconds": seconds, "last_losses": {k: trainer.history[-1][k] for k in ("loss_D", "loss_G")}}


def verdicts(results, modes):
    """Each mode's mean distance against the reference mode's, and whether the gap is within chance."""
    distances = {m: [r["frechet_distance"] for r in results[m].values()] for m in modes}
    reference = modes[0]
    out = {}
    for mode in modes[1:]:
        spread = max(numpy.ptp(distances[reference]), numpy.ptp(distances[mode]))
        gap = float(numpy.mean(distances[mode]) - numpy.mean(distances[reference]))
        out[mode] = {"gap_to_" + reference: gap, "seed_spread": float(spread),
                     "within_chance": bool(abs(gap) <= spread) if len(distances[mode]) > 1 else None}
    return out


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("numpy", "cupy"), default="cupy")
    parser.add_argument("--modes", nargs="+", choices=sorted(MODES), default=["eager", "graph-exact", "graph-tf32"],
                        help="training modes; the first is the reference")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--dataset", choices=("cifar10", "fashion-mnist", "fake"), default="fashion-mnist")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--steps", type=int, default=2000, help="training steps of every run (the budget)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--ndf", type=int, default=64)
    parser.add_argument("--samples", type=int, default=5000, help="generated and held-out images compared")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.backend == "numpy" and args.modes != ["eager"]:
        print("quality.py: only --modes eager runs on --backend numpy (graphs and TF32 are GPU modes)",
              file=sys.stderr)
        return 2
    try:
        workloads.require_backend(args.backend)
    except RuntimeError as error:
        print(f"quality.py: --backend {args.backend} is not available here: {error}", file=sys.stderr)
        return 2
    base = Config(backend=args.backend, dataset=args.dataset, data_dir=args.data_dir, max_steps=args.steps,
                  batch_size=args.batch_size, ngf=args.ngf, ndf=args.ndf, log_every=50,
                  sample_every=10 ** 9, checkpoint_every=10 ** 9, plot_every=10 ** 9)
    reference = random_features(held_out_images(base, args.samples), backend.array_module(
        backend.to_device(numpy.zeros(1), "cuda" if args.backend == "cupy" else "cpu")))
    results = {mode: {} for mode in args.modes}
    with tempfile.TemporaryDirectory() as runs:
        for seed in args.seeds:
            for mode in args.modes:  # seeds outermost: a drift in the machine hits every mode alike
                config = dataclasses.replace(base, **MODES[mode], seed=seed, out=os.path.join(runs, f"{mode}-{seed}"))
                results[mode][seed] = train_and_measure(config, args.samples, reference)
                print(f"{mode:12s} seed {seed}: distance {results[mode][seed]['frechet_distance']:.4f} "
                      f"({results[mode][seed]['train_seconds']:.0f} s)", flush=True)
    record = {"machine": harness.machine_name(args.backend, os.cpu_count()), "versions": harness.versions(),
              "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "arguments": vars(args),
              "results": results, "verdicts": verdicts(results, args.modes)}
    for mode, verdict in record["verdicts"].items():
        print(f"{mode}: mean distance {verdict['gap_to_' + args.modes[0]]:+.4f} from {args.modes[0]}, "
              f"seed spread {verdict['seed_spread']:.4f}: "
              f"{ {True: 'within chance', False: 'BEYOND CHANCE', None: 'give 2+ seeds to judge'}[verdict['within_chance']] }")
    path = os.path.join(args.out, record["machine"], "quality.json")
    write_text(path, json.dumps(record, indent=1))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
