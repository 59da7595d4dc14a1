"""RMSprop as torch.optim.RMSprop, in array operations over each parameter group's flat buffers."""
from ..backend import array_module
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop as torch's: square_avg, the running mean of grad**2 (weight alpha); centered
    also keeps grad_avg and divides by the estimated standard deviation; momentum keeps a
    buffer of the scaled steps; weight_decay adds the L2 term to the gradient."""

    counts_steps = True

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
                 maximize=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def check_hyperparameters(self, group):
        for key, name in (("lr", "learning rate"), ("eps", "epsilon value"), ("momentum", "momentum value"),
                          ("weight_decay", "weight_decay value"), ("alpha", "alpha value")):
            if not 0.0 <= group[key]:
                raise ValueError(f"Invalid {name}: {group[key]}")

    def state_names(self, group):
        return (("square_avg",) + (("momentum_buffer",) if group["momentum"] > 0 else ())
                + (("grad_avg",) if group["centered"] else ()))

    def update(self, group, param, grad, state, step, first):
        xp = array_module(param)
        alpha, weight_decay = group["alpha"], group["weight_decay"]
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            grad = grad + weight_decay * param
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg += (grad - grad_avg) * (1 - alpha)
            avg = xp.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = xp.sqrt(square_avg)
        avg += group["eps"]
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += grad / avg
            param -= group["lr"] * buf
        else:
            param -= group["lr"] * (grad / avg)
