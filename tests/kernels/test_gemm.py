"""The GPU's own GEMM (kernels/gemm.py): kernels/cuda/gemm.cu (exact) and gemm_tf32.cu (tensor cores).

Every product is compared with the float64 product under an elementwise
bound derived from K and the unit roundoff, not tuned to what the kernels
happen to reach: a K-term dot product summed in arithmetic of unit roundoff u
is off by at most gamma_K = K u / (1 - K u) times sum_k |a_k b_k|, in any
summation order (Higham, Accuracy and Stability of Numerical Algorithms, 2nd
ed., sec. 3.1; fused multiply-adds only tighten it). Small-integer operands,
whose float32 products are exact, catch what a bound this wide could let
through (a dropped or repeated k term).

The emulated tests run gemm.cu on the CPU (tests/support/cuda_emulator.py) at odd
shapes and at the DCGAN-32 shapes at batch 1. The `cupy` tests run every
DCGAN-32 product at batch 64 and 128 on a real GPU: there they are the check
of the real kernels, the TF32 one included. (The CPU has no GEMM of its own:
its matmul is BLAS.)
"""
import re

import numpy
import pytest

from minigan import backend
from minigan.kernels import _cuda, gemm as family

CUDA_DIR = _cuda.CUDA_DIR
FLAGS = [(False, False), (True, False), (False, True), (True, True)]
FLAG_IDS = ["nn", "tn", "nt", "tt"]  # op(a), op(b): n as stored, t transposed
TF32_UNIT_ROUNDOFF = 2.0 ** -11  # 10 stored mantissa bits, rounded to nearest (cvt.rna)
# Tensor cores may align and add with truncation (Fasi et al., "Numerical behavior
# of NVIDIA tensor cores", PeerJ CS 2021): twice float32's round-to-nearest unit.
TENSOR_CORE_UNIT_ROUNDOFF = 2.0 ** -23
MODES = [pytest.param(numpy.float32, False, id="f32"),
         pytest.param(numpy.float64, False, id="f64"),
         pytest.param(numpy.float32, True, id="tf32")]


def gamma(k, unit_roundoff):
    return k * unit_roundoff / (1 - k * unit_roundoff)


def relative_bound(k, dtype, tf32=False):
    """Bound on |C - op(a) @ op(b)| / (|op(a)| @ |op(b)|), elementwise, for a K-term product.

    The kernel's own gamma_K; TF32 adds the rounding of both inputs to 10
    mantissa bits ((1 + u_t)^2 - 1 per product) and sums in float32 that may
    truncate. The reference and the bound's |a| @ |b| are float64 products
    too, each within gamma_K(2^-53), hence the last term and the division. For
    float64 and K <= 4096 this is below 1e-12.
    """
    reference = gamma(k, 2.0 ** -53)
    if tf32:
        u = TF32_UNIT_ROUNDOFF
        kernel = 2 * u + u * u + gamma(k, TENSOR_CORE_UNIT_ROUNDOFF) * (1 + u) ** 2
    else:
        kernel = gamma(k, numpy.finfo(dtype).eps / 2)
    return (kernel + reference) / (1 - reference)


def operands(rng, m, n, k, trans_a, trans_b, dtype, integers=False):
    """(a, b) as stored for the flags, and op(a), op(b) as float64 arrays."""
    def draw(shape):
        values = rng.integers(-8, 9, size=shape) if integers else rng.standard_normal(shape)
        return values.astype(dtype)

    op_a, op_b = draw((m, k)), draw((k, n))
    a = numpy.ascontiguousarray(op_a.T) if trans_a else op_a
    b = numpy.ascontiguousarray(op_b.T) if trans_b else op_b
    return a, b, op_a.astype(numpy.float64), op_b.astype(numpy.float64)


def assert_within_bound(c, op_a, op_b, dtype, tf32=False):
    """c is op_a @ op_b in dtype, C-contiguous, every element within the rounding-error bound."""
    k = op_a.shape[1]
    assert c.shape == (op_a.shape[0], op_b.shape[1]) and c.dtype == dtype and c.flags.c_contiguous
    error = numpy.abs(c.astype(numpy.float64) - op_a @ op_b)
    bound = relative_bound(k, dtype, tf32) * (numpy.abs(op_a) @ numpy.abs(op_b))
    if error.size and not (error <= bound).all():
        worst = numpy.unravel_index(numpy.argmax(error - bound), error.shape)
        pytest.fail(f"C{c.shape} off by {error[worst]:.3g} at {worst}, bound {bound[worst]:.3g} "
                    f"(K = {k}, {numpy.dtype(dtype).name}{', tf32' if tf32 else ''}); "
                    f"{int((error > bound).sum())} elements beyond it")


