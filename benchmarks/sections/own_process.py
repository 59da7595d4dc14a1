"""The CPU comparison, each framework timed in its own fresh process.

Why: after each NumPy matrix product, OpenBLAS keeps its worker threads spinning for a while,
so in one process a torch call right after a minigan call shares the cores with them (and
Numba's and torch's pools fight likewise). Here no process ever runs both frameworks.

For each thread count, batch and round a child process per framework builds the DCGAN-32
step (minigan: Trainer.train_step; torch: the same models, losses and Adam), sets the threads
(Numba, every BLAS/OpenMP pool through threadpoolctl, torch.set_num_threads), runs warm-up
steps, then times steps one by one. The children alternate over the rounds (minigan, torch,
then torch, minigan, ...), so that drifting load hits both alike; a round's figure is its
child's median step, the result the median over rounds. Each step child also reports the
peak RSS its steps add over the RSS after setup (VmHWM, reset after setup), and the page
faults and system CPU time per timed (steady-state) step (getrusage deltas). Layer children
time each layer block doing what one step does of it (workloads.Workloads.layer_steps).
"""
import json
import os
import resource
import statistics
import sys
import time

import harness
import workloads

FRAMEWORKS = ("minigan", "torch")
MiB = 1024


def method(args):
    return (f"each framework in its own fresh process, {args.rounds} rounds alternating minigan and torch "
            f"(ABBA order); per child {args.warmup} warm-up steps then {args.steps} timed steps, its median "
            "taken; figures are medians over rounds (spread: min-max over rounds). Threads: Numba, every "
            "BLAS/OpenMP pool (threadpoolctl) and torch.set_num_threads set alike. float32, DCGAN-32 "
            "(nz=100, ngf=ndf=64, 32x32x3), minigan's step is Trainer.train_step (which also computes "
            "the logged scalars), torch's the same models, losses, D-then-G updates (each of D's two "
            "loss terms backpropagated as soon as computed, in both) and Adam. Peak RSS "
            "added: VmHWM over the steps (warm-up included) minus VmRSS after setup. Page faults and "
            "system CPU per step: getrusage deltas over the timed steps. minigan's Trainer sets glibc's "
            "malloc to keep freed memory (minigan/training/malloc.py), in its layer rows too; torch runs with its "
            "defaults. "
            f"Layer rows (batch {args.layer_batch}): each block (a convolution with its batch norm and "
            "activation) timed on its own in the children of the layers section, doing one step's calls "
            "of it with only the gradients the step needs; minigan's inputs and gradients come in its "
            "batch-innermost layout, as the step has them.")


# --- the children ---------------------------------------------------------------------
def child(spec):
    """Run in a fresh process: the measurement that spec (a JSON object) asks for, printed as JSON."""
    spec = json.loads(spec)
    threads = harness.set_threads(spec["threads"], torch=spec["framework"] == "torch")
    fw = workloads.Minigan() if spec["framework"] == "minigan" else workloads.Torch()
    measure = step_child if spec["kind"] == "step" else layers_child
    print(json.dumps({**measure(fw, spec), "threads": threads, "pid": os.getpid(),
                      "torch_loaded": "torch" in sys.modules}))
    return 0


def step_child(fw, spec):
    run = fw.step(spec["batch"])
    setup = harness.status_kib("VmRSS")
    harness.reset_peak_rss()
    for _ in range(spec["warmup"]):
        run()
    before, times = resource.getrusage(resource.RUSAGE_SELF), []
    for _ in range(spec["steps"]):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    after = resource.getrusage(resource.RUSAGE_SELF)
    n = spec["steps"]
    peak = harness.status_kib("VmHWM")
    return {"step_s": times, "setup_MiB": setup / MiB, "steps_added_MiB": (peak - setup) / MiB,
            "minor_faults_per_step": (after.ru_minflt - before.ru_minflt) / n,
            "major_faults_per_step": (after.ru_majflt - before.ru_majflt) / n,
            "system_s_per_step": (after.ru_stime - before.ru_stime) / n,
            "malloc": getattr(run, "malloc", "the C library's defaults")}


