"""The specs of GELU (exact and tanh), SiLU and ELU (the format is in ../opspec.py)."""
from ..opspec import Op, bad, grid, nonzero, normal

SHAPES = [(3, 5), (2, 3, 2, 2), (3, 4, 5, 5)]
SATURATION = (-700.0, -40.0, -15.0, -0.5, 0.0, 0.5, 15.0, 40.0, 700.0)

GELU = Op("gelu", lambda shape: [normal(shape, scale=2.0)], grid(shape=SHAPES, approximate=["none", "tanh"]),
          extremes=SATURATION,
          errors=[bad("gelu: approximate must be 'none' or 'tanh', got 'erf'", (2, 3), approximate="erf")])

SILU = Op("silu", lambda shape: [normal(shape, scale=2.0)], grid(shape=SHAPES), extremes=SATURATION)

# ELU has a kink at 0 (torch's slope there is alpha, the negative side's): inputs keep away from it.
ELU = Op("elu", lambda shape: [nonzero(shape, low=0.05, high=4.0)],
         grid(shape=SHAPES) + grid(shape=SHAPES[:2], alpha=[0.3, 1.7]),
         kinks=(-1.0, 0.0, -0.0, 1.0), extremes=SATURATION)

OPS = [GELU, SILU, ELU]
