"""A function's GPU work captured once as a CUDA graph, then replayed with one launch.

At DCGAN-32 sizes a training step is a few hundred small kernels, and the
time goes to launching them from Python, not to the arithmetic. Captured,
the whole step is one cudaGraphLaunch.

What capture asks of the captured function:
- Everything it does on the GPU is replayed exactly: the same kernels on the
  same memory with the same scalar arguments. So whatever changes from step
  to step must live in device memory: the input batch (copied into a static
  buffer before each replay), the noise generator's counter, Adam's step
  count (Adam(capturable=True)).
- No host<->device copies and no reads of device values (CUDA refuses them
  during capture), and no cuBLAS or cupy.random (CuPy refuses them): the
  convolutions' products use the own GEMM (using_config("matmul", "exact")).
- Every kernel compiled beforehand: run the function once eagerly first.

Python's cyclic garbage collector is run before the capture and held off
during it (as PyTorch does): a collection in the middle could free an older
graph's memory pool, and cudaFree is not allowed while a stream captures.

Arrays the function allocates come from a memory pool of this graph's own,
which nothing else allocates from, so the memory the graph writes on each
replay never belongs to anything else. The capture stream is a blocking
stream: it is ordered with the default stream's work (the batch copies
before a replay, the reads of the outputs after it) without explicit events.
"""
import contextlib
import gc


class CudaGraph:
    """fn's GPU work, captured on construction; replay() runs it again and returns fn's
    result, the same device arrays each time (copy what must outlive the next replay)."""

    def __init__(self, fn, cupy):
        self.stream = cupy.cuda.Stream()  # not non_blocking: see the module docstring
        self.pool = cupy.cuda.MemoryPool()
        with collector_held_off(), self.stream, cupy.cuda.using_allocator(self.pool.malloc):
            self.stream.begin_capture()
            try:
                self.outputs = fn()
            except BaseException:
                with contextlib.suppress(Exception):  # the capture is void; fn's error says why
                    self.stream.end_capture()
                raise
            self.graph = self.stream.end_capture()

    def replay(self):
        self.graph.launch(self.stream)
        return self.outputs


@contextlib.contextmanager
def collector_held_off():
    """Collect Python's cyclic garbage now, and none within the block."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
