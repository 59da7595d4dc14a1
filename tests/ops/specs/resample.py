"""The specs of adaptive_avg_pool2d, interpolate and pad (the format is in ../opspec.py)."""
from ..opspec import DEVICE, HOST, PARITY, Op, bad, case, grid

ADAPTIVE_SIZES = [(3, 4), (5, 7), 1, (2, None), 4, (7, 3), (None, 2)]  # 5 x 7 inputs: up, down, same, uneven

ADAPTIVE_AVG_POOL2D = Op(
    "adaptive_avg_pool2d", lambda shape: [shape],
    grid(shape=[(2, 3, 5, 7)], output_size=ADAPTIVE_SIZES)
    + case(shape=(1, 2, 6, 6), output_size=(4, 3)) + case(shape=(4, 16, 7, 7), output_size=1, checks={PARITY, DEVICE}),
    errors=[bad("adaptive_avg_pool2d: input must be 4-D (N, C, H, W), got shape (3, 5, 5)", (3, 5, 5), output_size=2),
            *[bad(f"adaptive_avg_pool2d: output_size must be an int >= 1 or a pair of them, got {size!r}",
                  (1, 1, 4, 4), output_size=size) for size in (0, (2, 0), (2, 2, 2), 2.5)]])

# Up and down, by size and by factor (whole and fractional), torch's recomputed scales; 5 x 7 inputs.
RESIZES = [dict(size=(8, 11)), dict(size=(3, 4)), dict(size=(10, 14)), dict(size=5), dict(scale_factor=2),
           dict(scale_factor=1.7), dict(scale_factor=(0.6, 2.3)), dict(scale_factor=1.7, recompute_scale_factor=True)]

INTERPOLATE = Op(
    "interpolate", lambda shape: [shape],
    grid(shape=[(2, 3, 5, 7)], resize=RESIZES, mode=["nearest"], checks=HOST)
    + grid(shape=[(2, 3, 5, 7)], resize=RESIZES, mode=["bilinear"], align_corners=[False, True], checks=HOST)
    + grid(shape=[(2, 2, 4, 3)], resize=[dict(scale_factor=2), dict(size=(3, 5))], mode=["nearest", "bilinear"],
           checks={DEVICE})
    + case(shape=(1, 2, 1, 1), size=(3, 2), mode="bilinear", align_corners=True)  # 1 pixel: scale 0
    + case(shape=(1, 2, 4, 4), size=(1, 1), mode="bilinear", align_corners=True),
    errors=[bad("interpolate: input must be 4-D (N, C, H, W), got shape (2, 3, 5)", (2, 3, 5), scale_factor=2),
            bad("interpolate: give exactly one of size or scale_factor, got size=(3, 4), scale_factor=2",
                (1, 1, 4, 4), size=(3, 4), scale_factor=2),
            bad("interpolate: give exactly one of size or scale_factor, got size=None", (1, 1, 4, 4)),
            bad("interpolate: size must be an int >= 1 or a pair of them, got (3, 0)", (1, 1, 4, 4), size=(3, 0)),
            bad("interpolate: scale_factor must be a number > 0 or a pair of them, got -2", (1, 1, 4, 4),
                scale_factor=-2),
            bad("interpolate: scale_factor 0.1 makes the output size (0, 0) of input (1, 1, 4, 4) empty",
                (1, 1, 4, 4), scale_factor=0.1),
            bad("interpolate: align_corners can only be set with mode='bilinear'", (1, 1, 4, 4), scale_factor=2,
                align_corners=True),
            bad("interpolate: mode 'bicubic' is not supported", (1, 1, 4, 4), scale_factor=2, mode="bicubic",
                error=NotImplementedError)])

PADS = [dict(pad=(1, 2), mode="constant"), dict(pad=(-1, 2, 0, -2), mode="constant"),  # negative pads crop
        dict(pad=(1, 2, 3, 1, 1, 0), mode="constant", value=0.5), dict(pad=(2, 3, 4, 1), mode="reflect"),
        dict(pad=(2, 3, 4, 1), mode="replicate"), dict(pad=(4, 6, 4, 4), mode="replicate"),  # beyond the size
        dict(pad=(1, 1, 1, 1, 1, 1), mode="replicate"), dict(pad=(0, 3, 2, 0), mode="reflect")]

PAD = Op(
    "pad", lambda shape: [shape],
    grid(shape=[(2, 3, 5, 7)], settings=PADS, checks=HOST)
    + grid(shape=[(2, 3, 5)], settings=[dict(pad=(2, 3), mode="reflect"), dict(pad=(1, 2), mode="replicate"),
                                         dict(pad=(0, 1, 2, 1), mode="constant")], checks=HOST)
    + grid(shape=[(2, 2, 5, 6)], settings=[PADS[1], PADS[3], PADS[5]], checks={DEVICE}),
    errors=[bad("pad: pad must be a tuple of ints of even length", (2, 3), pad=(1, 2, 3)),
            bad("pad: pad (1, 1, 1, 1, 1, 1) has 3 (before, after) pairs but the input has only 2 dimensions "
                "(shape (2, 3))", (2, 3), pad=(1, 1, 1, 1, 1, 1)),
            bad("pad: reflect padding (0, 4) of dimension 2 must be smaller than its size 4 (input (1, 3, 4))",
                (1, 3, 4), pad=(0, 4), mode="reflect"),
            bad("pad: mode='reflect' pads the last 1, 2 or 3 dimensions of a 2-3, 3-4 or 4-5 dimensional input "
                "(torch's rule); got pad (1, 1) for input (1, 1, 3, 4)", (1, 1, 3, 4), pad=(1, 1), mode="reflect"),
            bad("pad: value is only for mode='constant'", (1, 2, 3), pad=(1, 1), mode="replicate", value=1.0),
            bad("pad: mode 'circular' is not supported", (1, 2, 3), pad=(1, 1), mode="circular",
                error=NotImplementedError)])

OPS = [ADAPTIVE_AVG_POOL2D, INTERPOLATE, PAD]
