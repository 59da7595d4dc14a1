"""Hot kernels, one module per backend: `cpu` (Numba) and `gpu` (CUDA via CuPy).

`reference` holds plain NumPy versions of the same kernels; tests check the
fast kernels against them (and them against naive loops).
"""

if __name__ != "minigan.kernels":
    # Numba's on-disk cache records the module name of each kernel; a second name for the
    # same files (`import kernels` from the repo root) would write entries that the other
    # name cannot load.
    raise ImportError(f"kernels/ is the package minigan.kernels: import it under that name "
                      f"(after `pip install -e .`), not as {__name__!r}")
