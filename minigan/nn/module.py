"""Module and Parameter: PyTorch's module tree, state_dict keys and device/dtype moves."""
import itertools
from collections import OrderedDict

from .. import backend
from ..autograd import Tensor, clear_grad, unwrap


class Parameter(Tensor):
    """A Tensor that a Module registers as learnable."""

    def __init__(self, data, requires_grad=True):
        super().__init__(unwrap(data), requires_grad=requires_grad)


class Module:
    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())

    # Parameters, buffers and children live in their dicts (as in PyTorch), so
    # that state_dict() sees every reassignment.
    def __setattr__(self, name, value):
        if name in self._buffers and isinstance(value, Tensor):  # a new value, still a buffer
            self._buffers[name] = value
            return
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table, {})
            if name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def register_buffer(self, name, array):
        """A non-learned array saved in state_dict (e.g. BatchNorm's running statistics)."""
        self._buffers[name] = Tensor(array)

    def register_forward_pre_hook(self, hook):
        """Run hook(module, args) before every forward, in registration order; a result other than
        None replaces args (a lone value becomes a 1-tuple). torch's hook point, where
        nn.utils.spectral_norm computes its weight. Returns a handle whose remove() drops the hook."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def __call__(self, *args):
        for hook in tuple(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        return self.forward(*args)

    def forward(self, *args):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def add_module(self, name, module):
        """Register module (or None) as the child `name`, as torch's add_module."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string, got {type(name).__name__}")
        if "." in name or not name:
            raise KeyError(f"module name can't contain \".\" or be empty, got {name!r}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    # --- traversal (torch's orders: parents before children, each module once) ---------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(name, module) for this module and every descendant, depth first; a shared module once,
        under its first name, unless remove_duplicate=False."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self):
        return (module for _, module in self.named_modules())

    def named_children(self):
        """(name, child) for each direct child, a shared one once."""
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        return (child for _, child in self.named_children())

    def apply(self, fn):
        """fn(module) on every descendant, children before their parent, then on self; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def _named(self, table):
        seen = set()  # a tied tensor is listed once, as in PyTorch
        for prefix, module in self.named_modules():
            for name, tensor in getattr(module, table).items():
                if id(tensor) not in seen:
                    seen.add(id(tensor))
                    yield (f"{prefix}.{name}" if prefix else name), tensor

    def named_parameters(self):
        return self._named("_parameters")

    def parameters(self):
        return (p for _, p in self.named_parameters())

    def named_buffers(self):
        return self._named("_buffers")

    # --- state ------------------------------------------------------------
    def _state_tensors(self, prefix=""):
        """(key, tensor) in state_dict order; unlike parameters(), a tied tensor under every name."""
        for name, tensor in (*self._parameters.items(), *self._buffers.items()):
            yield prefix + name, tensor
        for name, child in self._modules.items():
            yield from child._state_tensors(f"{prefix}{name}.")

    def state_dict(self):
        """Arrays by PyTorch's key names: each module's parameters, then its buffers, then children."""
        return OrderedDict((key, tensor.data) for key, tensor in self._state_tensors())

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays (NumPy or CuPy) into this module's tensors, keeping their device and dtype."""
        own = dict(self._state_tensors())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        for key, tensor in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if tuple(value.shape) != tuple(tensor.shape):
                raise ValueError(f"load_state_dict: {key} has shape {tuple(value.shape)} in the "
                                 f"state dict but {tuple(tensor.shape)} in the module")
            xp = backend.array_module(tensor.data)
            tensor.data[...] = xp.asarray(backend.to_device(value, tensor.device), dtype=tensor.dtype)
        return missing, unexpected

    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError(f"train(mode): mode is expected to be a bool, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Drop every parameter's gradient (set_to_none=True, torch's default), or fill it with zeros."""
        for p in self.parameters():
            clear_grad(p, set_to_none)

    def requires_grad_(self, requires_grad=True):
        """Whether autograd records gradients for this module's parameters (False freezes them)."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def to(self, device=None, dtype=None):
        """Move every parameter and buffer to device ('cpu' or 'cuda') and/or float dtype."""
        for _, tensor in (*self.named_parameters(), *self.named_buffers()):
            tensor.data = _convert(tensor.data, device, dtype)
            if tensor.grad is not None:
                tensor.grad = _convert(tensor.grad, device, dtype)
        return self


    # --- printing, as torch's: extra_repr() on one line, then each child indented ------------
    def extra_repr(self):
        """The module's settings, as its repr shows them in parentheses (torch's hook)."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): {indent(repr(child))}" for name, child in self._modules.items()]
        lines = extra_lines + child_lines
        if not lines:
            return f"{type(self).__name__}()"
        if len(extra_lines) == 1 and not child_lines:
            return f"{type(self).__name__}({extra_lines[0]})"
        return type(self).__name__ + "(\n  " + "\n  ".join(lines) + "\n)"


class RemovableHandle:
    """Removes one hook from the table it was registered in (torch.utils.hooks.RemovableHandle)."""

    _ids = itertools.count()

    def __init__(self, hooks):
        self.hooks = hooks
        self.id = next(RemovableHandle._ids)

    def remove(self):
        self.hooks.pop(self.id, None)


def indent(text, spaces=2):
    """text with every line but the first indented (a child's repr inside its parent's)."""
    first, *rest = text.split("\n")
    return "\n".join([first, *(" " * spaces + line for line in rest)])


def _convert(array, device, dtype):
    if device is not None:
        array = backend.to_device(array, device)
    if dtype is not None and array.dtype.kind == "f":
        array = array.astype(dtype)
    return array
