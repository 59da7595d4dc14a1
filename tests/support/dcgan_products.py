"""The matrix products of one DCGAN training step, as kernels.matmul sees them.

PRODUCTS[image_size] lists each distinct (M, N, K, trans_a, trans_b) of a
D+G step at batch 1 with the default widths (nz 100, ngf = ndf = 64), the
flags telling which operand arrives as a transposed view, with its count per
step. The GEMM tests (tests/kernels/test_gemm_products.py) run them on the
emulated GPU; a test there records them afresh and compares, and when the
convolutions change their products, regenerate this table:

    PYTHONPATH=. python tests/support/dcgan_products.py
"""
import collections
import pprint
import sys
import tempfile
from pathlib import Path

import numpy

from minigan import backend, data
from minigan.training import Config, Trainer

PRODUCTS = {32: {(1, 1, 4096, False, False): 3,
      (1, 4096, 1, False, False): 2,
      (48, 256, 64, True, False): 2,
      (64, 48, 256, False, True): 3,
      (64, 256, 48, False, False): 4,
      (100, 4096, 1, False, False): 1,
      (128, 64, 1024, False, False): 4,
      (128, 1024, 64, False, True): 3,
      (256, 16, 2048, False, False): 4,
      (256, 2048, 16, False, True): 3,
      (1024, 64, 128, True, False): 4,
      (2048, 16, 256, True, False): 4,
      (4096, 1, 1, False, False): 3,
      (4096, 1, 100, True, False): 1},
 64: {(1, 1, 8192, False, False): 3,
      (1, 8192, 1, False, False): 2,
      (48, 1024, 64, True, False): 2,
      (64, 48, 1024, False, True): 3,
      (64, 1024, 48, False, False): 4,
      (100, 8192, 1, False, False): 1,
      (128, 256, 1024, False, False): 4,
      (128, 1024, 256, False, True): 3,
      (256, 64, 2048, False, False): 4,
      (256, 2048, 64, False, True): 3,
      (512, 16, 4096, False, False): 4,
      (512, 4096, 16, False, True): 3,
      (1024, 256, 128, True, False): 4,
      (2048, 64, 256, True, False): 4,
      (4096, 16, 512, True, False): 4,
      (8192, 1, 1, False, False): 3,
      (8192, 1, 100, True, False): 1}}


def record(image_size, batch=1):
    """{(M, N, K, trans_a, trans_b): calls} of one D+G step on the CPU, from kernels.matmul."""
    config = Config(backend="numpy", dataset="fake", batch_size=batch, image_size=image_size,
                    out=tempfile.mkdtemp(prefix="minigan-products-"))
    trainer = Trainer(config, images=data.fake(n=4 * batch, channels=3)[0])
    table, calls = backend.kernels(numpy), collections.Counter()
    matmul = table.matmul

    def recording(a, b, engine="cublas", out=None, accumulate=False):
        transposed = [not x.flags.c_contiguous and x.flags.f_contiguous for x in (a, b)]
        calls[(a.shape[0], b.shape[1], a.shape[1], *transposed)] += 1
        return matmul(a, b, engine, out, accumulate)
    table.matmul = recording
    try:
        trainer.run_step(0)
    finally:
        table.matmul = matmul
    return dict(calls)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    pprint.pprint({size: dict(sorted(record(size).items())) for size in PRODUCTS}, width=110)
