"""The GEMM engines at every product of the DCGAN-32 and DCGAN-64 steps, on the emulated GPU,
and the new paths (split-K, GEMV) at the shapes that take them. No GPU ran these: the
kernels ran on the CPU emulator (tests/support/cuda_emulator.py), cp.async as plain copies.

The products are those kernels.matmul sees in a D+G step at batch 1 with the default
widths (tests/support/dcgan_products.py, checked against a fresh recording here). The
emulator does about 3 million multiply-adds a second, so a product of more than
EMULATED_FMA_BUDGET runs scaled: its largest dimension halved until it fits, keeping the
transposes and the path the kernels take (GEMV, split-K or whole K; asserted). The
error bounds are test_gemm.py's, from K and the unit roundoff.
"""
import numpy
import pytest

from minigan.kernels import gemm as family
from support import dcgan_products
from .test_gemm import FLAG_IDS, FLAGS, MODES, assert_within_bound, operands

EMULATED_FMA_BUDGET = 300_000


def path(m, n, k, tf32=False):
    """The kernels a product takes: "gemv", "split-K" or "whole K" (kernels/gemm.py's dispatch)."""
    if not tf32 and (m == 1 or n == 1) and k:
        return "gemv"
    return "split-K" if family.k_slices(m, n, k)[0] > 1 else "whole K"


