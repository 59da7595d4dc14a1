"""One parameter group's values, gradients and optimizer state as views of flat buffers."""
from ..backend import array_module


class FlatParameters:
    """Parameters whose values, gradients and per-parameter state are views of flat buffers,
    one buffer per role ("param", "grad", then the optimizer's state names, "exp_avg", ...).

    Flattening copies each parameter into one buffer and makes its .data a view
    there, and sets its .grad_buffer to a view of the gradient buffer, where
    backward writes its gradient. While every parameter still uses its views
    (see intact), an optimizer updates them all with one kernel launch or one
    array operation per buffer. A state role's buffer is made at its first use.
    """

    def __init__(self, params):
        self.xp = array_module(params[0].data)
        self.dtype, self.total = params[0].dtype, sum(p.data.size for p in params)
        self.buffers = {"param": self.xp.zeros(self.total, self.dtype),
                        "grad": self.xp.zeros(self.total, self.dtype)}
        self.slices, start = {}, 0
        for p in params:
            self.slices[p] = slice(start, start + p.data.size)
            start += p.data.size
            self.view("param", p)[...] = p.data
            p.data = self.view("param", p)
            p.grad_buffer = self.view("grad", p)
            if p.grad is not None:
                p.grad_buffer[...] = p.grad
                p.grad = p.grad_buffer
        self.data_views = {p: p.data for p in params}
        self.step_count = None

    @classmethod
    def of(cls, params):
        """FlatParameters of params, or None where they mix devices or dtypes (or there are none)."""
        if not params:
            return None
        first = params[0].data
        if any(array_module(p.data) is not array_module(first) or p.dtype != first.dtype for p in params):
            return None
        return cls(params)

    def buffer(self, role):
        if role not in self.buffers:
            self.buffers[role] = self.xp.zeros(self.total, self.dtype)
        return self.buffers[role]

    def view(self, role, p):
        return self.buffer(role)[self.slices[p]].reshape(p.shape)

    def device_step(self):
        """The group's step count as a 0-d int64 device array (a capturable optimizer's), made at first use."""
        if self.step_count is None:
            self.step_count = self.xp.zeros((), "int64")
        return self.step_count

    def intact(self):
        """Whether every parameter still has its views as .data and as .grad."""
        return all(p.data is data and p.grad is p.grad_buffer for p, data in self.data_views.items())
