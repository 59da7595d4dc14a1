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

On the GPU a "graph" section (--graph-batches, default 64 and 128) times the
whole training step five ways in one process, interleaved likewise: minigan's
Trainer eager (cuBLAS) and as a CUDA graph (--matmul exact, tf32), torch eager
(cuDNN) and torch as one captured CUDA graph (capturable Adam, replayed); it
reports images/s and the ratios issues 4 and 6 set targets for. GPU memory at
batch 128 comes from a fresh subprocess per workload (allocator peaks; see
GPU_MEMORY_METHOD). A workload that fails is recorded with its error. A "gemm"
section times each distinct matrix product of the step (recorded from
kernels.matmul) on cuBLAS and on the own exact and TF32 kernels.
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
    from minigan.kernels.convolution import col2im_reference, im2col_reference
    fast = kernels(xp)
    rng = numpy.random.default_rng(0)
    for name, op, cin, cout, k, s, p, size in W.LAYERS:
        if op == "conv2d":
            x = rng.standard_normal((batch, cin, size, size)).astype(numpy.float32)
            out = conv_output_size(op, (size, size), (k, k), (s, s), (p, p))
            args = (k, k, (s, s), (p, p), out)
            x_dev = xp.asarray(x)
            calls = {"fast": lambda: fast.im2col(x_dev, *args) is None or _sync(xp),
                     "reference": lambda: im2col_reference(x, *args)}
            what = f"im2col {name} {tuple(x.shape)}"
        else:
            out = ((size - 1) * s - 2 * p + k,) * 2
            shape = (batch, cout, *out)
            col = rng.standard_normal((cout * k * k, batch * size * size)).astype(numpy.float32)
            args = (shape, k, k, (s, s), (p, p), (size, size))
            col_dev = xp.asarray(col)
            calls = {"fast": lambda: fast.col2im(col_dev, *args) is None or _sync(xp),
                     "reference": lambda: col2im_reference(col, *args)}
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


# --- the GPU's GEMM engines at the step's own products -------------------------------
def step_products(mg, batch):
    """Every distinct matmul of one minigan training step at batch: {(a shape, b shape, a is a
    transposed view, b is a transposed view): calls per step}, recorded by wrapping the backend's
    kernels.matmul, which every convolution's product goes through."""
    from minigan.backend import kernels
    table, calls = kernels(mg.xp), defaultdict(int)
    matmul = table.matmul

    def recording(a, b, engine):
        calls[(a.shape, b.shape, not a.flags.c_contiguous, not b.flags.c_contiguous)] += 1
        return matmul(a, b, engine)
    run = mg.step(batch)
    table.matmul = recording
    try:
        run()
    finally:
        table.matmul = matmul
    return dict(calls)


def operand(xp, rng, shape, transposed):
    """A float32 device array of shape, a transposed view of a C-contiguous one if transposed."""
    if transposed:
        return xp.asarray(rng.standard_normal(shape[::-1]).astype(numpy.float32)).T
    return xp.asarray(rng.standard_normal(shape).astype(numpy.float32))


def bench_gemm(mg, batches, rounds, table, record):
    """Each product of the step at each batch on cuBLAS, the exact own GEMM and the TF32 one,
    interleaved: where the own kernels beat cuBLAS (--matmul), and what they cost a graph step."""
    from minigan.backend import kernels
    from minigan.config import MATMUL_ENGINES
    gpu, rng = kernels(mg.xp), numpy.random.default_rng(0)
    results = {}
    for batch in batches:
        for (a_shape, b_shape, a_t, b_t), count in step_products(mg, batch).items():
            a, b = operand(mg.xp, rng, a_shape, a_t), operand(mg.xp, rng, b_shape, b_t)

            def on(engine):
                def call():
                    gpu.matmul(a, b, engine)
                    mg.sync()
                return call
            samples = interleaved({engine: on(engine) for engine in MATMUL_ENGINES}, rounds)
            what = (f"b{batch} {a_shape}{'ᵀ' if a_t else ''} @ {b_shape}{'ᵀ' if b_t else ''}"
                    f"{f' x{count}' if count > 1 else ''}")
            results[what] = {engine: ms(s) for engine, s in samples.items()}
            table.add("gemm exact", what, results[what]["exact"], results[what]["cublas"])
            table.add("gemm tf32", what, results[what]["tf32"], results[what]["cublas"])
    record["gemm_ms"] = results
    record["gemm_method"] = ("the step's distinct products (recorded from kernels.matmul), random float32 "
                             "operands in the recorded layouts; cuBLAS, exact and tf32 interleaved, "
                             f"{rounds} rounds, synchronized, medians; the torch column is cuBLAS")


