"""The training step as one CUDA graph (--cuda-graph): captured once, then replayed per batch.

What capture asks of the step, and why, is in minigan/cuda_graph.py; here is
the part that is the trainer's: the batch must come through a static buffer
that the graph reads, and the step must have run once before it is captured.
"""
from ..autograd import Tensor
from ..cuda_graph import CudaGraph


class GraphedStep:
    """step(real) replayed as a CUDA graph. The first call runs step eagerly (compiling every
    kernel) and keeps its batch as the static input buffer; the second captures step on that
    buffer; from then on a call copies its batch into the buffer and replays the graph."""

    def __init__(self, step, cupy):
        self.step, self.cupy = step, cupy
        self.static_real, self.graph = None, None

    def __call__(self, real):
        if self.static_real is None:
            self.static_real = real.data
            return self.step(real)
        self.static_real[...] = real.data
        if self.graph is None:
            # The first call was the warm-up: every kernel of the step is compiled and loaded.
            self.graph = CudaGraph(lambda: self.step(Tensor(self.static_real)), self.cupy, warm_up=False)
        return self.graph.replay().copy()  # the graph's outputs are overwritten by the next replay