# ---------- the DCGAN-32 products ----------

# minigan/models/dcgan.py at image size 32, nz 100, ngf = ndf = 64, nc 3: each
# layer's weight shape (4x4 kernels) and its small side (the conv's output, the
# transposed conv's input; 1 where the kernel covers the whole image).
DCGAN32_LAYERS = {"G1": ((100, 256, 4, 4), 1), "G2": ((256, 128, 4, 4), 4),
                  "G3": ((128, 64, 4, 4), 8), "G4": ((64, 3, 4, 4), 16),
                  "D1": ((64, 3, 4, 4), 16), "D2": ((128, 64, 4, 4), 8),
                  "D3": ((256, 128, 4, 4), 4), "D4": ((1, 256, 4, 4), 1)}


def conv_products(weight_shape, small_side, batch):
    """{conv.py function: (M, N, K, trans_a, trans_b)} of the three GEMMs of one layer.

    With W = weight.reshape(R, Q) and P = batch * small_side^2 columns:
    im2col_gemm is W @ col (col (Q, P)), gemm_col2im is W.T @ x (x (R, P)),
    weight_grad is grad (R, P) @ col.T. Where the kernel covers the image,
    col is the transposed view of x (P, Q) and gemm_col2im is x (P, R) @ W.
    """
    rows, cols = weight_shape[0], weight_shape[1] * weight_shape[2] * weight_shape[3]
    pixels = batch * small_side ** 2
    if small_side == 1:
        return {"im2col_gemm": (rows, pixels, cols, False, True),
                "gemm_col2im": (pixels, cols, rows, False, False),
                "weight_grad": (rows, cols, pixels, False, False)}
    return {"im2col_gemm": (rows, pixels, cols, False, False),
            "gemm_col2im": (cols, pixels, rows, True, False),
            "weight_grad": (rows, cols, pixels, False, True)}


def dcgan32_products(*batches):
    """Every distinct (batch, M, N, K, trans_a, trans_b) of DCGAN-32, as pytest params named by layer.

    conv2d's forward is im2col_gemm and its input gradient gemm_col2im;
    conv_transpose2d the other way round. D1 repeats G4's shapes, D2 G3's, D3 G2's.
    """
    params = []
    for batch in batches:
        names = {}
        for layer, (weight_shape, small_side) in DCGAN32_LAYERS.items():
            for function, shape in conv_products(weight_shape, small_side, batch).items():
                names.setdefault(shape, []).append(f"{layer}.{function}")
        params += [pytest.param(batch, *shape, id=f"batch{batch}-" + "+".join(ids))
                   for shape, ids in names.items()]
    return params


def test_dcgan32_products_match_conv_py_by_hand():
    """The table against shapes read off conv.py by hand, at batch 64 (B)."""
    shapes = {p.id.removeprefix("batch64-"): p.values[1:] for p in dcgan32_products(64)}
    # G2 forward: weight (256, 128*16).T @ x (256, B*4*4); D3's input gradient is the same GEMM.
    assert shapes["G2.gemm_col2im+D3.gemm_col2im"] == (2048, 64 * 16, 256, True, False)
    # D2 forward: weight (128, 64*16) @ col (64*16, B*8*8), and its weight gradient against col.T.
    assert shapes["G3.im2col_gemm+D2.im2col_gemm"] == (128, 64 * 64, 1024, False, False)
    assert shapes["G3.weight_grad+D2.weight_grad"] == (128, 1024, 64 * 64, False, True)
    # The whole-image layers: col is x (B, 4096) seen transposed, no copy.
    assert shapes["G1.im2col_gemm"] == (100, 64, 4096, False, True)
    assert shapes["D4.im2col_gemm"] == (1, 64, 4096, False, True)
    assert shapes["D4.gemm_col2im"] == (64, 4096, 1, False, False)
    assert max(p.values[3] for p in dcgan32_products(64)) == 64 * 16 * 16  # K: G4/D1 weight gradients
    assert max(p.values[2] for p in dcgan32_products(64)) == 64 * 16 * 16  # N: G4/D1, 16x16 small side
    assert len(shapes) == 3 * 8 - 3 * 3  # D1, D2, D3 repeat the GEMMs of G4, G3, G2


# ---------- the exact kernel on the emulator ----------

ODD_SHAPES = [(1, 1, 1), (1, 67, 33), (70, 1, 17), (65, 66, 1), (130, 67, 35)]  # (M, N, K)


