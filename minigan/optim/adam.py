"""Adam and AdamW as torch.optim's, one fused kernel launch per parameter group (kernels/adam.py)."""
from ..backend import array_module, kernels
from .optimizer import Optimizer


class Adam(Optimizer):
    """Adam as torch.optim.Adam: weight_decay adds the L2 term to the gradient, or, with
    decoupled_weight_decay=True (what AdamW is), decays the parameter itself; amsgrad keeps
    the running maximum of the second moment. The parameters are flattened when the
    optimizer is made, so a group's step is one fused kernel launch: make it after moving
    the model.

    capturable=True (as torch's): the group's step count lives in a device array that the
    step increments and the kernel reads on the device, so the step can be captured in a
    CUDA graph and replayed. It needs the flat buffers, and every parameter's gradient in
    every step. A replay reuses the captured lr: change lr only between captures.
    """

    counts_steps = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False, capturable=False, decoupled_weight_decay=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def check_hyperparameters(self, group):
        lr, betas, eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        group["betas"] = tuple(betas)  # a saved group's betas may come back as a list

    def state_names(self, group):
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())

    def update(self, group, param, grad, state, step, first):
        kernels(array_module(param)).adam_update(
            param, grad, state["exp_avg"], state["exp_avg_sq"], step, group["lr"], *group["betas"], group["eps"],
            group["weight_decay"], max_exp_avg_sq=state.get("max_exp_avg_sq"),
            decoupled_weight_decay=group["decoupled_weight_decay"], maximize=group["maximize"])


class AdamW(Adam):
    """AdamW as torch.optim.AdamW: Adam with decoupled weight decay, 0.01 by default."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, capturable=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, capturable=capturable,
                         decoupled_weight_decay=True)

    def check_hyperparameters(self, group):
        super().check_hyperparameters(group)
        group["decoupled_weight_decay"] = True  # as torch's AdamW, whatever a loaded state says
