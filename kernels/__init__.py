"""Hot kernels, one module per op family: convolution (im2col, col2im), batchnorm,
activation, bce_with_logits (the loss), adam, philox (random normals), gemm,
image_batch (the training batch), and more: every public module here is one.

Each family module holds its contract (a Protocol), its plain NumPy reference,
its Numba (CPU) kernels and its CUDA launch wrappers side by side; the CUDA
sources are kernels/cuda/<family>.cu, loaded through the private plumbing of
_cuda.py. table.py assembles the per-backend tables that
minigan.backend.kernels(xp) returns. Nothing here imports from minigan: this is
the lowest layer, and importing it never needs CuPy.
"""

if __name__ != "minigan.kernels":
    # Numba's on-disk cache records the module name of each kernel; a second name for the
    # same files (`import kernels` from the repo root) would write entries that the other
    # name cannot load.
    raise ImportError(f"kernels/ is the package minigan.kernels: import it under that name "
                      f"(after `pip install -e .`), not as {__name__!r}")
