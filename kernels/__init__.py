"""Hot kernels, one module per backend: `cpu` (Numba) and `gpu` (CUDA via CuPy).

`reference` holds plain NumPy versions of the same kernels; tests check the
fast kernels against them (and them against naive loops).
"""