# --- the GPU's CUDA-graph modes (issues 4 and 6) -------------------------------------
GRAPH_BATCHES = (64, 128)
GRAPH_WARMUP = 3  # steps before timing: minigan's first runs eagerly, its second captures the graph
# The workloads, each framework's name first. minigan's run minigan.training.Trainer.run_step,
# which copies each step's batch into place on the device; torch's graph copies a new batch into
# its static input too, so the graph modes compare like with like. (torch eager trains on one
# batch that stays put, as in the sweep: it skips a copy of microseconds.)
GRAPH_MODES = {
    "minigan eager": lambda fw, batch: fw.trainer_step(batch),  # matmul auto: cuBLAS
    "minigan graph": lambda fw, batch: fw.trainer_step(batch, cuda_graph=True, matmul="exact"),
    "minigan graph tf32": lambda fw, batch: fw.trainer_step(batch, cuda_graph=True, matmul="tf32"),
    "torch eager": lambda fw, batch: fw.step(batch),  # cuDNN
    "torch graph": lambda fw, batch: fw.graph_step(batch, warmup=GRAPH_WARMUP),
}
# (numerator, denominator, a ratio under which the target is met, the target) of the table's ratios
GRAPH_RATIOS = [("minigan graph", "torch eager", 1.0, "issue 6: below 1 at batches 64 and 128"),
                ("minigan eager", "torch eager", 1.5, "issue 4: within 1.5 at batch 128"),
                ("minigan graph", "torch graph", None, "none")]


def warmed_up(name, fws, batch, errors):
    """GRAPH_MODES[name]'s step at batch, run GRAPH_WARMUP times; None, the reason in errors, if that fails."""
    fw = fws.get(name.split()[0])
    if fw is None:
        errors[name] = "PyTorch left out (see torch_missing)"
        return None
    try:
        step = GRAPH_MODES[name](fw, batch)
        for _ in range(GRAPH_WARMUP):
            step()
    except Exception as error:  # first runs on a GPU: keep the other workloads' numbers
        errors[name] = f"{type(error).__name__}: {error}"
        return None
    return step


def bench_graph_modes(fws, batches, rounds, table, record):
    """Each GRAPH_MODES workload's step at each batch, timed interleaved; the issues' ratios into the table."""
    fws = {fw.name: fw for fw in fws}
    times, errors, targets = {}, {}, {}
    for batch in batches:
        failed = {}
        steps = {name: warmed_up(name, fws, batch, failed) for name in GRAPH_MODES}
        try:
            samples = interleaved({name: step for name, step in steps.items() if step}, rounds, warmup=0)
        except Exception as error:  # e.g. a CUDA error: the batch's timings are lost, not the run's
            failed["timing"], samples = f"{type(error).__name__}: {error}", {}
        del steps  # frees this batch's models and graphs before the next batch's
        record["samples_s"][f"graph modes batch {batch}"] = samples
        times[batch] = {name: ms(s) for name, s in samples.items()}
        errors[batch] = failed
        for name, t in times[batch].items():
            print(f"  graph      batch {batch:<4d} {name:18s} {t:8.2f} ms {batch / t * 1e3:9.0f} img/s", flush=True)
        for name, error in failed.items():
            print(f"  graph      batch {batch}: {name} failed: {error.splitlines()[0]}")
        targets[batch] = graph_ratios(times[batch], batch, table)
    record["graph_modes_ms"] = times
    record["graph_modes_images_per_s"] = {b: {n: b / t * 1e3 for n, t in ts.items()} for b, ts in times.items()}
    record["graph_modes_errors"] = errors
    record["graph_modes_ratios"] = targets
    record["graph_modes_method"] = (
        f"one process; per batch, every workload built and run {GRAPH_WARMUP} steps (minigan's graph is "
        f"captured by then), then timed in {rounds} rounds that alternate the workloads, one step per "
        "sample, each synchronizing the device before the clock stops; medians. minigan: "
        "Trainer.run_step on fake data (batch copied into place each step); torch graph: a new batch "
        "copied into the static input, then replay; torch eager: one fixed batch.")