def emulated_cost(m, n, k, tf32):
    """Multiply-adds the emulator runs: the GEMM kernels compute whole 64x64 tiles of C."""
    if path(m, n, k, tf32) == "gemv":
        return m * n * k
    return -(-m // family.GEMM_TILE) * -(-n // family.GEMM_TILE) * family.GEMM_TILE ** 2 * k


def affordable(m, n, k, tf32):
    """(M, N, K) itself within the budget, else scaled: the largest dimension whose halving keeps
    the product on its path halved (M and N no smaller than a tile, or than they were), until
    it fits or no halving does."""
    shape, floors = (m, n, k), (min(m, family.GEMM_TILE), min(n, family.GEMM_TILE), 1)
    while emulated_cost(*shape, tf32) > EMULATED_FMA_BUDGET:
        for dim in sorted(range(3), key=lambda d: -shape[d]):
            halved = tuple(-(-v // 2) if d == dim else v for d, v in enumerate(shape))
            if halved[dim] >= floors[dim] and halved != shape and path(*halved, tf32) == path(*shape, tf32):
                shape = halved
                break
        else:
            break
    return shape


def step_products():
    """pytest params (mode, real shape, shape run, flags) of every product, in float32 and TF32
    (float64 shares float32's template; test_gemm.py runs it at odd shapes)."""
    params = []
    for mode in (MODES[0], MODES[2]):
        dtype, tf32 = mode.values
        for size, products in dcgan_products.PRODUCTS.items():
            for (m, n, k, trans_a, trans_b), calls in products.items():
                run = affordable(m, n, k, tf32)
                name = f"{mode.id}-dcgan{size}-{m}x{n}x{k}-{FLAG_IDS[FLAGS.index((trans_a, trans_b))]}-x{calls}"
                name += "" if run == (m, n, k) else f"-scaled-{run[0]}x{run[1]}x{run[2]}"
                params.append(pytest.param(dtype, tf32, (m, n, k), run, trans_a, trans_b, id=name))
    return params


@pytest.mark.parametrize("dtype, tf32, real, run, trans_a, trans_b", step_products())
def test_emulated_engines_at_the_steps_products(emulated_gpu, rng, dtype, tf32, real, run, trans_a, trans_b):
    assert path(*run, tf32) == path(*real, tf32), f"scaled {run} takes another path than {real}"
    a, b, op_a, op_b = operands(rng, *run, trans_a, trans_b, dtype)
    assert_within_bound(family.gemm(a, b, trans_a, trans_b, tf32), op_a, op_b, dtype, tf32)


def test_the_recorded_products_are_the_steps():
    """The table is what a step's kernels.matmul sees now (regenerate it if not: see its module)."""
    for size, products in dcgan_products.PRODUCTS.items():
        assert dcgan_products.record(size) == products, f"DCGAN-{size}: the step's products changed"


# ---------- split-K ----------

def test_split_k_cuts_only_tall_products_of_few_tiles_and_by_shape_alone():
    """D1/G4's weight gradient at batch 128 (64x48, K = 32768) runs as 128 slices of 256 instead
    of one block; a product that fills the GPU, or has a short K, is not cut."""
    assert family.k_slices(64, 48, 32768) == (128, 256)
    assert family.k_slices(64, 48, 4096) == (16, 256)
    assert family.k_slices(256, 2048, 16384) == (3, 5472)  # 128 tiles: 3 slices fill the GPU
    assert family.k_slices(2048, 1024, 4096) == (1, 4096)  # 512 tiles: enough blocks
    assert family.k_slices(64, 64, 511) == (1, 512)  # too short to cut twice
    assert family.k_slices(3, 5, 0) == (1, 16)
    for m, n, k in [(64, 48, 1000), (130, 67, 777), (64, 48, 32768)]:
        slices, k_slice = family.k_slices(m, n, k)
        assert k_slice % family.GEMM_TILE_K == 0 and (slices - 1) * k_slice < k <= slices * k_slice


# A tall-K product of one C tile: the DCGAN-32 D1/G4 weight gradient's structure (64x48,
# B transposed) at batch 8 (K = 2048, 8 slices); at batch 128 it is K = 32768, too slow here.
TALL = (64, 48, 2048)


@pytest.mark.parametrize("dtype, tf32", MODES)
def test_emulated_split_k_is_within_the_bound_and_bit_reproducible(emulated_gpu, rng, dtype, tf32):
    assert path(*TALL) == "split-K"
    a, b, op_a, op_b = operands(rng, *TALL, False, True, dtype)
    c = family.gemm(a, b, False, True, tf32)
    assert_within_bound(c, op_a, op_b, dtype, tf32)
    numpy.testing.assert_array_equal(family.gemm(a, b, False, True, tf32), c)
    numpy.testing.assert_array_equal(family.gemm(numpy.ascontiguousarray(a.T), numpy.ascontiguousarray(b.T),
                                                 True, False, tf32), c)


def test_emulated_split_k_of_integers_is_exact(emulated_gpu, rng):
    """Every slice and the sum of the slices exact: no k term dropped or counted twice at the
    seams (K = 1000 is not a multiple of the slice)."""
    a, b, op_a, op_b = operands(rng, 70, 33, 1000, True, False, numpy.float32, integers=True)
    assert family.k_slices(70, 33, 1000)[0] > 1
    numpy.testing.assert_array_equal(family.gemm(a, b, True, False), op_a @ op_b)


# ---------- GEMV ----------

GEMV_SHAPES = [(1, 300, 4096), (1, 4096, 3), (257, 1, 999), (1, 1, 5000), (1, 70, 1)]


@pytest.mark.parametrize("trans_a, trans_b", FLAGS, ids=FLAG_IDS)
@pytest.mark.parametrize("m, n, k", GEMV_SHAPES)
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_emulated_gemv_is_within_the_bound(emulated_gpu, rng, dtype, m, n, k, trans_a, trans_b):
    assert path(m, n, k) == "gemv"
    a, b, op_a, op_b = operands(rng, m, n, k, trans_a, trans_b, dtype)
    launches = family.EXACT.kernel("gemv", dtype).launches
    assert_within_bound(family.gemm(a, b, trans_a, trans_b), op_a, op_b, dtype)
    assert family.EXACT.kernel("gemv", dtype).launches == launches + 1


@pytest.mark.parametrize("m, n, k", GEMV_SHAPES)
def test_emulated_gemv_of_integers_is_exact_in_every_layout(emulated_gpu, rng, m, n, k):
    for trans_a, trans_b in FLAGS:
        a, b, op_a, op_b = operands(rng, m, n, k, trans_a, trans_b, numpy.float32, integers=True)
        numpy.testing.assert_array_equal(family.gemm(a, b, trans_a, trans_b), op_a @ op_b)
