"""minigan against PyTorch, side by side: per op, per DCGAN-32 training step, and peak memory.

    python benchmarks/compare.py --backend numpy      # CPU (NumPy + Numba) vs torch on the CPU
    python benchmarks/compare.py --backend cupy       # GPU (CuPy) vs torch on CUDA

Prints a table (ms for minigan and torch, and their ratio) and writes under
benchmarks/results/<machine>/: compare.json (every median and sample, the
machine, threads, versions, load), table.md, step_vs_batch.png,
images_per_s.png and breakdown.png.

Method. Both frameworks run in this one process on the same thread count
(Numba, the BLAS under NumPy via threadpoolctl, torch.set_num_threads). Each
workload is warmed up, then timed in rounds that alternate the two
frameworks (the first one alternates too), so background load hits both
alike; the table shows medians over the rounds. GPU timings synchronize
before the clock stops. Peak memory is measured on the CPU in a fresh
subprocess per framework: the peak RSS (VmHWM, reset after setup) while the
training steps run, minus the RSS after imports and model setup. RSS counts
NumPy/BLAS buffers that tracemalloc would not see; it also counts freed
memory the allocator keeps, so it is an upper bound on live data.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict

import numpy

import workloads as W

HERE = os.path.dirname(os.path.abspath(__file__))
BATCHES = (16, 32, 64, 128, 256)


# --- timing ---------------------------------------------------------------------
def interleaved(callables, rounds, warmup=1):
    """{name: [seconds]} of each callable, alternating them within every round."""
    for fn in callables.values():
        for _ in range(warmup):
            fn()
    samples = {name: [] for name in callables}
    order = list(callables)
    for r in range(rounds):
        for name in (order if r % 2 == 0 else order[::-1]):
            start = time.perf_counter()
            callables[name]()
            samples[name].append(time.perf_counter() - start)
    return samples


def ms(samples):
    return float(numpy.median(samples) * 1e3)


class Table:
    """Rows of (what, minigan ms, other ms), printed and kept for JSON/Markdown."""

    def __init__(self, other):
        self.other, self.rows = other, []

    def add(self, section, what, mine, theirs):
        self.rows.append({"section": section, "what": what, "minigan_ms": mine, f"{self.other}_ms": theirs,
                          "ratio": mine / theirs if theirs else None})
        ratio = f"{mine / theirs:6.2f}x" if theirs else "      -"
        theirs = f"{theirs:10.2f}" if theirs is not None else "         -"
        print(f"  {section:10s} {what:28s} {mine:10.2f} {theirs} {ratio}", flush=True)

    def markdown(self):
        lines = [f"| section | what | minigan ms | {self.other} ms | ratio |", "|---|---|---:|---:|---:|"]
        for row in self.rows:
            theirs = row[f"{self.other}_ms"]
            lines.append(f"| {row['section']} | {row['what']} | {row['minigan_ms']:.2f} | "
                         + (f"{theirs:.2f} | {row['ratio']:.2f}x |" if theirs else "- | - |"))
        return "\n".join(lines) + "\n"


def header(other):
    print(f"  {'section':10s} {'what':28s} {'minigan':>10s} {other:>10s} {'ratio':>7s}")


# --- the benchmarks ---------------------------------------------------------------
def bench_ops(fws, batch, rounds, table, raw):
    for kind, specs in (("layer", W.LAYERS), ("batch_norm", W.BATCH_NORMS)):
        for spec in specs:
            pairs = {fw.name: getattr(fw, kind)(spec, batch, numpy.random.default_rng(0)) for fw in fws}
            fwd = interleaved({name: p[0] for name, p in pairs.items()}, rounds)
            bwd = interleaved({name: p[1] for name, p in pairs.items()}, rounds)
            label = spec[0] if kind == "batch_norm" else f"{spec[0]} {spec[1]}"
            raw[label] = {"forward": fwd, "backward": bwd}
            other = [fw.name for fw in fws[1:]]
            for what, s in (("forward", fwd), ("backward", bwd)):
                table.add(label, what, ms(s["minigan"]), ms(s[other[0]]) if other else None)
            table.add(label, "forward+backward", ms(fwd["minigan"]) + ms(bwd["minigan"]),
                      ms(fwd[other[0]]) + ms(bwd[other[0]]) if other else None)


def bench_kernels(xp, batch, rounds, table, raw):
    """im2col (conv forward) and col2im (transposed-conv forward): the backend's kernel vs NumPy's."""
    from minigan.backend import kernels
    from minigan.functional.conv import conv_output_size
    from minigan.kernels import reference
    fast = kernels(xp)
    rng = numpy.random.default_rng(0)
    for name, op, cin, cout, k, s, p, size in W.LAYERS:
        if op == "conv2d":
            x = rng.standard_normal((batch, cin, size, size)).astype(numpy.float32)
            out = conv_output_size(op, (size, size), (k, k), (s, s), (p, p))
            args = (k, k, (s, s), (p, p), out)
            x_dev = xp.asarray(x)
            calls = {"fast": lambda: fast.im2col(x_dev, *args) is None or _sync(xp),
                     "reference": lambda: reference.im2col(x, *args)}
            what = f"im2col {name} {tuple(x.shape)}"
        else:
            out = ((size - 1) * s - 2 * p + k,) * 2
            shape = (batch, cout, *out)
            col = rng.standard_normal((cout * k * k, batch * size * size)).astype(numpy.float32)
            args = (shape, k, k, (s, s), (p, p), (size, size))
            col_dev = xp.asarray(col)
            calls = {"fast": lambda: fast.col2im(col_dev, *args) is None or _sync(xp),
                     "reference": lambda: reference.col2im(col, *args)}
            what = f"col2im {name} {tuple(col.shape)}"
        samples = interleaved(calls, rounds)
        raw[what] = samples
        table.add("kernel", what, ms(samples["fast"]), ms(samples["reference"]))


def _sync(xp):
    if xp is not numpy:
        xp.cuda.Device().synchronize()


def bench_steps(fws, batches, rounds, table, raw, main_batch):
    sweep = {}
    for batch in batches:
        steps = {fw.name: fw.step(batch) for fw in fws}
        samples = interleaved(steps, rounds if batch <= 64 else max(3, rounds // 2))
        raw[f"step batch {batch}"] = samples
        sweep[batch] = {name: ms(s) for name, s in samples.items()}
        if batch == main_batch or len(batches) == 1:
            other = [fw.name for fw in fws[1:]]
            table.add("step", f"DCGAN-32 train step, batch {batch}", sweep[batch]["minigan"],
                      sweep[batch][other[0]] if other else None)
    return sweep


def breakdown(mg, batch, steps):
    """ms per step spent in each layer's forward and backward, and in Adam, of minigan's step."""
    from minigan import autograd
    run = mg.step(batch)
    run()
    times = defaultdict(float)
    clock = time.perf_counter

    def wrap_module(label, module):
        forward = module.forward

        def timed(*args):
            mg.sync()
            start = clock()
            out = forward(*args)
            mg.sync()
            times[(label, "forward")] += clock() - start
            if getattr(out, "creator", None) is not None:
                out.creator.bench_label = label
            return out
        module.forward = timed

    for prefix, model in (("G", run.G), ("D", run.D)):
        convs = 0  # name layers as W.LAYERS does: G1..G4, D1..D4, then .bn / .act
        for layer in model.main.children():
            kind = type(layer).__name__
            convs += kind.startswith("Conv")
            suffix = "" if kind.startswith("Conv") else ".bn" if kind.startswith("Batch") else ".act"
            wrap_module(f"{prefix}{convs}{suffix} {kind}", layer)
    patched = {}

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)
    for cls in set(subclasses(autograd.Function)):
        if "backward" in cls.__dict__:
            patched[cls] = cls.backward

            def timed_backward(self, grad, _orig=cls.backward):
                mg.sync()
                start = clock()
                result = _orig(self, grad)
                mg.sync()
                times[(getattr(self, "bench_label", type(self).__name__), "backward")] += clock() - start
                return result
            cls.backward = timed_backward
    for opt in run.optimizers:
        step = opt.step

        def timed_step(_step=step):
            start = clock()
            _step()
            mg.sync()
            times[("Adam", "update")] += clock() - start
        opt.step = timed_step
    total = 0.0
    try:
        for _ in range(steps):
            start = clock()
            run()
            total += clock() - start
    finally:
        for cls, orig in patched.items():
            cls.backward = orig
    per_step = {f"{label} {phase}": t / steps * 1e3 for (label, phase), t in times.items()}
    per_step["other (autograd, losses, glue)"] = total / steps * 1e3 - sum(per_step.values())
    return per_step


# --- memory --------------------------------------------------------------------
def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def memory_child(framework, batch, steps, threads):
    """Run in a fresh process: the peak RSS while training steps run, over the RSS after setup.

    Linux keeps ru_maxrss across fork+exec (a child starts with its parent's
    high-water mark), so this reads the per-process VmHWM, reset after setup
    through /proc/self/clear_refs.
    """
    W.set_threads(threads, torch=framework == "torch")
    fw = W.Minigan() if framework == "minigan" else W.Torch()
    run = fw.step(batch)
    setup = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    for _ in range(steps):
        run()
    peak = _status_kib("VmHWM")
    print(json.dumps({"setup_MiB": setup / 1024, "peak_MiB": peak / 1024, "steps_MiB": (peak - setup) / 1024}))


def measure_memory(batch, steps, threads, frameworks):
    out = {}
    for name in frameworks:
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory-child", name,
                               "--batch", str(batch), "--memory-steps", str(steps), "--threads", str(threads)],
                              capture_output=True, text=True, cwd=HERE)
        if proc.returncode:
            out[name] = {"error": proc.stderr.strip().splitlines()[-1:]}
        else:
            out[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


# --- plots ------------------------------------------------------------------------
def plots(folder, sweep, per_step, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    batches = sorted(sweep)
    names = list(next(iter(sweep.values())))
    for filename, ylabel, value in (("step_vs_batch.png", "ms per train step", lambda b, n: sweep[b][n]),
                                    ("images_per_s.png", "images per second",
                                     lambda b, n: b / sweep[b][n] * 1e3)):
        fig, ax = plt.subplots(figsize=(6, 4))
        for name in names:
            ax.plot(batches, [value(b, name) for b in batches], marker="o", label=name)
        ax.set_xscale("log", base=2)
        ax.set_xticks(batches, [str(b) for b in batches])
        ax.set_xlabel("batch size")
        ax.set_ylabel(ylabel)
        ax.set_title(f"DCGAN-32 train step ({title})", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(folder, filename), dpi=120)
        plt.close(fig)
    labels = sorted(per_step, key=per_step.get)
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(labels) + 1.2))
    ax.barh(labels, [per_step[k] for k in labels])
    ax.set_xlabel("ms per train step")
    ax.set_title(f"minigan: where a step's time goes ({title})", fontsize=9)
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(folder, "breakdown.png"), dpi=120)
    plt.close(fig)


# --- main ---------------------------------------------------------------------------
def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for both frameworks (default: Numba's default, the core count)")
    parser.add_argument("--batch", type=int, default=64, help="batch of the per-op table and main step")
    parser.add_argument("--batches", type=int, nargs="+", default=list(BATCHES),
                        help="batch sizes of the step-time sweep")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per workload (median taken)")
    parser.add_argument("--skip", nargs="*", default=[], choices=("ops", "kernels", "sweep", "breakdown", "memory"))
    parser.add_argument("--memory-steps", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--memory-child", choices=("minigan", "torch"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import numba
    threads = args.threads or numba.config.NUMBA_NUM_THREADS
    if args.memory_child:
        return memory_child(args.memory_child, args.batch, args.memory_steps, threads)
    try:
        W.require_backend(args.backend)
    except RuntimeError as error:  # backend.BackendUnavailable: CuPy or the GPU is missing
        print(f"compare.py: --backend {args.backend} is not available here: {error}", file=sys.stderr)
        return 2
    thread_record = W.set_threads(threads)
    fws, torch_missing = W.frameworks(args.backend)
    if torch_missing is None and args.backend == "cupy" and not fws[1].torch.cuda.is_available():
        fws, torch_missing = fws[:1], "this PyTorch build has no CUDA"
    other = fws[1].name if len(fws) > 1 else "torch"
    if torch_missing:
        print(f"compare.py: PyTorch left out: {torch_missing}", file=sys.stderr)
    machine = W.machine_name(args.backend, threads)
    folder = os.path.join(args.out, machine)
    os.makedirs(folder, exist_ok=True)
    device = W.cpu_model() if args.backend == "numpy" else machine[4:]
    print(f"{machine}: {device}, {threads} threads, backend {args.backend}, batch {args.batch}, "
          f"{args.rounds} rounds, load average {os.getloadavg()[0]:.2f}")
    record = {"machine": machine, "device": device, "backend": args.backend, "threads": threads,
              "thread_pools": thread_record, "versions": W.versions(), "batch": args.batch,
              "rounds": args.rounds, "torch_missing": torch_missing,
              "load_average_start": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
              "samples_s": {}}
    table = Table(other)
    header(other)
    if "ops" not in args.skip:
        bench_ops(fws, args.batch, args.rounds, table, record["samples_s"])
    if "kernels" not in args.skip:
        print(f"  (kernel rows: the {args.backend} kernel against the plain-NumPy reference)")
        bench_kernels(fws[0].xp, args.batch, args.rounds, table, record["samples_s"])
    batches = args.batches if "sweep" not in args.skip else [args.batch]
    sweep = bench_steps(fws, sorted(set(batches) | {args.batch}), args.rounds, table,
                        record["samples_s"], args.batch)
    for b in sorted(sweep):
        print(f"  sweep      batch {b:<4d} " + "  ".join(f"{n} {t:8.1f} ms ({b / t * 1e3:6.1f} img/s)"
                                                        for n, t in sweep[b].items()))
    record["step_ms_by_batch"] = sweep
    per_step = {}
    if "breakdown" not in args.skip:
        per_step = breakdown(fws[0], args.batch, max(3, args.rounds // 2))
        record["minigan_breakdown_ms_per_step"] = per_step
        print("  minigan step breakdown (ms per step): " + ", ".join(
            f"{k} {v:.1f}" for k, v in sorted(per_step.items(), key=lambda kv: -kv[1])[:8]) + ", ...")
    if "memory" not in args.skip and args.backend == "numpy":
        record["peak_rss_MiB"] = measure_memory(args.batch, args.memory_steps, threads,
                                                [fw.name for fw in fws])
        record["peak_rss_method"] = ("fresh subprocess per framework; peak RSS (VmHWM, reset after "
                                     f"setup) over {args.memory_steps} steps minus RSS after imports+setup")
        for name, mem in record["peak_rss_MiB"].items():
            print(f"  memory     {name}: " + (f"setup {mem['setup_MiB']:.0f} MiB, peak {mem['peak_MiB']:.0f} MiB, "
                                            f"training steps add {mem['steps_MiB']:.0f} MiB"
                                            if "error" not in mem else f"failed: {mem['error']}"))
    record["table"] = table.rows
    record["load_average_end"] = os.getloadavg()
    with open(os.path.join(folder, "compare.json"), "w") as f:
        json.dump(record, f, indent=1)
    with open(os.path.join(folder, "table.md"), "w") as f:
        f.write(f"{machine}: {device}, {threads} threads, batch {args.batch}, float32, "
                f"median of {args.rounds} interleaved rounds; {record['date']}; load average "
                f"{record['load_average_start'][0]:.1f} at start, {record['load_average_end'][0]:.1f} at end "
                f"(on a {os.cpu_count()}-core machine)\n\n" + table.markdown())
    if per_step or len(sweep) > 1:
        plots(folder, sweep, per_step, f"{machine}, {threads} threads")
    print(f"wrote {folder}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
