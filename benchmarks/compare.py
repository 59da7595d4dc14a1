"""minigan against PyTorch: the DCGAN-32 training step, its layers, its memory and page faults.

    python benchmarks/compare.py --backend numpy      # CPU: each framework in its own process
    python benchmarks/compare.py --backend cupy       # GPU (CuPy) vs torch on CUDA

CPU (--backend numpy). Each framework is timed in its own fresh processes, never both in
one: the children alternate over --rounds (minigan, torch, then torch, minigan, ...), each
runs --warmup steps then --steps timed ones, and the figures are medians over rounds
(sections/own_process.py states the method in full, and the method note goes into every
output). For each --threads count (default 2, then 1; Numba, every BLAS pool through
threadpoolctl, and torch.set_num_threads alike): the train step at each of --batches
(default 64 and 256) with the peak RSS that the steps add and the page faults and system
CPU per steady-state step, then the layer blocks at --layer-batch (64), each doing one
step's calls with only the gradients the step needs. It records the CPU (lscpu), the BLAS
(name, version, threads), the versions and the load average before each child. Output per
thread count in benchmarks/results/cpu-<model>-<n>threads/: compare.json (every sample),
table.md, steps.png and layers.png. The defaults take about 10 minutes on a quiet 2-core
machine; --batches, --threads, --rounds, --steps and --skip layers make it shorter.

GPU (--backend cupy). The older scheme, not yet moved to own processes: both frameworks
in this one process on the same threads, each workload warmed up, then timed in rounds
that alternate the two frameworks; medians; the device synchronized before each clock
stops. Per-layer forward and backward rows (ops), a step sweep over --batches with
minigan's breakdown by layer (TimerHook), the "graph" section (--graph-batches, default
64 and 128: minigan's Trainer eager (cuBLAS) and as a CUDA graph (--matmul exact, tf32),
torch eager (cuDNN) and torch as one captured CUDA graph, interleaved; images/s and the
ratios issues 4 and 6 set targets for), the "gemm" section (each distinct matrix product
of the step on cuBLAS and on the own exact and TF32 kernels), and GPU memory at batch 128,
each workload in a fresh subprocess (see GPU_MEMORY_METHOD). A workload that fails is
recorded with its error. Output in benchmarks/results/gpu-<model>/.

Layout: harness.py times and records (medians, the table, device sync, threads and
machine, child processes); sections/ holds one module per workload family; workloads.py
builds the workloads of both frameworks; this file parses the command line and runs the
sections in turn.
"""
import argparse
import json
import os
import sys
import time

import harness
import workloads
from sections import gemm, graphs, memory, ops, own_process, steps

HERE = os.path.dirname(os.path.abspath(__file__))
GPU_BATCHES = (16, 32, 64, 128, 256)
CPU_BATCHES = (64, 256)
CPU_THREADS = (2, 1)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    parser.add_argument("--threads", type=int, nargs="+", default=None,
                        help="CPU threads for both frameworks, one run per count (default: 2 then 1 on "
                             "--backend numpy; Numba's default, the core count, on cupy, first count only)")
    parser.add_argument("--batches", type=int, nargs="+", default=None,
                        help=f"batch sizes of the step (default: {' '.join(map(str, CPU_BATCHES))} on the CPU, "
                             f"{' '.join(map(str, GPU_BATCHES))} on the GPU)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="CPU: child processes per framework and workload (default 4); GPU: timed "
                             "rounds per workload (default 7); medians taken")
    parser.add_argument("--steps", type=int, default=4, help="CPU: timed steps per child (its median taken)")
    parser.add_argument("--warmup", type=int, default=2, help="CPU: untimed steps per child before those")
    parser.add_argument("--layer-batch", type=int, default=64, help="CPU: batch of the layer rows")
    parser.add_argument("--batch", type=int, default=64, help="GPU: batch of the per-op table and breakdown")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=("layers", "ops", "sweep", "breakdown", "gemm", "graphs", "memory"),
                        help="sections to leave out (CPU: layers; GPU: the others)")
    parser.add_argument("--graph-batches", type=int, nargs="+", default=list(graphs.GRAPH_BATCHES),
                        help="batch sizes of the GPU's eager-vs-CUDA-graph section (--backend cupy)")
    parser.add_argument("--graph-rounds", type=int, default=30,
                        help="timed rounds per workload of that section (one step each; median taken)")
    parser.add_argument("--memory-steps", type=int, default=5, help="GPU: steps of the memory children")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", choices=graphs.GRAPH_MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cpu = args.backend == "numpy"
    args.batches = args.batches or list(CPU_BATCHES if cpu else GPU_BATCHES)
    args.rounds = args.rounds or (4 if cpu else 7)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        return own_process.child(args.child)
    if args.memory_child:
        return memory.gpu_memory_child(args.memory_child, args.batch, args.memory_steps)
    try:
        workloads.require_backend(args.backend)
    except RuntimeError as error:  # backend.BackendUnavailable: CuPy or the GPU is missing
        print(f"compare.py: --backend {args.backend} is not available here: {error}", file=sys.stderr)
        return 2
    return compare_cpu(args) if args.backend == "numpy" else compare_gpu(args)


