"""Optimizers that match torch.optim step for step. State is keyed by the Parameter itself."""
from .autograd import no_grad
from .backend import array_module, kernels


class Optimizer:
    def __init__(self, params):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
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
        self.state = {}
        for name, value in flat.items():
            index, key = name.split(".", 1)
            p = self.params[int(index)]
            xp = array_module(p.data)
            self.state.setdefault(p, {})[key] = (xp.ascontiguousarray(xp.asarray(value, dtype=p.dtype))
                                                 if getattr(value, "ndim", 0) else int(value))


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0):
        super().__init__(params)
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"Adam: invalid hyperparameters lr={lr}, betas={betas}, eps={eps}, "
                             f"weight_decay={weight_decay}")
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay

    def step(self):
        with no_grad():
            for p in self.params:
                if p.grad is None:
                    continue
                xp = array_module(p.data)
                state = self.state.setdefault(p, {})
                # The fused kernel works on flat views: the parameter and its moments must be
                # C-contiguous (a transposed array's flat view would be a copy). A no-op after once.
                p.data = xp.ascontiguousarray(p.data)
                if not state:
                    state.update(step=0, exp_avg=xp.zeros(p.shape, p.dtype), exp_avg_sq=xp.zeros(p.shape, p.dtype))
                state["step"] += 1
                kernels(xp).adam_update(p.data, p.grad, state["exp_avg"], state["exp_avg_sq"],
                                        state["step"], self.lr, *self.betas, self.eps,
                                        self.weight_decay)


class SGD(Optimizer):
    def __init__(self, params, lr, momentum=0):
        super().__init__(params)
        if lr < 0 or momentum < 0:
            raise ValueError(f"SGD: invalid hyperparameters lr={lr}, momentum={momentum}")
        self.lr, self.momentum = lr, momentum

    def step(self):
        for p in self.params:
            if p.grad is None:
                continue
            grad = p.grad
            if self.momentum:
                state = self.state.setdefault(p, {})
                buf = state.get("momentum_buffer")
                # PyTorch starts the buffer at the first gradient itself.
                buf = grad.copy() if buf is None else self.momentum * buf + grad
                state["momentum_buffer"] = grad = buf
            p.data -= self.lr * grad