def layers_child(fw, spec):
    steps = fw.layer_steps(spec["batch"])
    samples = {name: {"forward_s": [], "backward_s": []} for name in steps}
    for rep in range(1 + spec["steps"]):  # the first is a warm-up; blocks take turns within a rep
        for name, run in steps.items():
            forward, backward = run()
            if rep:
                samples[name]["forward_s"].append(forward)
                samples[name]["backward_s"].append(backward)
    return {"blocks": samples, "malloc": getattr(fw, "malloc", "the C library's defaults")}


# --- the parent -----------------------------------------------------------------------
def alternating(rounds):
    """The frameworks' order in each round: minigan, torch, then torch, minigan, and so on."""
    return [FRAMEWORKS if r % 2 == 0 else FRAMEWORKS[::-1] for r in range(rounds)]


def run_children(args, kind, batch, threads, compare_py):
    """{framework: [what each round's child printed]}, the children run alternating."""
    found = {name: [] for name in FRAMEWORKS}
    for order in alternating(args.rounds):
        for name in order:
            spec = {"kind": kind, "framework": name, "batch": batch, "threads": threads,
                    "warmup": args.warmup, "steps": args.steps}
            load, started = os.getloadavg()[0], time.time()
            result = harness.run_child([compare_py, "--child", json.dumps(spec)], os.path.dirname(compare_py))
            result |= {"framework": name, "load_average_before": load, "started": started}
            found[name].append(result)
            if "error" in result:
                print(f"  {kind} {name} batch {batch}: child failed: {result['error']}", file=sys.stderr)
    return found


def median(values):
    return statistics.median(values) if values else None


def summarize_steps(children):
    """{framework: medians over rounds (and min-max) of the step children's figures}."""
    summary = {}
    for name, results in children.items():
        ok = [r for r in results if "error" not in r]
        if not ok:
            continue
        per_round = [statistics.median(r["step_s"]) * 1e3 for r in ok]
        summary[name] = {"step_ms": median(per_round), "step_ms_min": min(per_round),
                         "step_ms_max": max(per_round), "rounds": len(ok)}
        for key in ("steps_added_MiB", "minor_faults_per_step", "major_faults_per_step", "system_s_per_step"):
            summary[name][key] = median([r[key] for r in ok])
    return summary


def summarize_layers(children):
    """{framework: {block: {forward_ms, backward_ms}}}: medians within each child, then over rounds."""
    summary = {}
    for name, results in children.items():
        ok = [r["blocks"] for r in results if "error" not in r]
        if ok:
            summary[name] = {block: {f"{d}_ms": median([statistics.median(r[block][f"{d}_s"]) * 1e3 for r in ok])
                                     for d in ("forward", "backward")} for block in ok[0]}
    return summary


def bench_threads(args, threads, compare_py, table):
    """Every section at one thread count; returns its record."""
    record = {"threads": threads, "load_average_start": os.getloadavg(), "steps": {}, "children": {}}
    for batch in args.batches:
        children = run_children(args, "step", batch, threads, compare_py)
        record["children"][f"step batch {batch}"] = children
        s = record["steps"][batch] = summarize_steps(children)
        add = lambda section, what, key, scale=1: table.add(  # noqa: E731
            section, what, *(s[n][key] * scale if n in s else None for n in FRAMEWORKS))
        add("step", f"train step, batch {batch} (ms)", "step_ms")
        add("memory", f"peak RSS added by steps, batch {batch} (MiB)", "steps_added_MiB")
        add("faults", f"page faults per steady step, batch {batch}", "minor_faults_per_step")
        add("faults", f"system CPU per step, batch {batch} (ms)", "system_s_per_step", 1e3)
    if "layers" not in args.skip:
        children = run_children(args, "layers", args.layer_batch, threads, compare_py)
        record["children"]["layers"] = children
        layers = record["layers"] = summarize_layers(children)
        for block in layers.get("minigan", {}):
            for direction in ("forward", "backward"):
                table.add(block.split()[0], f"{direction} (ms, one step's calls)",
                          *(layers.get(n, {}).get(block, {}).get(f"{direction}_ms") for n in FRAMEWORKS))
        sums = {n: sum(times[f"{d}_ms"] for times in blocks.values() for d in ("forward", "backward"))
                for n, blocks in layers.items()}
        table.add("layers", f"sum of the blocks, batch {args.layer_batch} (ms)", *map(sums.get, FRAMEWORKS))
    record["threads_set"] = {name: next((r["threads"] for r in results if "threads" in r), None)
                             for name, results in record["children"][f"step batch {args.batches[0]}"].items()}
    record["malloc"] = {name: next((r["malloc"] for r in results if "malloc" in r), None)
                        for name, results in record["children"][f"step batch {args.batches[0]}"].items()}
    record["load_average_end"] = os.getloadavg()
    return record


