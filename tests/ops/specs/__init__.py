"""The op specs: one entry per op, in one module per op family (the format is in ../opspec.py).

Every check in tests/ops reads OPS:
  test_op_gradcheck.py  float64 finite differences with a random upstream gradient
  test_op_parity.py     torch, forward and backward (and in-place state such as running statistics)
  test_op_device.py     the cupy backend against numpy, on the emulated GPU and a real one
  test_op_errors.py     each misuse raises, naming the shapes or values at fault
A new op is one more entry in its family module's OPS list; a new family is one more module
here, found by name.
"""
import importlib
import pkgutil

OPS = [op for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name)
       for op in importlib.import_module(f"{__name__}.{info.name}").OPS]

names = [op.name for op in OPS]
assert len(names) == len(set(names)), f"op specs named twice: {sorted({n for n in names if names.count(n) > 1})}"