def graph_ratios(times, batch, table):
    """The ratios of GRAPH_RATIOS at one batch, into the table (section "graph") and returned."""
    ratios = {}
    for mine, theirs, limit, target in GRAPH_RATIOS:
        if mine not in times:
            continue
        what = f"{mine.removeprefix('minigan ')} vs {theirs}, b{batch}"  # the columns say minigan, torch
        table.add("graph", what, times[mine], times.get(theirs))
        if theirs in times:
            ratio = times[mine] / times[theirs]
            ratios[f"{mine} / {theirs}"] = {"ratio": ratio, "target": target,
                                            "below_target": ratio < limit if limit else None}
    return ratios


def graph_markdown(times):
    """graph_modes_ms as a Markdown table: ms and images/s of each workload at each batch."""
    names = [n for n in GRAPH_MODES if any(n in t for t in times.values())]
    lines = ["| batch | " + " | ".join(names) + " |", "|---:|" + "---:|" * len(names)]
    for batch, t in times.items():
        lines.append(f"| {batch} | " + " | ".join(f"{t[n]:.2f} ms ({batch / t[n] * 1e3:.0f} img/s)" if n in t
                                                  else "failed" for n in names) + " |")
    return "\n".join(lines) + "\n"


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


GPU_MEMORY_BATCH = 128  # issue 4 asks for both frameworks' peak GPU memory at batch 128
MiB = 2**20


class PeakLiveBytes:
    """CuPy's allocator on its default memory pool, keeping the peak of the pool's live bytes.

    Live bytes grow only at an allocation, so their peak is the largest used_bytes()
    just after one. A CUDA graph's capture allocates from the graph's own pool, through
    an allocator of its own (minigan/cuda_graph.py): that pool is counted apart.
    """

    def __init__(self, cupy):
        self.pool = cupy.get_default_memory_pool()
        self.peak = 0
        cupy.cuda.set_allocator(self.malloc)

    def malloc(self, size):
        memory = self.pool.malloc(size)
        self.peak = max(self.peak, self.pool.used_bytes())
        return memory

    def reset(self):
        self.peak = self.pool.used_bytes()


def gpu_memory_child(workload, batch, steps):
    """Run in a fresh process: the GPU memory of a GRAPH_MODES workload's steps, after its warm-up."""
    measure = minigan_gpu_memory if workload.startswith("minigan") else torch_gpu_memory
    print(json.dumps(measure(workload, batch, steps)))


def run_measured(step, steps, reset_peaks):
    """GRAPH_WARMUP steps (graphs captured), reset_peaks(), then the measured steps."""
    for _ in range(GRAPH_WARMUP):
        step()
    reset_peaks()
    for _ in range(steps):
        step()


def minigan_gpu_memory(workload, batch, steps):
    fw = W.Minigan("cupy")
    live = PeakLiveBytes(fw.xp)  # before setup, so it sees every block
    step = GRAPH_MODES[workload](fw, batch)
    run_measured(step, steps, live.reset)
    graph_pool = getattr(step.trainer.graph, "pool", None)
    held, cached = (graph_pool.used_bytes(), graph_pool.total_bytes()) if graph_pool else (0, 0)
    free, total = fw.xp.cuda.runtime.memGetInfo()
    return {"peak_allocated_MiB": (live.peak + held) / MiB,
            "reserved_MiB": (live.pool.total_bytes() + cached) / MiB,
            "graph_pool_MiB": cached / MiB, "device_used_MiB": (total - free) / MiB}


def torch_gpu_memory(workload, batch, steps):
    fw = W.Torch("cupy")
    cuda = fw.torch.cuda
    run_measured(GRAPH_MODES[workload](fw, batch), steps, cuda.reset_peak_memory_stats)
    free, total = cuda.mem_get_info()
    return {"peak_allocated_MiB": cuda.max_memory_allocated() / MiB,
            "reserved_MiB": cuda.max_memory_reserved() / MiB, "device_used_MiB": (total - free) / MiB}


