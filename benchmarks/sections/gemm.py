"""The GPU's matrix products: each distinct product of the training step on cuBLAS and on
minigan's own exact and TF32 GEMM kernels (the --matmul engines)."""
from collections import defaultdict

import numpy

from harness import interleaved, ms
from minigan.backend import kernels
from minigan.config import MATMUL_ENGINES


def step_products(mg, batch):
    """Every distinct matmul of one minigan training step at batch: {(a shape, b shape, a is a
    transposed view, b is a transposed view): calls per step}, recorded by wrapping the backend's
    kernels.matmul, which every convolution's product goes through."""
    table, calls = kernels(mg.xp), defaultdict(int)
    matmul = table.matmul

    def recording(a, b, engine, out=None, accumulate=False):
        calls[(a.shape, b.shape, not a.flags.c_contiguous, not b.flags.c_contiguous)] += 1
        return matmul(a, b, engine, out, accumulate)
    run = mg.step(batch)
    table.matmul = recording
    try:
        run()
    finally:
        table.matmul = matmul
    return dict(calls)


def operand(xp, rng, shape, transposed):
    """A float32 device array of shape, a transposed view of a C-contiguous one if transposed."""
    if transposed:
        return xp.asarray(rng.standard_normal(shape[::-1]).astype(numpy.float32)).T
    return xp.asarray(rng.standard_normal(shape).astype(numpy.float32))


def bench_gemm(mg, batches, rounds, table, record):
    """Each product of the step at each batch on cuBLAS, the exact own GEMM and the TF32 one,
    interleaved: where the own kernels beat cuBLAS (--matmul), and what they cost a graph step."""
    gpu, rng = kernels(mg.xp), numpy.random.default_rng(0)
    results = {}
    for batch in batches:
        for (a_shape, b_shape, a_t, b_t), count in step_products(mg, batch).items():
            a, b = operand(mg.xp, rng, a_shape, a_t), operand(mg.xp, rng, b_shape, b_t)

            def on(engine):
                def call():
                    gpu.matmul(a, b, engine)
                    mg.sync()
                return call
            samples = interleaved({engine: on(engine) for engine in MATMUL_ENGINES}, rounds)
            what = (f"b{batch} {a_shape}{'ᵀ' if a_t else ''} @ {b_shape}{'ᵀ' if b_t else ''}"
                    f"{f' x{count}' if count > 1 else ''}")
            results[what] = {engine: ms(s) for engine, s in samples.items()}
            table.add("gemm exact", what, results[what]["exact"], results[what]["cublas"])
            table.add("gemm tf32", what, results[what]["tf32"], results[what]["cublas"])
    record["gemm_ms"] = results
    record["gemm_method"] = ("the step's distinct products (recorded from kernels.matmul), random float32 "
                             "operands in the recorded layouts; cuBLAS, exact and tf32 interleaved, "
                             f"{rounds} rounds, synchronized, medians; the torch column is cuBLAS")