def compare_cpu(args):
    """Each --threads count in turn, each framework in its own processes; one results folder per count."""
    if harness.import_torch() is None:
        print(f"compare.py: PyTorch left out: {workloads.TORCH_MISSING}", file=sys.stderr)
    cpu, versions = harness.cpu_record(), harness.versions()
    for threads in args.threads or CPU_THREADS:
        machine = harness.machine_name("numpy", threads)
        print(f"{machine}: {cpu['Model name']}, {threads} threads, batches {args.batches}, {args.rounds} rounds "
              f"of own-process children, load average {os.getloadavg()[0]:.2f}")
        table = harness.Table("torch")
        table.print_header()
        record = {"machine": machine, "cpu": cpu, "backend": "numpy", "versions": versions,
                  "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "method": own_process.method(args),
                  "args": {k: v for k, v in vars(args).items() if k not in ("child", "memory_child")}}
        record |= own_process.bench_threads(args, threads, os.path.abspath(__file__), table)
        record["table"] = table.rows
        folder = os.path.join(args.out, machine)
        own_process.write(folder, record, table, args)
        print(f"wrote {folder}/")
    return 0


def compare_gpu(args):
    import numba
    threads = (args.threads or [numba.config.NUMBA_NUM_THREADS])[0]
    fws, record, table = start(args, threads)
    samples = record["samples_s"]
    if "ops" not in args.skip:
        ops.bench_ops(fws, args.batch, args.rounds, table, samples)
    batches = args.batches if "sweep" not in args.skip else [args.batch]
    sweep = steps.bench_steps(fws, sorted(set(batches) | {args.batch}), args.rounds, table, samples,
                              args.batch)
    record["step_ms_by_batch"] = sweep
    per_step = {}
    if "breakdown" not in args.skip:
        per_step = record["minigan_breakdown_ms_per_step"] = steps.breakdown(fws[0], args.batch,
                                                                             max(3, args.rounds // 2))
    if "gemm" not in args.skip:
        gemm.bench_gemm(fws[0], args.graph_batches, args.rounds, table, record)
    if "graphs" not in args.skip:
        graphs.bench_graph_modes(fws, args.graph_batches, args.graph_rounds, table, record)
    if "memory" not in args.skip:
        memory.bench_gpu_memory(fws, args.memory_steps, threads, record)
    folder = write(args, record, table)
    if per_step or len(sweep) > 1:
        steps.plots(folder, sweep, per_step, f"{record['machine']}, {threads} threads")
    print(f"wrote {folder}/")
    return 0


def start(args, threads):
    """The GPU run's (frameworks, record of the machine and the run, table), the header printed."""
    thread_record = harness.set_threads(threads)
    fws, torch_missing = workloads.frameworks(args.backend)
    if torch_missing is None and not fws[1].torch.cuda.is_available():
        fws, torch_missing = fws[:1], "this PyTorch build has no CUDA"
    if torch_missing:
        print(f"compare.py: PyTorch left out: {torch_missing}", file=sys.stderr)
    machine = harness.machine_name(args.backend, threads)
    gpu = harness.gpu_info()
    device = gpu["name"]
    print(f"{machine}: {device}, {threads} threads, backend {args.backend}, batch {args.batch}, "
          f"{args.rounds} rounds, load average {os.getloadavg()[0]:.2f}")
    record = {"machine": machine, "device": device, "backend": args.backend, "threads": threads,
              "thread_pools": thread_record, "versions": harness.versions(), "batch": args.batch,
              "rounds": args.rounds, "torch_missing": torch_missing, "gpu": gpu,
              "load_average_start": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
              "samples_s": {}}
    table = harness.Table(fws[1].name if len(fws) > 1 else "torch")
    table.print_header()
    return fws, record, table


def write(args, record, table):
    """The GPU run's compare.json and table.md into the machine's results folder; returns the folder."""
    folder = os.path.join(args.out, record["machine"])
    os.makedirs(folder, exist_ok=True)
    record["table"] = table.rows
    record["load_average_end"] = os.getloadavg()
    with open(os.path.join(folder, "compare.json"), "w") as f:
        json.dump(record, f, indent=1)
    with open(os.path.join(folder, "table.md"), "w") as f:
        f.write(f"{record['machine']}: {record['device']}, {record['threads']} threads, batch {args.batch}, "
                f"float32, times in ms, median of {args.rounds} rounds interleaving both frameworks in one "
                f"process; {record['date']}; load average "
                f"{record['load_average_start'][0]:.1f} at start, {record['load_average_end'][0]:.1f} at end "
                f"(on a {os.cpu_count()}-core machine)\n\n" + table.markdown())
        if record.get("graph_modes_ms"):
            f.write(f"\nGPU step, eager and CUDA graph ({record['gpu']['name']}; median of "
                    f"{args.graph_rounds} interleaved steps):\n\n" + graphs.graph_markdown(record["graph_modes_ms"]))
    return folder


if __name__ == "__main__":
    sys.exit(main())
