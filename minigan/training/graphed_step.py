"""The training step as one CUDA graph (--cuda-graph): captured once, then replayed per batch.

What capture asks of the step, and why, is in minigan/cuda_graph.py; here is
the part that is the trainer's: the batches must come through static buffers
that the graph reads, and the step must have run once before it is captured.
"""
from ..autograd import Tensor
from ..cuda_graph import CudaGraph


class GraphedStep:
    """step(*reals) replayed as a CUDA graph, reals being the step's batches (one per D update,
    --n-critic). The first call runs step eagerly (compiling every kernel) and keeps its batches
    as the static input buffers; the second captures step on those buffers; from then on a call
    copies its batches into the buffers and replays the graph."""

    def __init__(self, step, cupy):
        self.step, self.cupy = step, cupy
        self.static_reals, self.graph = None, None

    def __call__(self, *reals):
        if self.static_reals is None:
            self.static_reals = [real.data for real in reals]
            return self.step(*reals)
        for buffer, real in zip(self.static_reals, reals, strict=True):
            buffer[...] = real.data
        if self.graph is None:
            # The first call was the warm-up: every kernel of the step is compiled and loaded.
            self.graph = CudaGraph(lambda: self.step(*map(Tensor, self.static_reals)), self.cupy, warm_up=False)
        return self.graph.replay().copy()  # the graph's outputs are overwritten by the next replay
