"""The specs of the shape and indexing ops: reshape, view, flatten, permute, transpose, squeeze,
unsqueeze, expand, cat, stack, split, chunk and tensor[key] (the format is in ../opspec.py).

Ops that return several tensors (split, chunk) are checked through a cat of their pieces, each
scaled by its own factor, so that a piece in the wrong place or of the wrong size changes the
output and its gradient.
"""
import dataclasses

from ..opspec import DEVICE, HOST, Op, bad, case, grid, integers, normal

RESHAPE = Op(
    "reshape", lambda shape: [shape],
    grid(shape=[(2, 3, 2, 2)], to=[(6, 4), ((4, -1),), (2, 12)], form=["method", "function"], checks=HOST)
    + case(shape=(2, 3, 2, 2), to=((4, -1),), form="method", checks={DEVICE}),
    call=lambda F, a, to, form: a.reshape(*to) if form == "method" else F.reshape(a, *to),
    errors=[bad("reshape: cannot reshape (2, 3) (6 elements) into (4, 2)", (2, 3), to=(4, 2), form="method")])

VIEW = Op("view", lambda shape: [shape],
          grid(shape=[(2, 3, 4)], to=[(6, 4), ((-1, 2, 2),), (24,)], checks=HOST)
          + case(shape=(2, 3, 4), to=(4, -1), checks={DEVICE}),
          call=lambda F, a, to: a.view(*to))

FLATTEN = Op("flatten", lambda shape: [shape],
             grid(shape=[(2, 3, 2, 2)], dims=[{}, dict(start_dim=1), dict(start_dim=1, end_dim=2),
                                              dict(start_dim=-3, end_dim=-2), dict(start_dim=2, end_dim=2)],
                  form=["function", "method"], checks=HOST)
             + case(shape=(2, 3, 2, 2), dims=dict(start_dim=1), form="method", checks={DEVICE}),
             call=lambda F, a, form, **dims: a.flatten(**dims) if form == "method" else F.flatten(a, **dims),
             errors=[bad("flatten: start_dim 2 comes after end_dim 1 (tensor of shape (2, 3, 4))", (2, 3, 4),
                         form="method", start_dim=2, end_dim=1)])

PERMUTE = Op("permute", lambda shape: [shape],
             grid(shape=[(2, 3, 4)], dims=[(2, 0, 1), (0, 2, 1), (-1, -3, 1), (0, 1, 2)], form=["method", "function"],
                  checks=HOST)
             + case(shape=(2, 3, 4), dims=(2, 0, 1), form="method", checks={DEVICE}),
             call=lambda F, a, dims, form: a.permute(*dims) if form == "method" else F.permute(a, dims),
             errors=[bad("permute: 2 dims (1, 0) for a tensor of shape (2, 3, 4)", (2, 3, 4), dims=(1, 0),
                         form="method"),
                     bad("permute: dims (0, 1, -3) repeat a dim (tensor of shape (2, 3, 4))", (2, 3, 4),
                         dims=(0, 1, -3), form="method")])

TRANSPOSE = Op("transpose", lambda shape: [shape],
               grid(shape=[(2, 3, 4)], dims=[(0, 1), (-1, 0), (1, 1)], form=["method", "function"], checks=HOST)
               + case(shape=(2, 3, 4), dims=(0, 2), form="method", checks={DEVICE}),
               call=lambda F, a, dims, form: a.transpose(*dims) if form == "method" else F.transpose(a, *dims),
               errors=[bad("transpose: dim 3 is out of range for a tensor of shape (2, 3, 4)", (2, 3, 4),
                           dims=(0, 3), form="method", error=IndexError)])


def squeeze(F, a, form, **dim):
    return a.squeeze(**dim) if form == "method" else F.squeeze(a, **dim)


