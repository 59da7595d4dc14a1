"""compare.py's sections, one module per workload family; each times with the harness and
adds its rows to the table and its numbers to the record.

- ops: each DCGAN-32 layer's forward and backward; the backend's im2col/col2im kernels
- steps: the whole training step over batch sizes, and where minigan's step spends its time
- gemm: the step's matrix products on the GPU's three matmul engines
- graphs: the GPU step eager and as a CUDA graph, minigan's and torch's
- memory: peak memory of the steps, each framework (or GPU workload) in a fresh process
"""
