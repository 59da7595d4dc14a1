"""The curated slips of tools/mutation_check.py: each one plausible mistake, as data.

Slip(name, file, original, replacement, tests, description): `original` must occur exactly
once in `file`; `tests` are the pytest arguments (paths, node ids, -k expressions) that
should catch it.
"""
import dataclasses


@dataclasses.dataclass(frozen=True)
class Slip:
    name: str
    file: str
    original: str
    replacement: str
    tests: tuple
    description: str


PARITY = "tests/ops/test_op_parity.py"
DEVICE = "tests/ops/test_op_device.py"
GRADCHECK = "tests/ops/test_op_gradcheck.py"

SLIPS = [
    # --- the six gaps of issue 17 -------------------------------------------------------------
    Slip("leaky_relu_negative_slope_kink", "minigan/functional/activation.py",
         "self.positive = x > 0", "self.positive = x >= 0",
         (PARITY, "-k", "leaky_relu and kinks"),
         "LeakyReLU with a negative slope takes the positive side's gradient at exactly 0"),
    Slip("bce_naive_log_sigmoid", "kernels/activation.py",
         "return numpy.maximum(x, 0) - x * target + numpy.log1p(numpy.exp(-numpy.abs(x)))",
         "return -(target * numpy.log(sigmoid_cpu(x)) + (1 - target) * numpy.log(sigmoid_cpu(-x)))",
         (PARITY, "-k", "binary_cross_entropy and extremes"),
         "BCE with logits written the naive way, as the log of the sigmoid"),
    Slip("ema_decay_swapped", "minigan/training/trainer.py",
         "average.data *= decay\n                average.data += (1 - decay) * p.data",
         "average.data *= 1 - decay\n                average.data += decay * p.data",
         ("tests/training/test_ema.py",),
         "the generator's EMA with decay and 1 - decay swapped"),
    Slip("unpickler_allows_getattr", "minigan/data/safe_pickle.py",
         '    ("__builtin__", "set"): _set,\n}',
         '    ("__builtin__", "set"): _set,\n    ("builtins", "getattr"): getattr,\n}',
         ("tests/data/test_safe_pickle_allowlist.py",),
         "the safe unpickler allows one more callable, builtins.getattr"),
    Slip("atomic_write_without_fsync", "minigan/training/atomic.py",
         "with open(tmp, \"rb+\") as f:\n            os.fsync(f.fileno())",
         "with open(tmp, \"rb+\") as f:\n            f.flush()",
         ("tests/training/test_atomic.py",),
         "the atomic write renames the temporary file without fsyncing it"),
    Slip("gemm_tf32_tile_load_past_end", "kernels/cuda/gemm_tf32.cu",
         "    if (row >= rows || col >= cols) return 0.0f;",
         "    if (row >= rows || col > cols) return 0.0f;",
         ("tests/kernels/test_gemm.py", "-k", "tf32"),
         "the TF32 GEMM's tile load reads one column past the end (the value is multiplied by 0)"),
    Slip("gemm_store_off_by_one", "kernels/cuda/gemm.cu",
         "if (col < n) c[(long long)row * n + col] = acc[i][j];",
         "if (col <= n) c[(long long)row * n + col] = acc[i][j];",
         ("tests/kernels/test_gemm.py", "-k", "not tf32"),
         "the FP32 GEMM stores one column past the end of each row"),
]