@pytest.mark.parametrize("trans_a, trans_b", FLAGS, ids=FLAG_IDS)
@pytest.mark.parametrize("m, n, k", ODD_SHAPES)
@pytest.mark.parametrize("dtype, tf32", MODES)
def test_emulated_gemm_at_odd_shapes(emulated_gpu, rng, dtype, tf32, m, n, k, trans_a, trans_b):
    a, b, op_a, op_b = operands(rng, m, n, k, trans_a, trans_b, dtype)
    assert_within_bound(family.gemm(a, b, trans_a, trans_b, tf32), op_a, op_b, dtype, tf32)


@pytest.mark.parametrize("trans_a, trans_b", FLAGS, ids=FLAG_IDS)
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_emulated_integer_products_are_exact(emulated_gpu, rng, dtype, trans_a, trans_b):
    """Integers up to 8 in magnitude: every partial sum is exact, so C must equal the product."""
    a, b, op_a, op_b = operands(rng, 97, 71, 53, trans_a, trans_b, dtype, integers=True)
    numpy.testing.assert_array_equal(family.gemm(a, b, trans_a, trans_b), op_a @ op_b)


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_emulated_gemm_is_deterministic_and_layout_free(emulated_gpu, rng, dtype):
    """Bit-identical on a second run, and for every transpose layout of the same operands:
    the summation order is fixed by k alone."""
    a, b, _, _ = operands(rng, 75, 70, 40, False, False, dtype)
    first = family.gemm(a, b)
    numpy.testing.assert_array_equal(family.gemm(a, b), first)
    for trans_a, trans_b in FLAGS[1:]:
        stored_a = numpy.ascontiguousarray(a.T) if trans_a else a
        stored_b = numpy.ascontiguousarray(b.T) if trans_b else b
        numpy.testing.assert_array_equal(family.gemm(stored_a, stored_b, trans_a, trans_b), first)


@pytest.mark.parametrize("batch, m, n, k, trans_a, trans_b", dcgan32_products(1))
@pytest.mark.parametrize("dtype, tf32", MODES)
def test_emulated_gemm_at_dcgan32_shapes(emulated_gpu, rng, dtype, tf32, batch, m, n, k, trans_a, trans_b):
    a, b, op_a, op_b = operands(rng, m, n, k, trans_a, trans_b, dtype)
    assert_within_bound(family.gemm(a, b, trans_a, trans_b, tf32), op_a, op_b, dtype, tf32)


# ---------- the launch wrapper's checks, and matmul's engines ----------

def test_gemm_errors_name_the_shapes(emulated_gpu):
    f32, f64 = numpy.zeros((3, 4), numpy.float32), numpy.zeros((4, 5), numpy.float64)
    with pytest.raises(ValueError, match=r"op\(a\) is \(3, 4\).*op\(b\) is \(5, 4\).*4 and 5 differ"):
        family.gemm(f32, numpy.zeros((4, 5), numpy.float32), trans_b=True)
    with pytest.raises(ValueError, match=r"op\(a\) is \(4, 3\).*inner dimensions 3 and 4 differ"):
        family.gemm(f32, numpy.zeros((4, 5), numpy.float32), trans_a=True)
    with pytest.raises(TypeError, match=r"float32 \(3, 4\).*float64 \(4, 5\)"):
        family.gemm(f32, f64)
    with pytest.raises(TypeError, match=r"tf32 is a float32 mode, got float64"):
        family.gemm(numpy.zeros((3, 4)), f64, tf32=True)
    with pytest.raises(ValueError, match=r"2-D.*\(2, 3, 4\)"):
        family.gemm(numpy.zeros((2, 3, 4), numpy.float32), f32)
    with pytest.raises(TypeError, match="float32"):
        family.gemm(numpy.zeros((3, 4), numpy.int64), numpy.zeros((4, 5), numpy.int64))


def test_gemm_with_an_empty_inner_dimension_is_zero(emulated_gpu):
    c = family.gemm(numpy.zeros((3, 0), numpy.float32), numpy.zeros((0, 5), numpy.float32))
    numpy.testing.assert_array_equal(c, numpy.zeros((3, 5), numpy.float32))
    assert family.gemm(numpy.zeros((0, 4)), numpy.zeros((4, 5))).shape == (0, 5)


