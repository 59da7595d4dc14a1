"""Spectral normalization (Miyato et al. 2018) as torch.nn.utils.spectral_norm, the hook-based one.

The parameter `weight` becomes `weight_orig`; buffers `weight_u` and `weight_v` hold the power
iteration's singular vectors; a forward pre-hook sets `module.weight = weight_orig / sigma`
before every forward, with sigma = u . (W v). State dict keys are torch's, so state dicts move
both ways. As in torch, u and v are constants for the gradient, and power iteration runs (under
no_grad) only in training mode.
"""
from ... import init
from ...autograd import Tensor, no_grad
from ...backend import array_module
from ...functional import matmul, permute, reshape
from ...functional.dims import normalize_dim
from ..layers import ConvTranspose2d
from ..module import Parameter

__all__ = ["SpectralNorm", "remove_spectral_norm", "spectral_norm"]


def _normalize(vector, eps):
    """vector / max(||vector||, eps), as torch.nn.functional.normalize on a 1-d array."""
    xp = array_module(vector)
    return vector / xp.maximum(xp.linalg.norm(vector), eps)


class SpectralNorm:
    """The forward pre-hook: computes `module.<name>` from `<name>_orig`, `<name>_u`, `<name>_v`."""

    def __init__(self, name="weight", n_power_iterations=1, dim=0, eps=1e-12):
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but "
                             f"got n_power_iterations={n_power_iterations}")
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def reshape_weight_to_matrix(self, weight):
        """weight with dim `self.dim` first, flattened to (that dim's size, -1)."""
        if self.dim != 0:
            weight = permute(weight, self.dim, *(d for d in range(weight.ndim) if d != self.dim))
        return reshape(weight, weight.shape[0], -1)

    def compute_weight(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        weight_mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            matrix = weight_mat.data
            for _ in range(self.n_power_iterations):
                # In place, as torch's out=u, out=v: the buffers carry the iteration across steps.
                v.data[...] = _normalize(matrix.T @ u.data, self.eps)
                u.data[...] = _normalize(matrix @ v.data, self.eps)
        # Copies, so that a later in-place update of the buffers leaves this graph's constants alone.
        u_row, v_column = Tensor(u.data[None, :].copy()), Tensor(v.data[:, None].copy())
        sigma = reshape(matmul(matmul(u_row, weight_mat), v_column), ())
        return weight / sigma

    def remove(self, module):
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        del module.__dict__[self.name]  # the computed weight, a plain attribute
        for suffix in ("_u", "_v"):
            del module._buffers[self.name + suffix]
        del module._parameters[self.name + "_orig"]
        setattr(module, self.name, Parameter(weight.data))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module, do_power_iteration=module.training))

    @staticmethod
    def apply(module, name, n_power_iterations, dim, eps):
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, SpectralNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        if name not in module._parameters:
            if name in module.__dict__ and module.__dict__[name] is None:
                raise ValueError(f"`SpectralNorm` cannot be applied as parameter `{name}` is None")
            raise KeyError(f"spectral_norm: {type(module).__name__} has no parameter {name!r} "
                           f"(its parameters: {list(module._parameters)})")
        weight = module._parameters[name]
        fn.dim = normalize_dim("spectral_norm", dim, weight.shape)
        with no_grad():
            height, width = fn.reshape_weight_to_matrix(weight).shape
        xp = array_module(weight.data)
        u, v = (_normalize(xp.asarray(init.rng().standard_normal(size), dtype=weight.dtype), eps)
                for size in (height, width))
        del module._parameters[name]
        setattr(module, name + "_orig", weight)
        setattr(module, name, Tensor(weight.data))
        module.register_buffer(name + "_u", u)
        module.register_buffer(name + "_v", v)
        module.register_forward_pre_hook(fn)
        return fn


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Spectrally normalize module's parameter `name` (torch.nn.utils.spectral_norm); dim is the
    output dimension: 1 for ConvTranspose2d, whose weight is (in, out, kh, kw), else 0."""
    if dim is None:
        dim = 1 if isinstance(module, ConvTranspose2d) else 0
    SpectralNorm.apply(module, name, n_power_iterations, dim, eps)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo spectral_norm: `name` becomes a plain Parameter holding the current normalized weight."""
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, SpectralNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")
