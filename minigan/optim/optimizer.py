"""The optimizer base, as torch.optim.Optimizer: parameter groups, per-parameter state,
state_dict()/load_state_dict() in torch's layout, and the step that every optimizer shares.

A step goes group by group. Each group's parameters are flattened when it is
added (FlatParameters), so while every parameter of the group has a gradient
and still uses its views, and all are at the same point (same step count,
state made in the same step), the optimizer's update runs once over the flat
buffers; otherwise it runs once per parameter on that parameter's views.
Subclasses say what their state holds (state_names, counts_steps), check
their hyperparameters (check_hyperparameters) and write the update (update).
"""
from ..autograd import Tensor, clear_grad, no_grad, unwrap
from ..backend import array_module, device_of, is_array, to_device
from ..config import using_config
from .flat import FlatParameters


class Optimizer:
    counts_steps = False  # whether the state holds a "step" count, as torch's Adam and RMSprop

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}  # Parameter -> {name: array, or the step count}
        self.param_groups = []
        self._flats = []  # each group's FlatParameters, or None where it mixes devices or dtypes
        if isinstance(params, (Tensor, set)) or not hasattr(params, "__iter__"):
            raise TypeError(f"params argument given to the optimizer should be an iterable of Tensors "
                            f"or dicts, but got {type(params).__name__}")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        for group in groups if isinstance(groups[0], dict) else [{"params": groups}]:
            self.add_param_group(group)

    def __repr__(self):
        groups = "".join(f"\nParameter Group {i}\n" + "".join(f"    {k}: {v}\n" for k, v in sorted(g.items())
                                                             if k != "params")
                         for i, g in enumerate(self.param_groups))
        return f"{type(self).__name__} ({groups})"

    # --- what a subclass gives ------------------------------------------------------------

    def check_hyperparameters(self, group):
        """Raise ValueError, as torch words it, for a bad value in group (a whole param group)."""
        raise NotImplementedError

    def state_names(self, group):
        """The names of the arrays a parameter's state holds under group's hyperparameters."""
        raise NotImplementedError

    def update(self, group, param, grad, state, step, first):
        """One in-place step of param (and of the arrays of state, {name: array}) from grad.
        step: this step's number (counts_steps), first: whether the state was made for this step."""
        raise NotImplementedError

    # --- parameter groups ------------------------------------------------------------------

    def add_param_group(self, param_group):
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError(f"{type(self).__name__}: a param group is a dict with a 'params' entry, "
                            f"got {param_group!r:.80}")
        params = param_group["params"]
        if isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the "
                            "ordering of tensors in sets will change between runs. Please use a list instead.")
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
        first = {}
        for index, p in enumerate(params):
            if first.setdefault(id(p), index) != index:  # it would be stepped twice per step
                raise ValueError(f"{type(self).__name__}: parameter {index} is parameter "
                                 f"{first[id(p)]} again; pass each parameter once")
        if any(id(p) in first for group in self.param_groups for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        group = {**self.defaults, **param_group, "params": params}
        self.check_hyperparameters(group)
        flat = FlatParameters.of(params)
        if group.get("capturable") and flat is None:
            raise ValueError(f"{type(self).__name__}(capturable=True) needs the parameters of a group on "
                             f"one device, of one dtype")
        self.param_groups.append(group)
        self._flats.append(flat)

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                clear_grad(p, set_to_none)

    # --- the step ----------------------------------------------------------------------------

    def step(self, closure=None):
        """One update of every parameter that has a gradient; closure (re-evaluating the loss,
        gradients included) is called first, as in torch, and its loss returned."""
        loss = None
        if closure is not None:
            with using_config("grad_enabled", True):
                loss = closure()
        with no_grad():
            for group, flat in zip(self.param_groups, self._flats):
                self._step_group(group, flat)
        return loss

    def _step_group(self, group, flat):
        params = [p for p in group["params"] if p.grad is not None]
        for p in params:
            if tuple(p.grad.shape) != tuple(p.shape):  # no silent broadcast, no kernel out of bounds
                raise ValueError(f"{type(self).__name__}.step: parameter {self._index(p)} has shape "
                                 f"{tuple(p.shape)} but its .grad has shape {tuple(p.grad.shape)}")
        first = [p not in self.state for p in params]
        states = [self._state(p, group, flat) for p in params]
        # A device step count is one array for the group: compared by identity, never read.
        phases = {(f, id(s["step"]) if is_array(s.get("step")) else s.get("step")) for f, s in zip(first, states)}
        if flat is not None and flat.intact() and len(params) == len(group["params"]) and len(phases) == 1:
            arrays = {name: flat.buffer(name) for name in self.state_names(group)}
            self.update(group, flat.buffer("param"), flat.buffer("grad"), arrays, self._advance(states), first[0])
            return
        if group.get("capturable"):
            missing = [self._index(p) for p in group["params"] if p.grad is None]
            problem = (f"parameters {missing} have no gradient" if missing else
                       "a parameter's .data or .grad is no longer its view of the flat buffers")
            raise RuntimeError(f"{type(self).__name__}(capturable=True) updates every parameter of a group "
                               f"in one launch: {problem}")
        for p, state, fresh in zip(params, states, first):
            # The update works on flat views: the parameter must be C-contiguous (a transposed
            # array's flat view would be a copy). A no-op after once.
            p.data = array_module(p.data).asarray(p.data, order="C")  # (ascontiguousarray makes a 0-d one 1-d)
            arrays = {name: state[name] for name in self.state_names(group)}
            # A .grad recorded by backward(create_graph=True) is a Tensor: its values update.
            self.update(group, p.data, unwrap(p.grad), arrays, self._advance([state]), fresh)

    def _advance(self, states):
        """Each state's step count one up; the new step (the same for all), or None."""
        if not self.counts_steps:
            return None
        if is_array(states[0]["step"]):  # capturable: one count on the device for the group
            states[0]["step"] += 1
        else:
            for state in states:
                state["step"] += 1
        return states[0]["step"]

    def _state(self, p, group, flat):
        """p's state, made (zeroed) at its first step: in the flat buffers where there are some."""
        state = self.state.get(p)
        if state is None:
            if flat is not None:
                def zeros(name):
                    view = flat.view(name, p)
                    view[...] = 0  # the buffer may hold an earlier state of p
                    return view
            else:
                def zeros(name):
                    return array_module(p.data).zeros(p.shape, p.dtype)
            state = {"step": flat.device_step() if group.get("capturable") else 0} if self.counts_steps else {}
            state.update({name: zeros(name) for name in self.state_names(group)})
            if state:  # as torch, a parameter with nothing to keep (plain SGD) has no state
                self.state[p] = state
        return state

    def _index(self, p):
        """p's number in state_dict (counting through the groups)."""
        return next(i for i, q in enumerate(q for g in self.param_groups for q in g["params"]) if q is p)

    # --- state_dict --------------------------------------------------------------------------

    def state_dict(self):
        """torch's layout: {"state": {index: {name: array or int}}, "param_groups": [{hyperparameters,
        "params": [index, ...]}]}, parameters numbered through the groups in order. Unlike torch's,
        a snapshot: the arrays are copies (on the parameters' device) and step counts are ints."""
        index = {id(p): i for i, p in enumerate(p for g in self.param_groups for p in g["params"])}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
                  for g in self.param_groups]
        state = {index[id(p)]: {name: int(value) if name == "step" else value.copy() for name, value in s.items()}
                 for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}  # state in the order it was made, as torch's

    def load_state_dict(self, state_dict):
        """Load state_dict() of an optimizer of the same type over parameters of the same shapes,
        as torch's: its hyperparameters replace the groups', its arrays are copied in (cast to each
        parameter's dtype, onto its device). Checks everything before changing anything."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            keys = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{name}.load_state_dict: expected a dict with keys 'param_groups' and 'state', "
                             f"as state_dict() gives; got {keys}")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter "
                             f"groups, this optimizer {len(self.param_groups)}")
        params, groups = {}, []
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved.get("params", ())) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} has "
                                 f"{len(saved.get('params', ()))} parameters in the state dict, "
                                 f"{len(group['params'])} here")
            groups.append({**saved, "params": group["params"]})
            self.check_hyperparameters(groups[-1])
            params.update({index: (p, i) for index, p in zip(saved["params"], group["params"])})
        loaded = []  # (parameter, its group's index, its checked state)
        for index, saved in state_dict["state"].items():
            if index not in params:
                raise ValueError(f"{name}.load_state_dict: state {index!r} belongs to none of the "
                                 f"parameters {sorted(params)} of the state dict's param_groups")
            p, i = params[index]
            loaded.append((p, i, self._loaded_state(index, saved, p, groups[i])))
        self._check_device_steps(loaded, groups)
        self.param_groups[:] = groups
        self.state = {p: self._placed_state(p, saved, groups[i], self._flats[i]) for p, i, saved in loaded}

    def _loaded_state(self, index, saved, p, group):
        """saved (one parameter's state) checked against p and group: {name: host or device array, or int}."""
        name = type(self).__name__
        expected = (["step"] if self.counts_steps else []) + list(self.state_names(group))
        if sorted(saved) != sorted(expected):
            raise ValueError(f"{name}.load_state_dict: the state of parameter {index} holds {sorted(saved)}, "
                             f"but {name} with these hyperparameters keeps {sorted(expected)}")
        checked = {}
        for key, value in saved.items():
            if key == "step":
                step = float(value)
                if step != int(step) or step < 0:
                    raise ValueError(f"{name}.load_state_dict: state[{index}]['step'] is {value}, not a "
                                     f"step count")
                checked[key] = int(step)
            elif tuple(getattr(value, "shape", ())) != tuple(p.shape):
                raise ValueError(f"{name}.load_state_dict: state[{index}][{key!r}] has shape "
                                 f"{tuple(getattr(value, 'shape', ()))}, but parameter {index} has shape "
                                 f"{tuple(p.shape)}")
            else:
                checked[key] = value
        return checked

    def _check_device_steps(self, loaded, groups):
        """A capturable group has one step count on the device: all its parameters' states, or none,
        at one step."""
        for i, group in enumerate(groups):
            if group.get("capturable"):
                steps = [saved["step"] for _, j, saved in loaded if j == i]
                if len(set(steps)) > 1 or len(steps) not in (0, len(group["params"])):
                    raise ValueError(f"{type(self).__name__}(capturable=True) keeps one step count for all "
                                     f"parameters of a group; the state holds steps {sorted(set(steps))} "
                                     f"for {len(steps)} of the {len(group['params'])} parameters of group {i}")

    def _placed_state(self, p, saved, group, flat):
        """saved's arrays copied into p's state arrays (its flat views where it has them)."""
        placed = {}
        for key, value in saved.items():
            if key == "step":
                if group.get("capturable"):
                    placed[key] = flat.device_step()
                    placed[key][...] = value
                else:
                    placed[key] = value
            elif flat is not None:
                placed[key] = flat.view(key, p)
                placed[key][...] = to_device(value, device_of(p.data)).astype(p.dtype)
            else:
                placed[key] = to_device(value, device_of(p.data)).astype(p.dtype)  # a contiguous copy
        return placed
