"""The one-shot GPU check (issue 15): everything that must be proven on a real GPU, in one call.

    python benchmarks/gpu_check.py [--out DIR] [--batches 64 128] [--rounds 20]

Sized for one H100/H200 from a bare machine with CuPy and PyTorch installed:
under 8 minutes, each part under its own time limit. It installs nothing; it
says what is missing. In order:

1. the machine: GPU, driver, CUDA, CuPy, torch and nvcc versions;
2. the GPU tests on real CuPy (`pytest -m gpu` over tests/ops/test_op_device.py,
   tests/kernels and tests/training/test_cuda_graph.py), with
   CUDA_MODULE_LOADING=EAGER;
3. launches per step: the eager step's, counted on the emulated GPU
   (sections/launches.py), and the nodes of each captured graph step;
4. each distinct product of the DCGAN-32 step (recorded from kernels.matmul) on
   every engine, split-K on and off: the largest error against a float64
   product, relative to |a| @ |b|, and the median time;
5. the training step at each batch: minigan eager (cuBLAS), --cuda-graph with the
   exact, TF32 and cuBLAS engines, torch eager and torch CUDA graphs, each
   framework in a process of its own, with its peak GPU memory;
6. one JSON record and one Markdown summary, under $OUT when that is set (the
   device runner's folder), else benchmarks/results/<gpu>/.

A part that fails is recorded with its error and the others go on.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

GPU_TESTS = ("tests/ops/test_op_device.py", "tests/kernels", "tests/training/test_cuda_graph.py")
MINIGAN_MODES = {"minigan eager": dict(), "minigan graph exact": dict(cuda_graph=True, matmul="exact"),
                 "minigan graph tf32": dict(cuda_graph=True, matmul="tf32"),
                 "minigan graph cublas": dict(cuda_graph=True, matmul="cublas")}
TORCH_MODES = ("torch eager", "torch graph")
WARMUP = 3  # steps before timing: minigan's graph modes capture on their second
NO_GPU = 2  # exit status where CuPy or a GPU is missing


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None, help="folder for gpu_check.json and gpu_check.md "
                        "(default: $OUT, else benchmarks/results/<gpu>)")
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds per workload (median taken)")
    parser.add_argument("--skip", nargs="*", default=[], choices=("tests", "launches", "gemm", "steps"))
    parser.add_argument("--tests-timeout", type=int, default=180, help="seconds for the GPU tests")
    parser.add_argument("--child", choices=("minigan", "torch", "gemm"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if any(b < 1 for b in args.batches) or args.rounds < 1:
        parser.error(f"batches and rounds must be positive, got {args.batches} and {args.rounds}")
    return args


# --- 1. the machine --------------------------------------------------------------------
def environment():
    """What is installed: {cupy, torch, nvcc} versions or None, and why a GPU run cannot go on
    ("missing"), if it cannot."""
    found, missing = {}, []
    try:
        import cupy
        found["cupy"] = cupy.__version__
        cupy.cuda.runtime.getDeviceCount()
    except ImportError:
        found["cupy"] = None
        missing.append("CuPy is not installed: pip install -e .[cuda12] (or .[cuda13] for a CUDA 13 driver)")
    except Exception as error:  # CuPy's CUDARuntimeError: no driver or no device
        missing.append(f"CuPy finds no GPU: {error}")
    try:
        import torch
        found["torch"] = torch.__version__
        found["torch_cuda"] = torch.cuda.is_available()
    except ImportError:
        found["torch"] = None
    nvcc = shutil.which("nvcc")
    found["nvcc"] = subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout.strip().splitlines()[-1] \
        if nvcc else None
    return found, missing


def no_gpu_message(missing):
    return ("gpu_check.py needs an NVIDIA GPU with CuPy: " + "; ".join(missing) +
            ". Nothing was measured. (torch is optional: without it the torch rows are left out.)")


# --- 2. the GPU tests --------------------------------------------------------------------
def run_gpu_tests(timeout):
    """pytest -m gpu over GPU_TESTS in a fresh process: {returncode, summary, tail}."""
    env = dict(os.environ, CUDA_MODULE_LOADING="EAGER")  # no lazy module load inside a capture
    command = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-n", "0", "-p", "no:cacheprovider",
               "-o", "addopts=", *GPU_TESTS]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        output = (expired.stdout or b"").decode(errors="replace") if isinstance(expired.stdout, bytes) \
            else (expired.stdout or "")
        return {"returncode": None, "summary": f"timed out after {timeout} s", "tail": output[-3000:]}
    lines = done.stdout.strip().splitlines()
    summary = next((line for line in reversed(lines) if re.search(r"\d+ (passed|failed|error)", line)), "")
    return {"returncode": done.returncode, "summary": summary.strip("= "), "seconds": time.perf_counter() - started,
            "tail": "\n".join(lines[-40:]) + done.stderr[-2000:]}


# --- 4. the GEMM engines -----------------------------------------------------------------
def gemm_child(batches, rounds):
    """Each distinct product of the DCGAN-32 step at each batch, on every engine: worst error
    relative to |a| @ |b| (float64 on the GPU) and median ms."""
    import numpy

    import workloads
    from harness import interleaved, ms
    from minigan.kernels import gemm as family
    from sections.gemm import operand, step_products

    mg = workloads.Minigan("cupy")
    xp, rng, results = mg.xp, numpy.random.default_rng(0), {}
    split_k = family.SPLIT_K_MAX_SLICES

    def engine(name):
        def run(a, b):
            if name == "cublas":
                return a @ b
            family.SPLIT_K_MAX_SLICES = 1 if name.endswith("no split") else split_k
            try:
                return family.matmul_cuda(a, b, name.split()[0])
            finally:
                family.SPLIT_K_MAX_SLICES = split_k
        return run
    engines = {name: engine(name) for name in ("cublas", "exact", "exact no split", "tf32", "tf32 no split")}
    for batch in batches:
        for (a_shape, b_shape, a_t, b_t), calls in step_products(mg, batch).items():
            a, b = operand(xp, rng, a_shape, a_t), operand(xp, rng, b_shape, b_t)
            a64, b64 = a.astype(numpy.float64), b.astype(numpy.float64)
            scale = xp.abs(a64) @ xp.abs(b64)
            reference = a64 @ b64
            row = {"calls": calls, "slices": family.k_slices(a_shape[0], b_shape[1], a_shape[1])[0], "error": {}}
            for name, run in engines.items():
                error = xp.abs(run(a, b).astype(numpy.float64) - reference) / xp.maximum(scale, 1e-30)
                row["error"][name] = float(error.max())
            samples = interleaved({name: (lambda r=run: (r(a, b), mg.sync())) for name, r in engines.items()}, rounds)
            row["ms"] = {name: ms(s) for name, s in samples.items()}
            results[f"b{batch} {a_shape}{'T' if a_t else ''} @ {b_shape}{'T' if b_t else ''}"] = row
    return results


# --- 5. the training step, one framework per process ------------------------------------------
def steps_child(framework, batches, rounds):
    """{batch: {mode: {ms, peak_MiB, graph_nodes} or {error}}} of one framework's modes."""
    import workloads
    from harness import interleaved, ms

    out = {}
    for batch in batches:
        steps, results = {}, {}
        if framework == "minigan":
            import cupy

            from sections.launches import graph_nodes
            fw = workloads.Minigan("cupy")
            for mode, options in MINIGAN_MODES.items():
                try:
                    step = fw.trainer_step(batch, **options)
                    for _ in range(WARMUP):
                        step()
                    steps[mode] = step
                    graph = step.trainer.graph
                    # the CudaGraph's cupy.cuda.Graph: what one replay runs
                    results[mode] = {"graph_nodes": graph_nodes(graph.graph) if graph is not None else None}
                except Exception as error:  # first runs on a GPU: keep the other modes
                    results[mode] = {"error": f"{type(error).__name__}: {error}"}
            pool = cupy.get_default_memory_pool()
            peak = {"held by CuPy's default pool after all modes (MiB)": pool.total_bytes() / 2**20}
        else:
            fw = workloads.Torch("cupy")
            fw.torch.cuda.reset_peak_memory_stats()
            for mode, make in (("torch eager", lambda: fw.step(batch)),
                               ("torch graph", lambda: fw.graph_step(batch, warmup=WARMUP))):
                try:
                    step = make()
                    for _ in range(WARMUP):
                        step()
                    steps[mode], results[mode] = step, {}
                except Exception as error:
                    results[mode] = {"error": f"{type(error).__name__}: {error}"}
            peak = {"all modes, max allocated (MiB)": fw.torch.cuda.max_memory_allocated() / 2**20}
        for mode, samples in interleaved(steps, rounds, warmup=0).items():
            results[mode]["ms"] = ms(samples)
        out[batch] = {"modes": results, "memory": peak}
        del steps
    return out