GPU_MEMORY_METHOD = (
    f"fresh subprocess per workload, batch {GPU_MEMORY_BATCH}; setup and {GRAPH_WARMUP} warm-up steps "
    "(graphs captured), then the peak reset and the steps run. peak_allocated: the peak of live "
    "allocator bytes over the steps (torch: max_memory_allocated; minigan: the largest used_bytes() "
    "of CuPy's default pool seen after an allocation, plus the bytes still held in the graph's "
    "private pool); neither counts a graph's intermediates, which live in freed blocks of its private "
    "pool. reserved: all the allocator holds from the device, those intermediates included "
    "(torch: max_memory_reserved; minigan: the default pool's total_bytes(), which CuPy never "
    "returns, plus the graph pool's). device_used: total minus free device memory at the end "
    "(cudaMemGetInfo), with the CUDA context and library workspaces, and any other process's memory.")


def measure_memory(batch, steps, threads, workloads, backend="numpy"):
    out = {}
    for name in workloads:
        try:
            proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory-child", name,
                                   "--backend", backend, "--batch", str(batch),
                                   "--memory-steps", str(steps), "--threads", str(threads)],
                                  capture_output=True, text=True, cwd=HERE, timeout=600)
        except subprocess.TimeoutExpired:
            out[name] = {"error": ["timed out after 600 s"]}
            continue
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
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=("ops", "kernels", "sweep", "breakdown", "gemm", "graphs", "memory"))
    parser.add_argument("--graph-batches", type=int, nargs="+", default=list(GRAPH_BATCHES),
                        help="batch sizes of the GPU's eager-vs-CUDA-graph section (--backend cupy)")
    parser.add_argument("--graph-rounds", type=int, default=30,
                        help="timed rounds per workload of that section (one step each; median taken)")
    parser.add_argument("--memory-steps", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--memory-child", choices=("minigan", "torch", *GRAPH_MODES), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import numba
    threads = args.threads or numba.config.NUMBA_NUM_THREADS
    if args.memory_child and args.backend == "cupy":
        return gpu_memory_child(args.memory_child, args.batch, args.memory_steps)
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
    gpu = W.gpu_info() if args.backend == "cupy" else None
    device = W.cpu_model() if args.backend == "numpy" else gpu["name"]
    print(f"{machine}: {device}, {threads} threads, backend {args.backend}, batch {args.batch}, "
          f"{args.rounds} rounds, load average {os.getloadavg()[0]:.2f}")
    record = {"machine": machine, "device": device, "backend": args.backend, "threads": threads,
              "thread_pools": thread_record, "versions": W.versions(), "batch": args.batch,
              "rounds": args.rounds, "torch_missing": torch_missing, "gpu": gpu,
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
    if "gemm" not in args.skip and args.backend == "cupy":
        bench_gemm(fws[0], args.graph_batches, args.rounds, table, record)
    if "graphs" not in args.skip and args.backend == "cupy":
        bench_graph_modes(fws, args.graph_batches, args.graph_rounds, table, record)
    if "memory" not in args.skip and args.backend == "cupy":
        workloads = [name for name in GRAPH_MODES if name.split()[0] in {fw.name for fw in fws}]
        record["peak_gpu_memory_MiB"] = measure_memory(GPU_MEMORY_BATCH, args.memory_steps, threads,
                                                       workloads, "cupy")
        record["peak_gpu_memory_method"] = GPU_MEMORY_METHOD
        for name, mem in record["peak_gpu_memory_MiB"].items():
            print(f"  memory     {name}, batch {GPU_MEMORY_BATCH}: " + (
                ", ".join(f"{k.removesuffix('_MiB').replace('_', ' ')} {v:.0f} MiB" for k, v in mem.items())
                if "error" not in mem else f"failed: {mem['error']}"))
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
        if record.get("graph_modes_ms"):
            f.write(f"\nGPU step, eager and CUDA graph ({gpu['name']}; median of {args.graph_rounds} "
                    f"interleaved steps):\n\n" + graph_markdown(record["graph_modes_ms"]))
    if per_step or len(sweep) > 1:
        plots(folder, sweep, per_step, f"{machine}, {threads} threads")
    print(f"wrote {folder}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
