"""The reverse-mode autograd tape: Tensor, Function, backward, grad, no_grad, FunctionHook.

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
        self.consumed = False  # set once a recorded op takes it as an input (see in_place)

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
    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's .grad that requires it. As in torch, the
        graph's saved arrays are freed on the way unless retain_graph=True (its default is
        create_graph); a second backward through a freed graph raises. With create_graph=True
        each .grad is a Tensor recorded as a function of the leaves, to differentiate again."""
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad "
                               "(no input of the ops that made it had requires_grad=True)")
        seed = seed_gradient("backward()", self, gradient, create_graph)
        run_backward([(self, seed)], create_graph if retain_graph is None else retain_graph, create_graph)


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
            for x in inputs:
                if isinstance(x, Tensor):
                    x.consumed = True
        for hook in hooks:
            hook.forward_postprocess(self, arrays)
        return output

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, grad_output):
        raise NotImplementedError

    def backward_graph(self, grad_output):
        """backward written in recorded ops on Tensors, for create_graph: grad_output is a Tensor,
        self.inputs holds the inputs (Tensors where they were), and the result is one Tensor (or
        None) per input, itself differentiable. Ops whose torch counterpart has a double backward
        override it; the fast backward above stays the path when create_graph is off."""
        raise RuntimeError(f"{type(self).__name__} has no double backward: its gradient cannot be "
                           f"differentiated again (create_graph=True)")

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
        if home is None or isinstance(home, Tensor) or home.dtype != x.dtype or not home.flags.c_contiguous:
            return None
        return home, accumulate


def in_place(op, x, compute):
    """x rewritten to hold compute(x), as torch's inplace=True leaves it: the same Tensor object,
    returned, now the op's output (its creator the op's Function, whose input is x's former
    self). Only the Tensor is rebound, never its old array, so nothing an op saved for backward
    changes. Refused, as torch refuses it, for a leaf that requires grad while grad is enabled;
    and for a tensor that a recorded op has already taken as an input, whose gradient minigan
    routes through the tensor's creator, which the rebinding would change under it."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(inplace=True) takes a Tensor, got {type(x).__name__}")
    if not is_grad_enabled():  # nothing is recorded: only the values change, as in torch
        x.data = compute(Tensor(x.data)).data
        return x
    if x.requires_grad and x.creator is None:
        raise RuntimeError(f"{op}(inplace=True): a leaf tensor that requires grad (shape {x.shape}) "
                           f"cannot be changed in place; use inplace=False or run it under no_grad()")
    if x.requires_grad and x.consumed:
        raise RuntimeError(f"{op}(inplace=True): this tensor (shape {x.shape}) is already an input of a "
                           f"recorded op, which will differentiate through it; minigan cannot rewrite "
                           f"it in place (use inplace=False)")
    former = Tensor(x.data, x.requires_grad)
    former.creator = x.creator
    result = compute(former)
    x.data, x.requires_grad, x.creator, x.consumed = result.data, result.requires_grad, result.creator, False
    return x


def applied(op, function, x, inplace):
    """function(x), or with inplace x rewritten to hold it (in_place): the one switch of every
    op that takes torch's inplace flag."""
    return in_place(op, x, function) if inplace else function(x)


