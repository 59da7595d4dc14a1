"""The specs of group, instance and layer normalization (the format is in ../opspec.py)."""
from ..opspec import DEVICE, F64, GRADCHECK, HOST, Op, bad, case, grid, normal, running, torch_weight_of_ones, uniform


def affine(c, weight, bias):
    return [normal((c,)) if weight else None, normal((c,)) if bias else None]


# --- group normalization ---------------------------------------------------------------------

def group_norm_inputs(shape, groups, weight=True, bias=True):
    return [normal(shape, scale=3.0, shift=1.0), groups, *affine(shape[1], weight, bias)]


GROUP_NORM = Op(
    "group_norm", group_norm_inputs,
    grid(shape=[(3, 6, 3, 2)], groups=[1, 2, 3, 6], eps=[1e-3])
    + grid(shape=[(2, 4, 5), (3, 6), (2, 6, 2, 2, 2)], groups=[2],
           parameters=[dict(weight=True, bias=True), dict(weight=True, bias=False), dict(weight=False, bias=False)])
    # A bias without a weight: torch 2.13's backward fails on it ("tensor does not have a device").
    + grid(shape=[(2, 4, 5), (2, 6, 2, 2, 2)], groups=[2], weight=[False], checks={GRADCHECK, DEVICE})
    + case(shape=(1, 4, 3, 3), groups=2)  # a batch of one
    + case(shape=(8, 32, 8, 8), groups=8, checks=HOST),  # a real layer (directional gradient check)
    errors=[
        bad("group_norm: num_groups 4 does not divide the 6 channels of input (2, 6, 3, 3)", (2, 6, 3, 3), 4),
        bad("group_norm: num_groups must be an int >= 1, got 0", (2, 6, 3, 3), 0),
        bad("group_norm: input must be (N, C, *), got shape (6,)", (6,), 2),
        bad("group_norm: weight must have shape (6,) for input (2, 6, 3, 3), got (3,)", (2, 6, 3, 3), 3, (3,)),
        bad("group_norm: bias must have shape (6,) for input (2, 6, 3), got (6, 1)", (2, 6, 3), 3, (6,), (6, 1)),
    ])


# --- instance normalization ------------------------------------------------------------------

def instance_norm_inputs(shape, statistics=True, weight=True, bias=True):
    """x, running_mean, running_var, weight, bias."""
    c = shape[1]
    stats = [running(normal((c,))), running(uniform((c,), 0.5, 2.0))] if statistics else [None, None]
    return [normal(shape, scale=3.0, shift=1.0), *stats, *affine(c, weight, bias)]


INSTANCE_NORM = Op(
    "instance_norm", instance_norm_inputs,
    grid(shape=[(3, 2, 3, 4), (2, 3, 5)], statistics=[True, False], weight=[True, False], momentum=[0.25],
         eps=[1e-3])
    + grid(shape=[(3, 2, 3, 4)], use_input_stats=[False], weight=[True, False], bias=[True, False])
    + case(shape=(1, 3, 2, 2))  # a batch of one: the running statistics move to its own
    + case(shape=(2, 3, 1, 2), use_input_stats=False)  # one row: only the running statistics can do
    + case(shape=(4, 16, 16, 16), checks=HOST)  # a real layer (directional gradient check)
    + case(shape=(2, 3, 4, 4), momentum=0.0, dtypes=[F64]),  # nn.InstanceNorm2d's momentum=None
    torch=torch_weight_of_ones("instance_norm", 3),
    errors=[
        bad("instance_norm: input must be (N, C, *spatial) with at least one spatial dimension, got shape (2, 3)",
            (2, 3)),
        bad("instance_norm: using the input's statistics needs more than 1 spatial element, got input shape "
            "(2, 3, 1, 1)", (2, 3, 1, 1)),
        bad("instance_norm: weight must have shape (3,) for input (2, 3, 4, 4), got (4,)",
            (2, 3, 4, 4), None, None, (4,)),
        bad("instance_norm: running_var must have shape (3,) for input (2, 3, 4, 4), got (2,)",
            (2, 3, 4, 4), (3,), (2,)),
        bad("instance_norm: give both running_mean and running_var, or neither", (2, 3, 4, 4), (3,), None),
        bad("instance_norm: use_input_stats=False needs running_mean and running_var", (2, 3, 4, 4),
            use_input_stats=False),
    ])


# --- layer normalization ---------------------------------------------------------------------

def layer_norm_inputs(shape, dims=1, weight=True, bias=True, form="list"):
    """x, normalized_shape (the last dims of shape: a list, or an int), weight, bias."""
    normalized = shape[len(shape) - dims:]
    parameters = [normal(normalized) if weight else None, normal(normalized) if bias else None]
    return [normal(shape, scale=3.0, shift=1.0), normalized[0] if form == "int" else list(normalized),
            *parameters]


def layer_norm_torch(F, x, normalized_shape, *args, **kwargs):
    """torch's function takes no int normalized_shape (its module does; minigan's function does)."""
    return torch_weight_of_ones("layer_norm", 2)(
        F, x, [normalized_shape] if isinstance(normalized_shape, int) else normalized_shape, *args, **kwargs)


LAYER_NORM = Op(
    "layer_norm", layer_norm_inputs,
    grid(shape=[(4, 5), (2, 3, 4)], dims=[1, 2], weight=[True, False], bias=[True, False], eps=[1e-3])
    + grid(shape=[(2, 3, 2, 3)], dims=[1, 3, 4])
    + case(shape=(6,), dims=1)  # one row
    + case(shape=(3, 7), form="int")
    + case(shape=(8, 16, 64), checks=HOST),  # a transformer's tokens (directional gradient check)
    torch=layer_norm_torch,
    errors=[
        bad("layer_norm: normalized_shape (4,) must be the last dimensions of input (2, 3)", (2, 3), 4),
        bad("layer_norm: normalized_shape (2, 3, 4) must be the last dimensions of input (3, 4)", (3, 4), [2, 3, 4]),
        bad("layer_norm: normalized_shape () must be the last dimensions of input (3, 4)", (3, 4), []),
        bad("layer_norm: weight must have shape (3, 4) for input (2, 3, 4), got (4,)", (2, 3, 4), [3, 4], (4,)),
        bad("layer_norm: bias must have shape (4,) for input (2, 3, 4), got (3,)", (2, 3, 4), 4, None, (3,)),
    ])

OPS = [GROUP_NORM, INSTANCE_NORM, LAYER_NORM]