# --- 6. the summary ----------------------------------------------------------------------
def summary_markdown(record):
    """The record as Markdown: machine, tests, launches, GEMM table, step table."""
    lines = [f"# GPU check, {record['date']}", ""]
    gpu = record.get("gpu") or {}
    lines.append(f"Device: {gpu.get('name', 'none')}; " + ", ".join(f"{k} {v}" for k, v in record["environment"].items()))
    if record.get("no_gpu"):
        return "\n".join(lines + ["", record["no_gpu"], ""])
    tests = record.get("tests")
    if tests:
        lines += ["", f"GPU tests (pytest -m gpu): {tests['summary'] or 'no summary'} (exit {tests['returncode']})"]
    launches = record.get("launches")
    if launches:
        from sections.launches import launches_markdown
        lines += ["", launches_markdown(launches["eager"])]
    gemm = record.get("gemm")
    if isinstance(gemm, dict) and "error" not in gemm:
        engines = list(next(iter(gemm.values()))["ms"]) if gemm else []
        lines += ["", "| product | slices | " + " | ".join(f"{e} ms (max rel. error)" for e in engines) + " |",
                  "|---|---:|" + "---:|" * len(engines)]
        for what, row in gemm.items():
            lines.append(f"| {what} x{row['calls']} | {row['slices']} | " +
                         " | ".join(f"{row['ms'][e]:.3f} ({row['error'][e]:.1e})" for e in engines) + " |")
    elif gemm:
        lines += ["", f"GEMM: failed: {gemm['error']}"]
    for framework, by_batch in (record.get("steps") or {}).items():
        if "error" in by_batch:
            lines += ["", f"{framework} steps: failed: {by_batch['error']}"]
            continue
        lines += ["", f"| {framework} | " + " | ".join(f"batch {b}" for b in by_batch) + " |",
                  "|---|" + "---:|" * len(by_batch)]
        modes = {m for b in by_batch.values() for m in b["modes"]}
        for mode in sorted(modes):
            cells = []
            for b, result in by_batch.items():
                r = result["modes"].get(mode, {})
                cell = f"{r['ms']:.2f} ms ({int(b) / r['ms'] * 1e3:.0f} img/s)" if "ms" in r else \
                    f"failed: {r.get('error', '?')[:80]}"
                nodes = r.get("graph_nodes")
                if isinstance(nodes, dict) and "total" in nodes:
                    cell += f", {nodes['total']} graph nodes"
                cells.append(cell)
            lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def results_folder(args, gpu_name):
    if args.out:
        return args.out
    if os.environ.get("OUT"):
        return os.environ["OUT"]
    from harness import slug
    return os.path.join(HERE, "results", "gpu-" + slug(gpu_name or "none"))


