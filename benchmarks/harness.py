"""The benchmark harness: how workloads are timed and recorded, whatever they run.

- interleaved() times callables in rounds that alternate them (the first one
  alternates too), so background load hits all alike; ms() takes the median.
- sync() waits for a device before a clock stops.
- Table keeps the (what, minigan, other, ratio) rows, prints them as
  they come and renders them as Markdown.
- set_threads() gives every framework the same CPU threads; cpu_model(),
  cpu_record(), machine_name(), versions() and gpu_info() record the machine.
- run_child() runs a command in a fresh Python process and reads the JSON it
  prints last, for measurements that must not share a process.
"""
import json
import os
import platform
import re
import subprocess
import sys
import time

import numpy

import minigan
from minigan import backend


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


def sync(xp):
    """Wait for the device of array module xp (nothing to wait for on NumPy)."""
    if xp is not numpy:
        xp.cuda.Device().synchronize()


class Table:
    """Rows of (section, what, minigan figure, other figure, ratio), printed and kept for JSON and
    Markdown; a row names its unit in `what` where it is not ms."""

    def __init__(self, other):
        self.other, self.rows = other, []

    def print_header(self):
        print(f"  {'section':10s} {'what':44s} {'minigan':>10s} {self.other:>10s} {'ratio':>7s}")

    def add(self, section, what, mine, theirs):
        """A row; either figure may be None (a framework left out or failed)."""
        ratio = mine / theirs if mine is not None and theirs else None
        self.rows.append({"section": section, "what": what, "minigan": mine, self.other: theirs, "ratio": ratio})
        print(f"  {section:10s} {what:44s} {_figure(mine, 10)} {_figure(theirs, 10)} "
              + (f"{ratio:6.2f}x" if ratio is not None else "      -"), flush=True)

    def markdown(self):
        lines = [f"| section | what | minigan | {self.other} | ratio |", "|---|---|---:|---:|---:|"]
        for row in self.rows:
            lines.append(f"| {row['section']} | {row['what']} | {_figure(row['minigan'])} | "
                         f"{_figure(row[self.other])} | "
                         + (f"{row['ratio']:.2f}x |" if row["ratio"] is not None else "- |"))
        return "\n".join(lines) + "\n"


def _figure(value, width=0):
    return f"{value:{width}.2f}" if value is not None else f"{'-':>{width}s}"


# --- separate processes --------------------------------------------------------------
def run_child(argv, cwd, timeout=600):
    """The JSON object that `python argv...` prints on its last line, run in a fresh process;
    {"error": [reason]} if it fails or runs past timeout seconds."""
    try:
        proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=cwd,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": [f"timed out after {timeout} s"]}
    if proc.returncode:
        return {"error": proc.stderr.strip().splitlines()[-3:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def status_kib(field):
    """A field of /proc/self/status in KiB (VmRSS, VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak_rss():
    """Set VmHWM to the current RSS. Linux keeps ru_maxrss across fork+exec (a child starts
    with its parent's high-water mark), so peaks are read from VmHWM, reset here."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


# --- the machine ---------------------------------------------------------------------
def import_torch():
    """torch, or None where it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def set_threads(n, torch=True):
    """Give minigan (Numba, the BLAS under NumPy) and PyTorch (unless torch=False: not imported)
    the same n CPU threads. Returns what was set, for the record: Numba's threads and layer,
    every BLAS/OpenMP pool that threadpoolctl finds (name, version, threads), torch's threads.
    """
    import numba

    import minigan.kernels.table  # noqa: F401  (picks Numba's threading layer before the first launch)
    torch = import_torch() if torch else None  # loaded first, so threadpoolctl sees its pools too
    numba.set_num_threads(n)
    done = {"numba": numba.get_num_threads(), "numba_threading_layer": numba.threading_layer()}
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        raise ImportError("threadpoolctl is needed to set and record the BLAS threads: "
                          "pip install threadpoolctl (or the bench extra)") from None
    threadpool_limits(n)  # every BLAS/OpenMP pool in the process, torch's included
    keys = ("internal_api", "version", "num_threads", "threading_layer", "architecture")
    done["blas"] = [{key: pool.get(key) for key in keys} | {"library": os.path.basename(pool["filepath"])}
                    for pool in threadpool_info()]
    if torch is not None:
        torch.set_num_threads(n)
        done["torch"] = torch.get_num_threads()
    return done


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_record():
    """The CPU as lscpu describes it (model, family/model/stepping, cores, caches, hypervisor),
    or /proc/cpuinfo's first model name where lscpu is missing."""
    fields = ("Model name", "Vendor ID", "CPU family", "Model", "Stepping", "CPU(s)", "Thread(s) per core",
              "Core(s) per socket", "Socket(s)", "L1d cache", "L2 cache", "L3 cache", "Hypervisor vendor",
              "CPU max MHz")
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    found = {}
    for line in out.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in fields:
            found.setdefault(key.strip(), value.strip())
    found.setdefault("Model name", cpu_model())
    found["avx512"] = "avx512f" in open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else None
    return found


def slug(text):
    text = re.sub(r"\((r|tm)\)|\bcpu\b|\bprocessor\b|@.*", " ", text.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def machine_name(backend_name, threads):
    """A hostname-free name for the results folder: cpu-<model>-<n>threads or gpu-<model>."""
    if backend_name == "cupy":
        import cupy
        return "gpu-" + slug(cupy.cuda.runtime.getDeviceProperties(0)["name"].decode())
    return f"cpu-{slug(cpu_model())}-{threads}threads"


def versions():
    import numba
    v = {"python": platform.python_version(), "numpy": numpy.__version__,
         "numba": numba.__version__, "minigan": getattr(minigan, "__version__", "0.1.0")}
    torch = import_torch()
    v["torch"] = torch.__version__ if torch is not None else None
    if backend.cupy is not None:
        v["cupy"] = backend.cupy.__version__
    return v


def gpu_info():
    """The GPU, and the CUDA stack under CuPy and PyTorch, for the record."""
    import cupy
    runtime = cupy.cuda.runtime
    props = runtime.getDeviceProperties(0)
    name = props["name"]
    info = {"name": name.decode() if isinstance(name, bytes) else name,
            "compute_capability": f"{props['major']}.{props['minor']}",
            "memory_GiB": round(props["totalGlobalMem"] / 2**30, 1),
            "cuda_runtime": _cuda_version(runtime.runtimeGetVersion()),
            "cuda_driver_api": _cuda_version(runtime.driverGetVersion()),
            "nvidia_driver": _nvidia_driver(), "cupy": cupy.__version__}
    torch = import_torch()
    if torch is not None:
        info["torch"] = torch.__version__
        info["torch_cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version() if torch.cuda.is_available() else None
    return info


def _cuda_version(number):
    """CUDA's version integer (12040) as its release name (12.4)."""
    return f"{number // 1000}.{number % 1000 // 10}"


def _nvidia_driver():
    """The kernel driver's version as nvidia-smi reports it, or None where that fails."""
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else None
