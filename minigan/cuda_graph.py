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
  during capture), and no cupy.random. cuBLAS only through minigan's own
  call (kernels/gemm.py, engine "cublas"): CuPy's products re-bind the
  cuBLAS handle to the current stream on every call, and refuse to while it
  captures, so CudaGraph binds the handle to its stream before the capture
  and kernels/gemm.py calls cuBLAS on it as bound. (Not yet run on a GPU:
  --cuda-graph defaults to the own exact GEMM, see training/config.py.)
- Every kernel compiled and loaded beforehand: CudaGraph runs the function
  once eagerly first (warm_up), unless the caller has just done so. Drivers
  older than CUDA 12.3 fail a capture that loads a module lazily
  (CUDA_MODULE_LOADING=LAZY, the default).

Python's cyclic garbage collector is run before the capture and held off
during it (as PyTorch does): a collection in the middle could free an older
graph's memory pool, and cudaFree is not allowed while a stream captures.

Arrays the function allocates come from a memory pool of this graph's own,
which nothing else allocates from, so the memory the graph writes on each
replay never belongs to anything else.

The capture stream is non-blocking, so it is ordered with the caller's work
by events only, never through the legacy default stream (which
CUPY_CUDA_PER_THREAD_DEFAULT_STREAM=1 replaces with a per-thread stream that
orders nothing): each replay waits for what the caller's current stream has
queued (the batch copied into place), and the caller's stream waits for the
replay before it reads the outputs.
"""
import contextlib
import gc


class CudaGraph:
    """fn's GPU work, captured on construction; replay() runs it again and returns fn's
    result, the same device arrays each time (copy what must outlive the next replay).

    warm_up: run fn once eagerly before the capture (its effects happen then, once more
    than the replays); pass False only when fn has just run eagerly in this process.
    """

    def __init__(self, fn, cupy, warm_up=True):
        self.cupy = cupy
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.pool = cupy.cuda.MemoryPool()
        if warm_up:
            fn()
        caller = cupy.cuda.get_current_stream()
        self.stream.wait_event(caller.record())  # the warm-up and fn's inputs come first
        with collector_held_off(), self.stream, cupy.cuda.using_allocator(self.pool.malloc), \
                cublas_bound_to(cupy, self.stream):
            self.stream.begin_capture()
            try:
                self.outputs = fn()
            except BaseException:
                with contextlib.suppress(Exception):  # the capture is void; fn's error says why
                    self.stream.end_capture()
                raise
            self.graph = self.stream.end_capture()

    def replay(self):
        caller = self.cupy.cuda.get_current_stream()
        self.stream.wait_event(caller.record())  # the inputs the caller has put in place
        self.graph.launch(self.stream)
        caller.wait_event(self.stream.record())  # the caller's next work reads the outputs
        return self.outputs


@contextlib.contextmanager
def cublas_bound_to(cupy, stream):
    """The current device's cuBLAS handle bound to stream within the block (CuPy refuses to
    bind it once the stream captures), then back to the stream it had."""
    cublas, handle = cupy.cuda.cublas, cupy.cuda.get_cublas_handle()
    previous = cublas.getStream(handle)
    cublas.setStream(handle, stream.ptr)
    try:
        yield
    finally:
        cublas.setStream(handle, previous)


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
