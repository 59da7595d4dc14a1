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

Layout: harness.py times and records (interleaving, medians, the table,
device sync, threads and machine, child processes); sections/ holds one
module per workload family; workloads.py builds the workloads of both
frameworks; this file parses the command line and runs the sections in turn.
"""
import argparse
import json
import os
import sys
import time

import harness
import workloads
from sections import gemm, graphs, memory, ops, steps

HERE = os.path.dirname(os.path.abspath(__file__))
BATCHES = (16, 32, 64, 128, 256)


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
    parser.add_argument("--graph-batches", type=int, nargs="+", default=list(graphs.GRAPH_BATCHES),
                        help="batch sizes of the GPU's eager-vs-CUDA-graph section (--backend cupy)")
    parser.add_argument("--graph-rounds", type=int, default=30,
                        help="timed rounds per workload of that section (one step each; median taken)")
    parser.add_argument("--memory-steps", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--memory-child", choices=("minigan", "torch", *graphs.GRAPH_MODES), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import numba
    threads = args.threads or numba.config.NUMBA_NUM_THREADS
    if args.memory_child:
        if args.backend == "cupy":
            return memory.gpu_memory_child(args.memory_child, args.batch, args.memory_steps)
        return memory.memory_child(args.memory_child, args.batch, args.memory_steps, threads)
    try:
        workloads.require_backend(args.backend)
    except RuntimeError as error:  # backend.BackendUnavailable: CuPy or the GPU is missing
        print(f"compare.py: --backend {args.backend} is not available here: {error}", file=sys.stderr)
        return 2
    fws, record, table = start(args, threads)
    samples = record["samples_s"]
    if "ops" not in args.skip:
        ops.bench_ops(fws, args.batch, args.rounds, table, samples)
    if "kernels" not in args.skip:
        print(f"  (kernel rows: the {args.backend} kernel against the plain-NumPy reference)")
        ops.bench_kernels(fws[0].xp, args.batch, args.rounds, table, samples)
    batches = args.batches if "sweep" not in args.skip else [args.batch]
    sweep = steps.bench_steps(fws, sorted(set(batches) | {args.batch}), args.rounds, table, samples,
                              args.batch)
    record["step_ms_by_batch"] = sweep
    per_step = {}
    if "breakdown" not in args.skip:
        per_step = record["minigan_breakdown_ms_per_step"] = steps.breakdown(fws[0], args.batch,
                                                                             max(3, args.rounds // 2))
    if args.backend == "cupy":
        if "gemm" not in args.skip:
            gemm.bench_gemm(fws[0], args.graph_batches, args.rounds, table, record)
        if "graphs" not in args.skip:
            graphs.bench_graph_modes(fws, args.graph_batches, args.graph_rounds, table, record)
        if "memory" not in args.skip:
            memory.bench_gpu_memory(fws, args.memory_steps, threads, record)
    elif "memory" not in args.skip:
        memory.bench_rss(fws, args.batch, args.memory_steps, threads, record)
    folder = write(args, record, table)
    if per_step or len(sweep) > 1:
        steps.plots(folder, sweep, per_step, f"{record['machine']}, {threads} threads")
    print(f"wrote {folder}/")
    return 0


def start(args, threads):
    """(the frameworks, the record of the machine and the run, the table), the header printed."""
    thread_record = harness.set_threads(threads)
    fws, torch_missing = workloads.frameworks(args.backend)
    if torch_missing is None and args.backend == "cupy" and not fws[1].torch.cuda.is_available():
        fws, torch_missing = fws[:1], "this PyTorch build has no CUDA"
    if torch_missing:
        print(f"compare.py: PyTorch left out: {torch_missing}", file=sys.stderr)
    machine = harness.machine_name(args.backend, threads)
    gpu = harness.gpu_info() if args.backend == "cupy" else None
    device = harness.cpu_model() if args.backend == "numpy" else gpu["name"]
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
    """compare.json and table.md into the machine's results folder; returns the folder."""
    folder = os.path.join(args.out, record["machine"])
    os.makedirs(folder, exist_ok=True)
    record["table"] = table.rows
    record["load_average_end"] = os.getloadavg()
    with open(os.path.join(folder, "compare.json"), "w") as f:
        json.dump(record, f, indent=1)
    with open(os.path.join(folder, "table.md"), "w") as f:
        f.write(f"{record['machine']}: {record['device']}, {record['threads']} threads, batch {args.batch}, "
                f"float32, median of {args.rounds} interleaved rounds; {record['date']}; load average "
                f"{record['load_average_start'][0]:.1f} at start, {record['load_average_end'][0]:.1f} at end "
                f"(on a {os.cpu_count()}-core machine)\n\n" + table.markdown())
        if record.get("graph_modes_ms"):
            f.write(f"\nGPU step, eager and CUDA graph ({record['gpu']['name']}; median of "
                    f"{args.graph_rounds} interleaved steps):\n\n" + graphs.graph_markdown(record["graph_modes_ms"]))
    return folder


if __name__ == "__main__":
    sys.exit(main())
