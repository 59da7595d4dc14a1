"""The specs of the reductions: sum, mean, var, std, max, min (values and indices), argmax,
argmin and logsumexp (the format is in ../opspec.py).

Each runs as a function and as a Tensor method, over every dim (None), one dim (negative too) and
a tuple of dims where torch takes one, with and without keepdim. Ties of max/min are fixed-value
cases: the reduction of everything shares the gradient among the tied elements, max(dim) gives
it to the first one, argmax returns the first; torch does the same, and the torch-parity and
device checks run them (a tie is a kink: no finite differences).
"""
from ..opspec import DEVICE, HOST, PARITY, Op, bad, fixed, grid

EDGES = {PARITY, DEVICE}

REDUCTIONS = [dict(dim=d, keepdim=k) for d, k in
              [(None, False), (0, False), (1, True), (-1, False), (-2, True), ((0, 2), False), ((0, 2), True),
               ((1, -1), False)]]
# The input by name: random normal values, or ties (a row with its maximum twice, a constant row, a
# row whose minimum repeats), or large logits, where exp overflows without logsumexp's shift by the
# maximum (float32 at 89, float64 at 710).
VALUES = {"random": (2, 3, 4),
          "ties": fixed([[1.0, 3.0, 3.0, 2.0], [0.5, 0.5, 0.5, 0.5], [2.0, -1.0, 4.0, -1.0]]),
          "large": fixed([[1000.0, 999.0, -1000.0], [-800.0, -801.0, -800.5]]),
          "scalar": ()}  # a 0-d tensor: its one addressable dim is itself (0 or -1)
SCALAR_DIMS = [dict(dim=None, keepdim=False), dict(dim=0, keepdim=True), dict(dim=-1, keepdim=False)]
ONE_DIM = [dims for dims in REDUCTIONS if dims["dim"] is None or isinstance(dims["dim"], int)]


def reduction(name, dims=REDUCTIONS, scalar=False, **settings):
    """scalar: 0-d inputs too (their gradient keeps its 0-d shape)."""
    return Op(name, lambda values: [VALUES[values]],
              grid(values=["random"], dims=dims, form=["method", "function"], checks=HOST)
              + grid(values=["random"], dims=dims[-3:], form=["method"], checks={DEVICE})
              + (grid(values=["scalar"], dims=SCALAR_DIMS, form=["method", "function"], checks=HOST) if scalar else []),
              call=lambda F, a, dim, keepdim, form: getattr(a, name)(dim, keepdim) if form == "method"
              else getattr(F, name)(a, dim=dim, keepdim=keepdim),
              errors=[bad(f"{name}: dim 3 is out of range for a tensor of shape (2, 3, 4) (expected a dim in "
                          f"[-3, 2])", (2, 3, 4), dim=3, keepdim=False, form="method", error=IndexError)],
              **settings)


SUM, MEAN = reduction("sum", scalar=True), reduction("mean", scalar=True)

# var and std: torch's default correction (1, unbiased), unbiased=False or True, and a correction
# of 0 or 2.
CORRECTIONS = [dict(unbiased=False), dict(unbiased=True), dict(correction=0), dict(correction=2)]


def spread(name):
    def call(F, a, dim, keepdim, form, **correction):
        if form == "method":
            return getattr(a, name)(dim, keepdim=keepdim, **correction)
        return getattr(F, name)(a, dim, keepdim=keepdim, **correction)
    return Op(name, lambda values: [VALUES[values]],
              grid(values=["random"], dims=REDUCTIONS, form=["method", "function"], checks=HOST)
              # dims of 3 or more elements: a correction of 2 leaves no divisor over 2 elements
              + grid(values=["random"], dims=[REDUCTIONS[0], REDUCTIONS[2], REDUCTIONS[-1]], correction=CORRECTIONS,
                     form=["method"], checks=HOST)
              + grid(values=["random"], dims=REDUCTIONS[-2:], correction=[{}, CORRECTIONS[2]], form=["method"],
                     checks={DEVICE}),
              call=call,
              errors=[bad(f"{name}: give unbiased or correction, not both (unbiased=True, correction=0)",
                          (2, 3), dim=None, keepdim=False, form="method", unbiased=True, correction=0)])


VAR, STD = spread("var"), spread("std")

TIED_DIMS = [dict(dim=None, keepdim=False), dict(dim=1, keepdim=False), dict(dim=-1, keepdim=True),
             dict(dim=0, keepdim=False)]


def extreme(name, part):
    """max/min: `values` (differentiable) or `indices` of max(dim)/min(dim), with the reduction of
    everything among the values."""
    def call(F, a, dim, keepdim, form):
        if dim is None:
            return getattr(a, name)() if form == "method" else getattr(F, name)(a)
        result = getattr(a, name)(dim, keepdim) if form == "method" else getattr(F, name)(a, dim, keepdim=keepdim)
        return getattr(result, part)
    dims = ONE_DIM if part == "values" else ONE_DIM[1:]
    return Op(name if part == "values" else f"{name}.indices", lambda values: [VALUES[values]],
              grid(values=["random"], dims=dims, form=["method", "function"], checks=HOST)
              + grid(values=["ties"], dims=[d for d in TIED_DIMS if part == "values" or d["dim"] is not None],
                     form=["method"], checks=EDGES)
              + grid(values=["random"], dims=dims[-2:], form=["method"], checks={DEVICE}),
              call=call, differentiable=part == "values",
              errors=[bad(f"{name}: dim -4 is out of range for a tensor of shape (2, 3, 4)", (2, 3, 4), dim=-4,
                          keepdim=False, form="function", error=IndexError),
                      bad(f"{name}: dim must be an int, got tuple (0, 1)", (2, 3, 4), dim=(0, 1), keepdim=False,
                          form="function", error=TypeError)])


MAX, MIN = extreme("max", "values"), extreme("min", "values")
MAX_INDICES, MIN_INDICES = extreme("max", "indices"), extreme("min", "indices")


def arg_extreme(name):
    return Op(name, lambda values: [VALUES[values]],
              grid(values=["random"], dims=ONE_DIM + [dict(dim=None, keepdim=True)], form=["method", "function"],
                   checks=HOST)
              + grid(values=["ties"], dims=TIED_DIMS, form=["method"], checks=EDGES)
              + grid(values=["random"], dims=ONE_DIM[-2:], form=["method"], checks={DEVICE}),
              call=lambda F, a, dim, keepdim, form: getattr(a, name)(dim, keepdim) if form == "method"
              else getattr(F, name)(a, dim=dim, keepdim=keepdim),
              differentiable=False)


ARGMAX, ARGMIN = arg_extreme("argmax"), arg_extreme("argmin")

LOGSUMEXP = Op(
    "logsumexp", lambda values: [VALUES[values]],
    grid(values=["random"], dims=REDUCTIONS[1:], form=["method", "function"], checks=HOST)
    + grid(values=["large"],
           dims=[dict(dim=1, keepdim=False), dict(dim=(0, 1), keepdim=True)], form=["method"], checks=EDGES)
    + grid(values=["random"], dims=REDUCTIONS[-2:], form=["method"], checks={DEVICE}),
    call=lambda F, a, dim, keepdim, form: a.logsumexp(dim, keepdim) if form == "method"
    else F.logsumexp(a, dim, keepdim=keepdim))

OPS = [SUM, MEAN, VAR, STD, MAX, MIN, MAX_INDICES, MIN_INDICES, ARGMAX, ARGMIN, LOGSUMEXP]
