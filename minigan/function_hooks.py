"""Function hooks that come with minigan (as chainer.function_hooks): TimerHook."""
import time
from collections import defaultdict

from .autograd import FunctionHook


class TimerHook(FunctionHook):
    """Seconds spent in Functions' forward and backward, summed per label and direction.

        with TimerHook() as timer:
            model(x).backward()
        timer.seconds  # {("Conv2d", "forward"): 0.012, ("Conv2d", "backward"): 0.020, ...}

    label(function) names a row (default: the Function's class name); it is asked after the
    call, when function.inputs holds the inputs of a recorded call. A GPU runs its kernels
    after the call that launched them returns: pass synchronize (on CuPy,
    cupy.cuda.Device().synchronize) to wait for the device before each clock read, or a
    call's time lands on whichever later call waits.
    """

    def __init__(self, synchronize=None, label=None):
        self.synchronize = synchronize or (lambda: None)
        self.label = label or (lambda function: type(function).__name__)
        self.seconds = defaultdict(float)  # {(label, "forward" or "backward"): seconds}
        self.calls = defaultdict(int)  # {(label, direction): how many calls those seconds sum}
        self._started = {}  # {(id(function), direction): clock at its start}

    def _start(self, function, direction):
        self.synchronize()
        self._started[id(function), direction] = time.perf_counter()

    def _stop(self, function, direction):
        self.synchronize()
        elapsed = time.perf_counter() - self._started.pop((id(function), direction))
        key = (self.label(function), direction)
        self.seconds[key] += elapsed
        self.calls[key] += 1

    def forward_preprocess(self, function, arrays):
        self._start(function, "forward")

    def forward_postprocess(self, function, arrays):
        self._stop(function, "forward")

    def backward_preprocess(self, function, grad_output):
        self._start(function, "backward")

    def backward_postprocess(self, function, grad_output):
        self._stop(function, "backward")