def test_matmul_runs_on_the_engine_it_is_given(emulated_gpu, rng):
    """cuBLAS (here NumPy's @), the exact kernel or the TF32 one, each launched only when named;
    a transposed view goes to gemm through its flag."""
    a, b = rng.standard_normal((5, 7)).astype(numpy.float32), rng.standard_normal((5, 3)).astype(numpy.float32)
    kernels = {"exact": (family.EXACT, "gemm", numpy.float32), "tf32": (family.TF32, "gemm_tf32", None)}
    launches = {engine: lambda s=source, n=name, d=dtype: s.kernel(n, d).launches
                for engine, (source, name, dtype) in kernels.items()}
    for engine in family.MATMUL_ENGINES:
        before = {e: count() for e, count in launches.items()}
        c = emulated_gpu.matmul(a.T, b, engine)
        assert_within_bound(c, a.T.astype(numpy.float64), b.astype(numpy.float64), numpy.float32,
                            tf32=engine == "tf32")
        assert {e: count() - before[e] for e, count in launches.items()} == \
            {e: int(e == engine) for e in launches}, engine
    with pytest.raises(ValueError, match=r"engine must be one of \('cublas', 'exact', 'tf32'\), got 'fast'"):
        emulated_gpu.matmul(a, b.T, "fast")


def test_cpu_outer_product_rounds_each_product_once(rng):
    """K = 1 (a 1-channel conv's input gradient, as DCGAN's last D layer's): each entry is the
    product a[i] * b[j] rounded once to float32, which the exact float64 product so rounded
    gives; a is a transposed view, as conv.py passes the weight."""
    a, b = rng.standard_normal((1, 37)).astype(numpy.float32).T, rng.standard_normal((1, 29)).astype(numpy.float32)
    c = backend.kernels(numpy).matmul(a, b)
    assert c.shape == (37, 29) and c.dtype == numpy.float32
    numpy.testing.assert_array_equal(c, (a.astype(numpy.float64) * b.astype(numpy.float64)).astype(numpy.float32))
    out = numpy.ones_like(c)
    assert backend.kernels(numpy).matmul(a, b, out=out, accumulate=True) is out
    numpy.testing.assert_array_equal(out, 1 + c)


# (M, N, K): one tile; a tall K, which gemm cuts into slices (split-K); the GEMV both ways
INTO_SHAPES = [(5, 7, 3), (3, 2, 4096), (1, 9, 20), (9, 1, 20)]


@pytest.mark.parametrize("m, n, k", INTO_SHAPES)
@pytest.mark.parametrize("engine", family.MATMUL_ENGINES)
def test_matmul_writes_or_adds_its_product_into_out(kernel_backend, rng, engine, m, n, k):
    """With out, the product lands there and out is returned; with accumulate it is added to
    what is there: bit for bit the old values plus the engine's own product (what autograd's
    grad += product gave before the weight gradients went into their buffers)."""
    kb = kernel_backend
    a, b = (kb.put(rng.standard_normal(shape).astype(numpy.float32)) for shape in ((m, k), (n, k)))
    product = kb.get(kb.table.matmul(a, b.T, engine))
    old = rng.standard_normal((m, n)).astype(numpy.float32)
    out = kb.put(old.copy())
    assert kb.table.matmul(a, b.T, engine, out, accumulate=True) is out
    numpy.testing.assert_array_equal(kb.get(out), old + product)
    assert kb.table.matmul(a, b.T, engine, out) is out
    numpy.testing.assert_array_equal(kb.get(out), product)
    with pytest.raises(ValueError, match=rf"out must be a C-contiguous \({m}, {n}\) array of float32 for a "
                                         rf"\({m}, {k}\) @ \({k}, {n}\) product, got a float64"):
        kb.table.matmul(a, b.T, engine, kb.put(numpy.zeros((m, n))))


def test_emulated_gemm_checks_the_launch_limits(emulated_gpu):
    """Sizes the kernel's ints or the grid cannot hold are refused (empty arrays: no memory)."""
    with pytest.raises(ValueError, match=r"M = 2147483648 does not fit"):
        family.gemm(numpy.zeros((2 ** 31, 0), numpy.float32), numpy.zeros((0, 1), numpy.float32))
    rows = 65535 * family.GEMM_TILE + 1
    with pytest.raises(ValueError, match=r"65536 row tiles.*65535"):
        family.gemm(numpy.zeros((rows, 0), numpy.float32), numpy.zeros((0, 1), numpy.float32))