SQUEEZE = Op("squeeze", lambda shape: [shape],
             # Only dims of size 1 go; a named dim of another size stays, as torch.
             grid(shape=[(2, 1, 3, 1)], dim=[{}, dict(dim=1), dict(dim=-1), dict(dim=0), dict(dim=(1, 3)),
                                            dict(dim=(0, 1))], form=["method", "function"], checks=HOST)
             + case(shape=(1, 3, 1), dim={}, form="method", checks={DEVICE}),
             call=squeeze)

UNSQUEEZE = Op("unsqueeze", lambda shape: [shape],
               grid(shape=[(2, 3)], dim=[0, 1, 2, -1, -3], form=["method", "function"], checks=HOST)
               + case(shape=(2, 3), dim=-1, form="method", checks={DEVICE}),
               call=lambda F, a, dim, form: a.unsqueeze(dim) if form == "method" else F.unsqueeze(a, dim),
               errors=[bad("unsqueeze: dim 3 is out of range for a tensor of shape (2, 3) (expected a dim in "
                           "[-3, 2])", (2, 3), dim=3, form="method", error=IndexError)])

# expand: dims of size 1 grow, -1 keeps one, new dims come first.
EXPANSIONS = [dict(shape=(3, 1), sizes=(3, 4)), dict(shape=(3, 1, 2), sizes=(-1, 5, -1)),
              dict(shape=(1, 4), sizes=(2, 3, 4)), dict(shape=(2, 3), sizes=(2, 3))]
EXPAND = Op("expand", lambda shape: [shape],
            grid(expansion=EXPANSIONS, checks=HOST) + case(expansion=EXPANSIONS[2], checks={DEVICE}),
            call=lambda F, a, sizes: a.expand(*sizes),
            errors=[bad("expand: cannot expand a tensor of shape (2, 3) to (4, 3)", (2, 3), sizes=(4, 3))])

# sum_to_size: down to a shape the input could have been broadcast from (fewer dims, dims of 1).
SUM_TO_SIZE = Op("sum_to_size", lambda shape: [shape],
                 grid(reduction=[dict(shape=(2, 3, 4), size=(3, 1)), dict(shape=(2, 3, 4), size=(1, 3, 4)),
                                 dict(shape=(3, 4), size=(3, 4)), dict(shape=(2, 3), size=(1,))], checks=HOST)
                 + case(reduction=dict(shape=(2, 3, 4), size=(3, 1)), checks={DEVICE}),
                 call=lambda F, a, size: a.sum_to_size(*size),
                 errors=[bad("sum_to_size: size (2,) is not one that a tensor of shape (2, 3) was broadcast from",
                             (2, 3), size=(2,))])

# cat: three tensors that differ in the size of dim.
CAT_SHAPES = {0: [(1, 3, 4), (2, 3, 4), (3, 3, 4)], 1: [(2, 1, 4), (2, 3, 4), (2, 2, 4)],
              -1: [(2, 3, 1), (2, 3, 2), (2, 3, 3)]}
CAT = Op("cat", lambda along: CAT_SHAPES[along],
         grid(settings=[dict(along=d, dim=d) for d in CAT_SHAPES], checks=HOST)
         + case(settings=dict(along=1, dim=1), checks={DEVICE}),
         call=lambda F, a, b, c, dim: F.cat([a, b, c], dim),
         errors=[bad("cat: tensor 1 has shape (2, 2, 4), tensor 0 (2, 3, 4); they must match in every dim but "
                     "dim 0", (2, 3, 4), (2, 2, 4), (2, 2, 4), dim=0)])


def stack(F, a, b, c, dim, form):
    return F.stack((a, b, c), dim) if form == "tuple" else F.stack([a, b, c], dim=dim)


STACK = Op("stack", lambda: [(2, 3), (2, 3), (2, 3)],
           grid(dim=[0, 1, 2, -1, -3], form=["list", "tuple"], checks=HOST)
           + case(dim=-1, form="list", checks={DEVICE}),
           call=stack,
           errors=[bad("stack: the tensors must have one shape, got [(2, 3), (3, 2), (2, 3)]", (2, 3), (3, 2), (2, 3),
                       dim=0, form="list"),
                   bad("stack: dim 3 is out of range for a tensor of shape (2, 3) (expected a dim in [-3, 2])",
                       (2, 3), (2, 3), (2, 3), dim=3, form="list", error=IndexError)])


