"""Peak GPU memory of the training steps, measured in a fresh process per graphs-section workload
(the allocators' peaks). On the CPU, own_process's step children measure the resident set."""
import json
import os

import harness
import workloads
from sections.graphs import GRAPH_MODES, GRAPH_WARMUP

COMPARE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "compare.py")


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
    fw = workloads.Minigan("cupy")
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
    fw = workloads.Torch("cupy")
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


def measure_memory(batch, steps, threads, names, backend="numpy"):
    """{name: what its child printed} of each framework or GPU workload, each in a fresh process."""
    return {name: harness.run_child([COMPARE, "--memory-child", name, "--backend", backend,
                                     "--batch", str(batch), "--memory-steps", str(steps),
                                     "--threads", str(threads)], cwd=os.path.dirname(COMPARE))
            for name in names}


def bench_gpu_memory(fws, steps, threads, record):
    """The GPU memory of each graphs-section workload at GPU_MEMORY_BATCH."""
    names = [name for name in GRAPH_MODES if name.split()[0] in {fw.name for fw in fws}]
    record["peak_gpu_memory_MiB"] = measure_memory(GPU_MEMORY_BATCH, steps, threads, names, "cupy")
    record["peak_gpu_memory_method"] = GPU_MEMORY_METHOD
    for name, mem in record["peak_gpu_memory_MiB"].items():
        print(f"  memory     {name}, batch {GPU_MEMORY_BATCH}: " + (
            ", ".join(f"{k.removesuffix('_MiB').replace('_', ' ')} {v:.0f} MiB" for k, v in mem.items())
            if "error" not in mem else f"failed: {mem['error']}"))