def test_launch_geometry_matches_the_kernels():
    """kernels/gemm.py launches the block sizes the .cu files are written for."""
    def defines(name):
        return dict(re.findall(r"#define\s+(\w+)\s+(\d+)\b", (CUDA_DIR / name).read_text()))

    exact, tf32 = defines("gemm.cu"), defines("gemm_tf32.cu")
    assert int(exact["GEMM_TILE_M"]) == int(exact["GEMM_TILE_N"]) == family.GEMM_TILE
    assert int(tf32["GEMM_TF32_TILE_M"]) == int(tf32["GEMM_TF32_TILE_N"]) == family.GEMM_TILE
    assert (int(exact["GEMM_THREADS_X"]), int(exact["GEMM_THREADS_Y"])) == family.GEMM_THREADS
    assert int(tf32["GEMM_TF32_THREADS"]) == family.GEMM_TF32_THREADS
    assert int(exact["GEMM_TILE_K"]) == int(tf32["GEMM_TF32_TILE_K"]) == family.GEMM_TILE_K
    assert int(exact["GEMV_THREADS"]) == family.GEMV_THREADS
    assert all(lanes & (lanes - 1) == 0 for lanes in family.GEMV_LANES.values())  # the tree halves them


# ---------- on a real GPU: the real kernels, TF32 included ----------

@pytest.fixture
def cupy():
    try:
        return backend.require_cupy()
    except RuntimeError as error:  # require_cupy says what is missing
        pytest.skip(str(error))

@pytest.mark.parametrize("trans_a, trans_b", FLAGS, ids=FLAG_IDS)
@pytest.mark.parametrize("m, n, k", ODD_SHAPES)
@pytest.mark.parametrize("dtype, tf32", MODES)
@pytest.mark.gpu
def test_gemm_at_odd_shapes(cupy, rng, dtype, tf32, m, n, k, trans_a, trans_b):
    """Small K keeps the bound tight: a wrong fragment or a dropped k term shows."""
    a, b, op_a, op_b = operands(rng, m, n, k, trans_a, trans_b, dtype)
    c = family.gemm(cupy.asarray(a), cupy.asarray(b), trans_a, trans_b, tf32)
    assert_within_bound(backend.to_numpy(c), op_a, op_b, dtype, tf32)


def test_tf32_rounds_each_input_to_nearest_with_ties_away(device_xp):
    """x * 1 on the TF32 kernel is x rounded to 10 mantissa bits (cvt.rna): at 1.0 the TF32 spacing
    is 2^-10, so 1 + 2^-12 rounds down, 1 + 3*2^-12 up, and the ties 1 + 2^-11 away from zero."""
    u = 2.0 ** -12
    inputs = [1 + u, 1 + 3 * u, 1 + 2 * u, -(1 + 2 * u), 3.0, 1 + 4 * u + 2 * u]
    rounded = [1.0, 1 + 4 * u, 1 + 4 * u, -(1 + 4 * u), 3.0, 1 + 8 * u]
    a = device_xp.asarray(numpy.array(inputs, numpy.float32).reshape(-1, 1))
    c = backend.kernels(device_xp).matmul(a, device_xp.ones((1, 1), numpy.float32), "tf32")
    numpy.testing.assert_array_equal(backend.to_numpy(c).ravel(), numpy.array(rounded, numpy.float32))


@pytest.mark.parametrize("batch, m, n, k, trans_a, trans_b", dcgan32_products(64))
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
@pytest.mark.gpu
def test_integer_products_are_exact_at_dcgan32_shapes(cupy, rng, dtype, batch, m, n, k, trans_a, trans_b):
    """The exact path at full size: partial sums of integers up to 8 stay below 2^24, so no rounding."""
    a, b, op_a, op_b = operands(rng, m, n, k, trans_a, trans_b, dtype, integers=True)
    c = family.gemm(cupy.asarray(a), cupy.asarray(b), trans_a, trans_b)
    numpy.testing.assert_array_equal(backend.to_numpy(c), op_a @ op_b)


@pytest.mark.slow  # 90 cases, about 9 s in all on 2 CPU cores: float64 references of up to 1e9 products
@pytest.mark.parametrize("batch, m, n, k, trans_a, trans_b", dcgan32_products(64, 128))
@pytest.mark.parametrize("dtype, tf32", MODES)
@pytest.mark.gpu
def test_gemm_at_dcgan32_shapes(cupy, rng, dtype, tf32, batch, m, n, k, trans_a, trans_b):
    """Within the bound, and bit-identical on a second run."""
    a, b, op_a, op_b = operands(rng, m, n, k, trans_a, trans_b, dtype)
    a, b = cupy.asarray(a), cupy.asarray(b)
    c = backend.to_numpy(family.gemm(a, b, trans_a, trans_b, tf32))
    numpy.testing.assert_array_equal(backend.to_numpy(family.gemm(a, b, trans_a, trans_b, tf32)), c)
    assert_within_bound(c, op_a, op_b, dtype, tf32)