def seed_gradient(caller, output, gradient, create_graph):
    """The gradient backward starts from at output: ones for a scalar, else the caller's, checked;
    a Tensor when the graph of the gradients is recorded, else an array."""
    if gradient is None:
        if output.numel() != 1:
            raise RuntimeError(f"{caller} without a gradient needs a scalar output, but this tensor "
                               f"has shape {output.shape}; pass a gradient of that shape")
        gradient = backend.array_module(output.data).ones_like(output.data)
    elif not isinstance(gradient, Tensor):
        gradient = backend.as_array(gradient)
    if gradient.shape != output.shape:
        raise ValueError(f"{caller}: gradient shape {gradient.shape} does not match tensor shape {output.shape}")
    if create_graph:
        return gradient if isinstance(gradient, Tensor) else Tensor(gradient)
    return unwrap(gradient)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """The gradients of outputs with respect to inputs, as torch.autograd.grad: a tuple with one
    Tensor per input (None for an unused one with allow_unused=True). No .grad is touched. With
    create_graph=True the gradients are recorded, to differentiate again (gradient penalties)."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor) or backend.is_array(grad_outputs):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad(): {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for position, t in enumerate(outputs + inputs):
        kind, index = ("output", position) if position < len(outputs) else ("input", position - len(outputs))
        if not isinstance(t, Tensor):
            raise TypeError(f"grad(): {kind} {index} is a {type(t).__name__}, not a Tensor")
        if not t.requires_grad:
            raise RuntimeError(f"grad(): {kind} {index} (shape {t.shape}) does not require grad")
    seeds = [(t, seed_gradient(f"grad() of output {i}", t, g, create_graph))
             for i, (t, g) in enumerate(zip(outputs, grad_outputs))]
    wanted = {id(t) for t in inputs}
    found = run_backward(seeds, create_graph if retain_graph is None else retain_graph, create_graph, wanted)
    results = []
    for position, t in enumerate(inputs):
        g = found.get(id(t))
        if g is None and not allow_unused:
            raise RuntimeError(f"grad(): input {position} (shape {t.shape}) was not used to compute the "
                               f"outputs; pass allow_unused=True to get None for it")
        results.append(g if g is None or isinstance(g, Tensor) else Tensor(g))
    return tuple(results)


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


def clear_grad(tensor, set_to_none=True):
    """zero_grad for one tensor: drop its .grad, or fill it with zeros in place (a recorded .grad,
    from create_graph, is first detached to its array, as torch does)."""
    if set_to_none:
        tensor.grad = None
    elif tensor.grad is not None:
        tensor.grad = unwrap(tensor.grad)
        tensor.grad[...] = 0


def unwrap(x):
    """The array behind a Tensor; anything else as it is."""
    return x.data if isinstance(x, Tensor) else x


def _topological_order(outputs):
    """Functions reachable from outputs, each before every Function that made its inputs."""
    order, seen = [], set()
    stack = [(t.creator, False) for t in outputs if t.creator is not None]
    while stack:  # iterative DFS: deep nets must not hit the recursion limit
        fn, expanded = stack.pop()
        if expanded:
            order.append(fn)
        elif id(fn) not in seen:
            seen.add(id(fn))
            stack.append((fn, True))
            stack.extend((x.creator, False) for x in fn.inputs
                         if isinstance(x, Tensor) and x.creator is not None)
    return order[::-1]  # reversed post-order: consumers before producers


def _leading_to(order, wanted):
    """For grad(): the ids of the Functions with an input path to a wanted tensor, so that
    backward computes only the gradients on those paths (not every weight's). A freed Function
    (whose inputs are gone) counts as leading, so that reaching it raises."""
    leading = set()
    for fn in reversed(order):  # producers first
        if fn.freed or any(isinstance(x, Tensor) and (id(x) in wanted or id(x.creator) in leading)
               for x in fn.inputs):
            leading.add(id(fn))
    return leading


def run_backward(seeds, retain_graph=False, create_graph=False, wanted=None):
    """Propagate [(output, gradient)] seeds back through the graph.

    wanted=None (backward()): accumulate into every leaf's .grad. wanted, a set of id(tensor)
    (grad()): return the gradients of those tensors, leaves or not, and touch no .grad.
    With create_graph, gradients are Tensors and each Function's backward_graph writes them
    with recorded ops, so they can be differentiated again; else arrays from its fast backward.
    """
    found = {}
    # Each Function has one output, so a non-leaf's gradient is keyed by its creator.
    pending = {}
    for tensor, gradient in seeds:
        if tensor.creator is None or (wanted is not None and id(tensor) in wanted):
            _deliver(tensor, gradient, wanted, found)
        if tensor.creator is not None:
            key = id(tensor.creator)
            pending[key] = gradient if key not in pending else pending[key] + gradient
    order = _topological_order([t for t, _ in seeds])
    leading = None if wanted is None else _leading_to(order, wanted)
    hooks = config.function_hooks
    with using_config("grad_enabled", create_graph):
        for fn in order:
            if leading is not None and id(fn) not in leading:
                continue
            grad_output = pending.pop(id(fn), None)
            if grad_output is None:
                continue
            if fn.freed:
                raise RuntimeError("backward() through a graph a second time: its saved arrays were "
                                   "freed by the first backward; pass retain_graph=True to the first")
            grad_inputs = _call_backward(fn, grad_output, create_graph, leading, wanted, hooks)
            inputs, needs_grad = fn.inputs, fn.needs_grad
            if not retain_graph:
                _free(fn)
            for x, needs, grad in zip(inputs, needs_grad, grad_inputs):
                if not needs or grad is None:
                    continue
                if x.creator is None or (wanted is not None and id(x) in wanted):
                    _deliver(x, grad, wanted, found)
                if x.creator is not None:
                    key = id(x.creator)
                    pending[key] = grad if key not in pending else pending[key] + grad
    return found


def _call_backward(fn, grad_output, create_graph, leading, wanted, hooks):
    """fn's input gradients (a tuple), from backward or, recording, backward_graph. For grad(),
    needs_grad is narrowed for the call to the inputs on a path to a wanted tensor."""
    needs_grad = fn.needs_grad
    if leading is not None:
        fn.needs_grad = tuple(needs and (id(x) in wanted or id(x.creator) in leading)
                              for x, needs in zip(fn.inputs, needs_grad))
    array = grad_output.data if create_graph else grad_output
    for hook in hooks:
        hook.backward_preprocess(fn, array)
    # Only backward() lets an op write a leaf's gradient into its home itself (grad_target).
    fn.writes_leaf_grads = wanted is None and not create_graph
    try:
        grads = fn.backward_graph(grad_output) if create_graph else fn.backward(grad_output)
    finally:
        fn.needs_grad, fn.writes_leaf_grads = needs_grad, False
    for hook in hooks:
        hook.backward_postprocess(fn, array)
    return grads if isinstance(grads, tuple) else (grads,)


def _deliver(tensor, grad, wanted, found):
    if grad.shape != tensor.shape:
        raise RuntimeError(f"internal error: gradient shape {grad.shape} for tensor {tensor.shape}")
    if wanted is None:
        _accumulate(tensor, grad)
    else:
        key = id(tensor)
        found[key] = grad if key not in found else found[key] + grad


def _free(fn):
    """Drop what fn's forward saved for backward, and its input Tensors too: through them a tensor
    kept after backward (a loss, a logit) would hold every array of the graph below it alive. A
    later backward that reaches fn raises (fn.freed)."""
    fn.__dict__.clear()
    fn.inputs, fn.freed = (), True


def _accumulate(tensor, grad):
    if isinstance(grad, Tensor):  # create_graph: .grad is a Tensor that remembers how it was made
        tensor.grad = grad if tensor.grad is None else grad + tensor.grad
    elif grad is tensor.grad:  # the op added its gradient into it (Function.grad_target)
        return
    elif tensor.grad is not None:
        if isinstance(tensor.grad, Tensor):
            tensor.grad = tensor.grad + grad  # a recorded .grad plus a plain one
        else:
            tensor.grad += grad  # in place, as PyTorch accumulates
    elif tensor.grad_buffer is not None:
        if grad is not tensor.grad_buffer:  # else the op wrote it there (Function.grad_target)
            tensor.grad_buffer[...] = grad
        tensor.grad = tensor.grad_buffer
    else:
        # A backward may hand the same array to several inputs (add) or pass the caller's
        # gradient through: copy, so that no two .grad arrays share memory, laid out as the
        # tensor is (torch's layout contract for .grad; a plain copy where the layouts agree).
        tensor.grad = backend.array_module(grad).empty_like(tensor.data, dtype=grad.dtype)
        tensor.grad[...] = grad
