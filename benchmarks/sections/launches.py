"""Launches per training step (issue 15's launch budget): the eager step's device launches,
counted on the emulated GPU by kernel and by the code that issued them, and on a real GPU the
nodes of the captured step's CUDA graph.

The eager count needs no GPU (g++ runs the CUDA sources: tests/support/launch_count.py); it is
the step's structure, the same at every batch and width. The graph count asks the CUDA driver
for the captured graph's nodes (cuGraphGetNodes): what one replay runs.
"""
import ctypes
import os
import sys
import tempfile
from collections import Counter

TESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tests")
LAUNCH_TARGET = 150  # issue 15: at most this many launches per eager D+G step


def eager_step_launches():
    """{total, target, by_kernel, by_site} of one eager DCGAN-32 D+G step on the emulated GPU,
    or {error} where it cannot be counted (no g++, say)."""
    if TESTS not in sys.path:
        sys.path.insert(0, TESTS)
    try:
        from support import launch_count
        with tempfile.TemporaryDirectory() as folder, launch_count.on_emulated_device(folder):
            counted = launch_count.count_eager_step(os.path.join(folder, "run"))
    except Exception as error:  # the emulator needs g++ and the test support code
        return {"error": f"{type(error).__name__}: {error}"}
    return {"total": counted.total, "target": LAUNCH_TARGET, "by_kernel": dict(counted.by_kernel.most_common()),
            "by_site": dict(counted.by_site.most_common()),
            "method": "emulated GPU (tests/support/launch_count.py): one launch per kernel, CuPy function, "
                      "ufunc, copy or fill of one eager step, cuBLAS products counted one each"}


def graph_nodes(graph):
    """{total, by_type} of the nodes of a captured cupy.cuda.Graph (kernels, memsets, copies),
    from the CUDA driver; {error} where the driver or the graph handle is not reachable."""
    try:
        driver = ctypes.CDLL("libcuda.so.1")
        handle = ctypes.c_void_p(graph.graph)
        count = ctypes.c_size_t(0)
        if driver.cuGraphGetNodes(handle, None, ctypes.byref(count)):
            return {"error": "cuGraphGetNodes failed"}
        nodes = (ctypes.c_void_p * count.value)()
        driver.cuGraphGetNodes(handle, nodes, ctypes.byref(count))
        kinds = Counter()
        names = {0: "kernel", 1: "memcpy", 2: "memset", 3: "host", 4: "graph", 5: "empty"}
        for node in nodes:
            kind = ctypes.c_int(-1)
            driver.cuGraphNodeGetType(ctypes.c_void_p(node), ctypes.byref(kind))
            kinds[names.get(kind.value, f"type {kind.value}")] += 1
    except (OSError, AttributeError) as error:
        return {"error": f"{type(error).__name__}: {error}"}
    return {"total": count.value, "by_type": dict(kinds)}


def launches_markdown(eager):
    """The eager count, against the target, and its breakdown by issuing code, as Markdown."""
    if "error" in eager:
        return f"Launches per eager step: not counted ({eager['error']})\n"
    met = "met" if eager["total"] <= eager["target"] else "not met"
    lines = [f"Launches per eager D+G DCGAN-32 step: **{eager['total']}** (target at most {eager['target']}: "
             f"{met})", "",
             "| launches | issued by |", "|---:|---|"]
    lines += [f"| {n} | {site} |" for site, n in eager["by_site"].items()]
    return "\n".join(lines) + "\n"
