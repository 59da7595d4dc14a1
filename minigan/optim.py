"""Optimizers that match torch.optim step for step. State is keyed by the Parameter itself."""
from .autograd import no_grad
from .backend import array_module, kernels


class Optimizer:
    def __init__(self, params):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        first = {}
        for index, p in enumerate(self.params):
            if first.setdefault(id(p), index) != index:  # it would be stepped twice per step
                raise ValueError(f"{type(self).__name__}: parameter {index} is parameter "
                                 f"{first[id(p)]} again; pass each parameter once")
        self.state = {}

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def state_dict(self):
        """Flat {name: array or number}: per-parameter state under its index in params."""
        flat = {}
        for index, p in enumerate(self.params):
            for key, value in self.state.get(p, {}).items():
                flat[f"{index}.{key}"] = value
        return flat

    def load_state_dict(self, flat):
        """Refuses a state whose arrays do not fit the parameters: the kernels check no bounds."""
        self.state = {}
        for name, value in flat.items():
            index, _, key = name.partition(".")
            if not (index.isdigit() and int(index) < len(self.params) and key):
                raise ValueError(f"{type(self).__name__}.load_state_dict: {name!r} names no state "
                                 f"of its {len(self.params)} parameters")
            p = self.params[int(index)]
            if getattr(value, "ndim", 0) and tuple(value.shape) != tuple(p.shape):
                raise ValueError(f"{type(self).__name__}.load_state_dict: {name} has shape "
                                 f"{tuple(value.shape)}, but parameter {index} has shape {tuple(p.shape)}")
            xp = array_module(p.data)
            self.state.setdefault(p, {})[key] = (xp.ascontiguousarray(xp.asarray(value, dtype=p.dtype))
                                                 if getattr(value, "ndim", 0) else int(value))

    def _grad(self, index, p):
        """p.grad, refused unless it has p's shape (no silent broadcast, no kernel out of bounds)."""
        if tuple(p.grad.shape) != tuple(p.shape):
            raise ValueError(f"{type(self).__name__}.step: parameter {index} has shape {tuple(p.shape)} "
                             f"but its .grad has shape {tuple(p.grad.shape)}")
        return p.grad


class FlatParameters:
    """Parameters whose values, gradients and Adam moments are views of four flat buffers.

    Flattening copies each parameter into one buffer and makes its .data a
    view there, and sets its .grad_buffer to a view of the gradient buffer,
    where backward writes its gradient. While every parameter still uses its
    views, one kernel launch over the buffers updates them all (see intact).
    """

    ROLES = ("param", "grad", "exp_avg", "exp_avg_sq")

    def __init__(self, params):
        xp = array_module(params[0].data)
        dtype, total = params[0].dtype, sum(p.numel() for p in params)
        self.buffers = {role: xp.zeros(total, dtype) for role in self.ROLES}
        self.slices, start = {}, 0
        for p in params:
            self.slices[p] = slice(start, start + p.numel())
            start += p.numel()
            self.view("param", p)[...] = p.data
            p.data = self.view("param", p)
            p.grad_buffer = self.view("grad", p)
            if p.grad is not None:
                p.grad_buffer[...] = p.grad
                p.grad = p.grad_buffer
        self.data_views = {p: p.data for p in params}

    @classmethod
    def of(cls, params):
        """FlatParameters of params, or None where they mix devices or dtypes."""
        first = params[0].data
        if any(array_module(p.data) is not array_module(first) or p.dtype != first.dtype for p in params):
            return None
        return cls(params)

    def view(self, role, p):
        return self.buffers[role][self.slices[p]].reshape(p.shape)

    def intact(self):
        """Whether every parameter still has its views as .data and as .grad."""
        return all(p.data is data and p.grad is p.grad_buffer for p, data in self.data_views.items())