def scaled_cat(F, pieces, dim):
    return F.cat([piece * (i + 1) for i, piece in enumerate(pieces)], dim)


def split(F, a, sections, dim, form):
    return scaled_cat(F, a.split(sections, dim) if form == "method" else F.split(a, sections, dim=dim), dim)


SPLIT = Op("split", lambda: [(5, 4)],
           grid(sections=[2, 5, 1, [1, 3, 1], [0, 5]], dim=[0], form=["method", "function"], checks=HOST)
           + grid(sections=[3, [2, 2]], dim=[-1], form=["method"], checks=HOST)
           + case(sections=2, dim=0, form="method", checks={DEVICE}),
           call=split,
           errors=[bad("split: sizes [2, 2] do not add up to 5, the size of dim 0 of the tensor of shape (5, 4)",
                       (5, 4), sections=[2, 2], dim=0, form="method")])


def chunk(F, a, chunks, dim, form):
    return scaled_cat(F, a.chunk(chunks, dim) if form == "method" else F.chunk(a, chunks, dim=dim), dim)


CHUNK = Op("chunk", lambda: [(6, 5)],
           # 6 in 4 chunks is 3 of 2 (torch's rule: chunks of ceil(6 / 4)), 5 in 3 is 2, 2, 1.
           grid(chunks=[1, 2, 4, 6, 8], dim=[0], form=["method", "function"], checks=HOST)
           + grid(chunks=[3], dim=[1, -1], form=["method"], checks=HOST)
           + case(chunks=4, dim=0, form="method", checks={DEVICE}),
           call=chunk,
           errors=[bad("chunk: chunks must be positive, got 0", (6, 5), chunks=0, dim=0, form="method")])

# tensor[key]: the key's tensors come from the inputs `positions` (int64, negative ones too,
# repeated: their gradients add up) and `mask` (a boolean mask from a comparison).
KEYS = {
    "int": lambda positions, mask: 1,
    "negative-int": lambda positions, mask: (-1, 2),
    "slices": lambda positions, mask: (slice(None), slice(1, None, 2)),
    "none-ellipsis": lambda positions, mask: (None, Ellipsis, slice(0, 2)),
    "int-slice-none": lambda positions, mask: (0, None, slice(1, 3)),
    "positions": lambda positions, mask: positions,
    "positions-list": lambda positions, mask: [2, 0, 2, -1],
    "positions-slice": lambda positions, mask: (slice(None), positions),
    "positions-pair": lambda positions, mask: (positions, positions),
    "positions-ellipsis": lambda positions, mask: (Ellipsis, positions, slice(None)),
    "mask": lambda positions, mask: mask > 0,
    "mask-row": lambda positions, mask: (mask[:, 0, 0] > 0, slice(1, None)),
    "out-of-range": lambda positions, mask: (0, 5),  # for the error only
}


def index_inputs():
    return [(3, 4, 2), integers((6,), high=3, low=-3), dataclasses.replace(normal((3, 4, 2)), grad=False)]


GETITEM = Op("getitem", index_inputs,
             grid(key=[k for k in KEYS if k != "out-of-range"], checks=HOST)
             + grid(key=["slices", "positions-pair", "mask"], checks={DEVICE}),
             call=lambda F, a, positions, mask, key: a[KEYS[key](positions, mask)],
             errors=[bad("indexing a tensor of shape (3, 4, 2): index 5 is out of bounds", (3, 4, 2), None,
                         (3, 4, 2), key="out-of-range", error=IndexError)])

OPS = [RESHAPE, VIEW, FLATTEN, PERMUTE, TRANSPOSE, SQUEEZE, UNSQUEEZE, EXPAND, SUM_TO_SIZE, CAT, STACK, SPLIT, CHUNK, GETITEM]