def write_summary(record, folder):
    """gpu_check.json and gpu_check.md into folder, each written atomically; returns their paths."""
    from minigan.training.atomic import write_text
    os.makedirs(folder, exist_ok=True)
    paths = os.path.join(folder, "gpu_check.json"), os.path.join(folder, "gpu_check.md")
    write_text(paths[0], json.dumps(record, indent=1, default=str))
    write_text(paths[1], summary_markdown(record))
    return paths


def child_argv(kind, args):
    return [os.path.abspath(__file__), "--child", kind, "--batches", *map(str, args.batches),
            "--rounds", str(args.rounds)]


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        result = {"gemm": lambda: gemm_child(args.batches, args.rounds),
                  "minigan": lambda: steps_child("minigan", args.batches, args.rounds),
                  "torch": lambda: steps_child("torch", args.batches, args.rounds)}[args.child]()
        print(json.dumps(result, default=str))
        return 0
    started = time.perf_counter()
    found, missing = environment()
    record = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "environment": found}
    if missing:
        record["no_gpu"] = no_gpu_message(missing)
        print(record["no_gpu"], file=sys.stderr)
        paths = write_summary(record, results_folder(args, None))
        print(f"wrote {paths[0]}")
        return NO_GPU
    import harness
    from sections import launches
    record["gpu"] = harness.gpu_info()
    print(f"gpu_check: {record['gpu']}", flush=True)
    if "tests" not in args.skip:
        record["tests"] = run_gpu_tests(args.tests_timeout)
        print(f"  tests: {record['tests']['summary']}", flush=True)
    if "launches" not in args.skip:
        record["launches"] = {"eager": launches.eager_step_launches()}
        print(f"  launches per eager step: {record['launches']['eager'].get('total')}", flush=True)
    if "gemm" not in args.skip:
        record["gemm"] = harness.run_child(child_argv("gemm", args), ROOT, timeout=90)
    if "steps" not in args.skip:
        record["steps"] = {fw: harness.run_child(child_argv(fw, args), ROOT, timeout=90)
                           for fw in ("minigan", "torch")}
    record["seconds"] = time.perf_counter() - started
    paths = write_summary(record, results_folder(args, record["gpu"]["name"]))
    print(summary_markdown(record))
    print(f"wrote {paths[0]} and {paths[1]} in {record['seconds']:.0f} s")
    return 0 if not record.get("tests") or record["tests"]["returncode"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