class Adam(Optimizer):
    """Adam as torch.optim.Adam. The parameters are flattened (FlatParameters) when it is
    made, so a step is one fused kernel launch; create it after moving the model.

    capturable=True (as torch's): the step count lives in a device array that the
    step increments and the kernel reads on the device, so the step can be captured
    in a CUDA graph and replayed. It needs the flat buffers, and every parameter's
    gradient in every step.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, capturable=False):
        super().__init__(params)
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"Adam: invalid hyperparameters lr={lr}, betas={betas}, eps={eps}, "
                             f"weight_decay={weight_decay}")
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.flat = FlatParameters.of(self.params)
        self.step_count = None  # capturable: the step number, a 0-d int64 array on the device
        if capturable:
            if self.flat is None:
                raise ValueError("Adam(capturable=True) needs parameters on one device, of one dtype")
            self.step_count = array_module(self.params[0].data).zeros((), "int64")

    def _state(self, p):
        state = self.state.get(p)
        if state is None:
            if self.flat is not None:
                moments = {key: self.flat.view(key, p) for key in ("exp_avg", "exp_avg_sq")}
            else:
                xp = array_module(p.data)
                moments = {key: xp.zeros(p.shape, p.dtype) for key in ("exp_avg", "exp_avg_sq")}
            step = 0 if self.step_count is None else self.step_count
            state = self.state[p] = {"step": step, **moments}
        return state

    def _update(self, param, grad, exp_avg, exp_avg_sq, step):
        kernels(array_module(param)).adam_update(param, grad, exp_avg, exp_avg_sq, step, self.lr,
                                                 *self.betas, self.eps, self.weight_decay)

    def step(self):
        with no_grad():
            if self.step_count is not None:
                self._counted_step()
                return
            states = [self._state(p) for p in self.params if p.grad is not None]
            if self.flat is not None and self.flat.intact() and len({s["step"] for s in states}) == 1 \
                    and len(states) == len(self.params):
                # Every parameter at the same step, in its flat views: one launch for all.
                for state in states:
                    state["step"] += 1
                self._update_flat(states[0]["step"])
                return
            for index, p in enumerate(self.params):
                if p.grad is None:
                    continue
                grad = self._grad(index, p)
                state = self._state(p)
                # The fused kernel works on flat views: the parameter and its moments must be
                # C-contiguous (a transposed array's flat view would be a copy). A no-op after once.
                p.data = array_module(p.data).ascontiguousarray(p.data)
                state["step"] += 1
                self._update(p.data, grad, state["exp_avg"], state["exp_avg_sq"], state["step"])

    def _counted_step(self):
        """The capturable step: the count goes up on the device, one launch updates everything."""
        if not self.flat.intact():
            missing = [i for i, p in enumerate(self.params) if p.grad is None]
            problem = (f"parameters {missing} have no gradient" if missing else
                       "a parameter's .data or .grad is no longer its view of the flat buffers")
            raise RuntimeError(f"Adam(capturable=True) updates every parameter in one launch: {problem}")
        for p in self.params:
            self._state(p)
        self.step_count += 1
        self._update_flat(self.step_count)

    def _update_flat(self, step):
        """Every parameter at once, on the flat buffers: one fused launch."""
        buffers = self.flat.buffers
        self._update(*(buffers[role] for role in FlatParameters.ROLES), step)

    def load_state_dict(self, flat):
        super().load_state_dict(flat)
        if self.flat is not None:  # back into the flat moment buffers
            for p, state in self.state.items():
                for key in ("exp_avg", "exp_avg_sq"):
                    self.flat.view(key, p)[...] = state[key]
                    state[key] = self.flat.view(key, p)
        if self.step_count is not None:
            steps = {state["step"] for state in self.state.values()}
            if len(steps) > 1:
                raise ValueError(f"Adam(capturable=True) keeps one step count for all parameters; "
                                 f"the state holds steps {sorted(steps)}")
            self.step_count[...] = steps.pop() if steps else 0
            for state in self.state.values():
                state["step"] = self.step_count


class SGD(Optimizer):
    def __init__(self, params, lr, momentum=0):
        super().__init__(params)
        if lr < 0 or momentum < 0:
            raise ValueError(f"SGD: invalid hyperparameters lr={lr}, momentum={momentum}")
        self.lr, self.momentum = lr, momentum

    def step(self):
        for index, p in enumerate(self.params):
            if p.grad is None:
                continue
            grad = self._grad(index, p)
            if self.momentum:
                state = self.state.setdefault(p, {})
                buf = state.get("momentum_buffer")
                # PyTorch starts the buffer at the first gradient itself.
                buf = grad.copy() if buf is None else self.momentum * buf + grad
                state["momentum_buffer"] = grad = buf
            p.data -= self.lr * grad