def write(folder, record, table, args):
    """compare.json, table.md and the plots into folder."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "compare.json"), "w") as f:
        json.dump(record, f, indent=1)
    blas = "; ".join(f"{p['internal_api']} {p['version']} ({p['library']}, {p['num_threads']} threads)"
                     for p in (record["threads_set"].get("minigan") or {}).get("blas", []))
    torch_pools = (record["threads_set"].get("torch") or {})
    with open(os.path.join(folder, "table.md"), "w") as f:
        f.write(f"{record['machine']}: {record['cpu']['Model name']}, {record['threads']} threads, float32, "
                f"DCGAN-32; {record['date']}; load average {record['load_average_start'][0]:.1f} at start, "
                f"{record['load_average_end'][0]:.1f} at end (on a {os.cpu_count()}-core machine). "
                f"numpy {record['versions']['numpy']}, numba {record['versions']['numba']}, torch "
                f"{record['versions']['torch']} ({torch_pools.get('torch')} threads). minigan's BLAS: {blas}.\n\n"
                f"Method: {record['method']}\n\nratio: minigan / torch (below 1: minigan faster, or smaller).\n\n"
                + table.markdown())
    plots(folder, record, args)


def plots(folder, record, args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    title = f"{record['cpu']['Model name']}, {record['threads']} threads"
    batches = [b for b in record["steps"] if record["steps"][b]]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    width = 0.38
    for i, name in enumerate(FRAMEWORKS):
        have = [b for b in batches if name in record["steps"][b]]
        xs = [batches.index(b) + (i - 0.5) * width for b in have]
        step = [record["steps"][b][name] for b in have]
        spread = [[s["step_ms"] - s["step_ms_min"] for s in step], [s["step_ms_max"] - s["step_ms"] for s in step]]
        axes[0].bar(xs, [s["step_ms"] for s in step], width, label=name, yerr=spread)
        axes[1].bar(xs, [s["steps_added_MiB"] for s in step], width, label=name)
    for ax, ylabel in zip(axes, ("ms per train step (median, min-max)", "peak RSS added by steps (MiB)")):
        ax.set_xticks(range(len(batches)), [f"batch {b}" for b in batches])
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", alpha=0.3)
        ax.legend()
    fig.suptitle(f"DCGAN-32 train step, each framework in its own process; {title}", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(folder, "steps.png"), dpi=120)
    plt.close(fig)
    layers = record.get("layers", {})
    if "minigan" not in layers:
        return
    blocks = list(layers["minigan"])
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(blocks) + 1.4))
    height = 0.4
    for i, name in enumerate(n for n in FRAMEWORKS if n in layers):
        ys = [j + (i - 0.5) * height for j in range(len(blocks))]
        forward = [layers[name][b]["forward_ms"] for b in blocks]
        backward = [layers[name][b]["backward_ms"] for b in blocks]
        ax.barh(ys, forward, height, label=f"{name} forward", color=f"C{i}", alpha=0.6)
        ax.barh(ys, backward, height, left=forward, label=f"{name} backward", color=f"C{i}")
    ax.set_yticks(range(len(blocks)), blocks, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"ms per train step at batch {args.layer_batch} (one step's calls of each block)")
    ax.set_title(f"DCGAN-32 layer blocks, each framework in its own process\n{title}", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(folder, "layers.png"), dpi=120)
    plt.close(fig)
