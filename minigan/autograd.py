"""The reverse-mode autograd tape: Tensor, Function, backward, no_grad, FunctionHook.

A Function runs on raw arrays (NumPy or CuPy). Calling it on Tensors records
it as the creator of its output, so backward() can walk the graph from the
output back to the leaves in reverse topological order.

The engine's one hook point: every installed FunctionHook is called around each
Function's forward (in Function.__call__) and each backward (in the backward
loop), as Chainer's function hooks are. Timing and debugging tools use it
instead of patching Function classes.
"""
from . import backend
from .config import config, set_config, using_config


def is_grad_enabled():
    return config.grad_enabled


def no_grad():
    """Run ops without recording them for backward (inference, optimizer steps)."""
    return using_config("grad_enabled", False)


class Tensor:
    """An array with an optional gradient and the Function that produced it.

    Its operators (+ - * / @ ** < == ..., indexing) and op methods (exp, sum, max, view, ...) are
    ops like any other; the package binds them from minigan.functional.arithmetic on import
    (setup_tensor), so that this engine, below the ops, imports none of them.
    """

    __array_priority__ = 1000  # so `ndarray * Tensor` defers to Tensor.__rmul__

    def __init__(self, data, requires_grad=False):
        self.data = backend.as_array(data)
        self.requires_grad = requires_grad
        self.grad = None
        self.grad_buffer = None  # where a leaf's gradient is written, if set (see optim.Adam)
        self.creator = None  # the Function whose output this is; None for leaves

    # --- array-like views -------------------------------------------------
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    is_leaf = property(lambda self: self.creator is None)
    device = property(lambda self: backend.device_of(self.data))

    def size(self, dim=None):
        """The shape as a tuple, or the size of dimension dim (negative counts from the end),
        as torch's Tensor.size()."""
        if dim is None:
            return self.shape
        if not -self.ndim <= dim < self.ndim:
            raise IndexError(f"size({dim}): dim out of range for a tensor of shape {self.shape} "
                             f"(expected a dim in [{-self.ndim}, {self.ndim - 1}])")
        return self.shape[dim]

    def numel(self):
        return self.data.size

    def dim(self):
        return self.ndim

    def __len__(self):
        return len(self.data)

    def __bool__(self):
        """As torch: the truth of a one-element tensor; ambiguous otherwise (not len(self) != 0,
        which `if tensor == other:` would silently use once == returns a tensor)."""
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous: "
                               f"use .any() or .all() of its data, or compare its .item()")
        return bool(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({self.data!r}{grad})"

    def item(self):
        return self.data.item()

    def numpy(self):
        return backend.to_numpy(self.data)

    def detach(self):
        return Tensor(self.data)

    # --- autograd ---------------------------------------------------------
    def backward(self, gradient=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's .grad that requires it. As in torch, the
        graph's saved arrays are freed on the way unless retain_graph=True; a second backward
        through a freed graph raises."""
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad "
                               "(no input of the ops that made it had requires_grad=True)")
        if gradient is None:
            if self.numel() != 1:
                raise RuntimeError(f"backward() without a gradient needs a scalar output, "
                                   f"but this tensor has shape {self.shape}; pass gradient= "
                                   f"of that shape")
            gradient = backend.array_module(self.data).ones_like(self.data)
        else:
            gradient = backend.as_array(gradient.data if isinstance(gradient, Tensor) else gradient)
            if gradient.shape != self.shape:
                raise ValueError(f"backward(): gradient shape {gradient.shape} does not match "
                                 f"tensor shape {self.shape}")
        run_backward(self, gradient, retain_graph)


class Function:
    """One differentiable op. Subclasses define forward(*arrays) and backward(grad_output).

    forward gets raw arrays and returns one array; it saves on self only what
    backward needs. backward returns one gradient per input (None where an
    input needs none); self.needs_grad says which inputs want one.
    """

    freed = False  # set by a backward without retain_graph, which drops what forward saved and its inputs
    writes_leaf_grads = False  # set by backward() for the call of backward: see grad_target

    def __call__(self, *inputs):
        arrays = backend.check_compatible(type(self).__name__, [unwrap(x) for x in inputs])
        self.needs_grad = tuple(isinstance(x, Tensor) and x.requires_grad for x in inputs)
        hooks = config.function_hooks  # () unless a FunctionHook is installed: two empty loops
        for hook in hooks:
            hook.forward_preprocess(self, arrays)
        output = Tensor(self.forward(*arrays))
        if is_grad_enabled() and any(self.needs_grad):
            output.requires_grad = True
            output.creator = self
            self.inputs = inputs
        for hook in hooks:
            hook.forward_postprocess(self, arrays)
        return output

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, grad_output):
        raise NotImplementedError

    def grad_target(self, index):
        """Where backward may write input index's gradient itself: (array, accumulate), or None.

        Within backward(), for a leaf input that needs a gradient and already has a home for it:
        its .grad, to add into (accumulate=True), or its optimizer's flat buffer (grad_buffer), to
        fill. A backward that writes there returns that array as the gradient, and autograd then
        copies or adds nothing (on the GPU, a launch each). None for an input passed at two
        positions, whose two gradients would overwrite each other.
        """
        x = self.inputs[index] if self.writes_leaf_grads and self.needs_grad[index] else None
        if x is None or x.creator is not None or sum(y is x for y in self.inputs) > 1:
            return None
        home, accumulate = (x.grad, True) if x.grad is not None else (x.grad_buffer, False)
        if home is None or home.dtype != x.dtype or not home.flags.c_contiguous:
            return None
        return home, accumulate


class FunctionHook:
    """Code run around every Function's forward and backward while the hook is installed.

    Install it for a block with `with hook:` (hooks nest, and like config they hold for the
    current thread only). Subclasses override what they need: forward_*process get the
    Function and its input arrays (by postprocess, function.inputs holds the input Tensors of
    a recorded call); backward_*process get the Function and its output's gradient.
    """

    def __enter__(self):
        set_config("function_hooks", config.function_hooks + (self,))
        return self

    def __exit__(self, *exc_info):
        set_config("function_hooks", tuple(h for h in config.function_hooks if h is not self))

    def forward_preprocess(self, function, arrays):
        pass

    def forward_postprocess(self, function, arrays):
        pass

    def backward_preprocess(self, function, grad_output):
        pass

    def backward_postprocess(self, function, grad_output):
        pass


def unwrap(x):
    """The array behind a Tensor; anything else as it is."""
    return x.data if isinstance(x, Tensor) else x


def _topological_order(output):
    """Functions reachable from output, each before every Function that made its inputs."""
    order, seen, stack = [], set(), [(output.creator, False)]
    while stack:  # iterative DFS: deep nets must not hit the recursion limit
        fn, expanded = stack.pop()
        if expanded:
            order.append(fn)
        elif id(fn) not in seen:
            seen.add(id(fn))
            stack.append((fn, True))
            stack.extend((x.creator, False) for x in fn.inputs
                         if isinstance(x, Tensor) and x.creator is not None)
    return reversed(order)  # reversed post-order: consumers before producers


def run_backward(output, gradient, retain_graph=False):
    if output.creator is None:  # a leaf: its gradient is the seed itself
        _accumulate(output, gradient)
        return
    # Each Function has one output, so a non-leaf's gradient is keyed by its creator.
    pending = {id(output.creator): gradient}
    hooks = config.function_hooks
    for fn in _topological_order(output):
        grad_output = pending.pop(id(fn))
        if fn.freed:
            raise RuntimeError("backward() through a graph a second time: its saved arrays were "
                               "freed by the first backward; pass retain_graph=True to the first")
        for hook in hooks:
            hook.backward_preprocess(fn, grad_output)
        fn.writes_leaf_grads = True
        try:
            grad_inputs = fn.backward(grad_output)
        finally:
            fn.writes_leaf_grads = False
        for hook in hooks:
            hook.backward_postprocess(fn, grad_output)
        if not isinstance(grad_inputs, tuple):
            grad_inputs = (grad_inputs,)
        inputs, needs_grad = fn.inputs, fn.needs_grad
        if not retain_graph:
            _free(fn)
        for x, needs, grad in zip(inputs, needs_grad, grad_inputs):
            if not needs:
                continue
            if x.creator is None:
                _accumulate(x, grad)
            else:
                key = id(x.creator)
                pending[key] = grad if key not in pending else pending[key] + grad


def _free(fn):
    """Drop what fn's forward saved for backward, and its input Tensors too: through them a tensor
    kept after backward (a loss, a logit) would hold every array of the graph below it alive. A
    later backward that reaches fn raises (fn.freed)."""
    fn.__dict__.clear()
    fn.inputs, fn.freed = (), True


def _accumulate(tensor, grad):
    if grad.shape != tensor.shape:
        raise RuntimeError(f"internal error: gradient shape {grad.shape} for tensor {tensor.shape}")
    if grad is tensor.grad:  # the op added its gradient into it (Function.grad_target)
        return
    if tensor.grad is not None:
        tensor.grad += grad  # in place, as PyTorch accumulates
    elif tensor.grad_buffer is not None:
        if grad is not tensor.grad_buffer:  # else the op wrote it there (Function.grad_target)
            tensor.grad_buffer[...] = grad
        tensor.grad = tensor.grad_buffer
    else:
        # A backward may hand the same array to several inputs (add) or pass the caller's
        # gradient through: copy, so that no two .grad arrays share memory.
        tensor.grad = grad.copy()
