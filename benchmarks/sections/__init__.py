"""compare.py's sections, one module per workload family; each times with the harness and
adds its rows to the table and its numbers to the record.

- own_process: the CPU comparison, each framework in its own processes: the step at each batch
  with its peak RSS and page faults, and the layer blocks doing one step's calls
- ops (GPU): each DCGAN-32 layer's forward and backward, both frameworks in one process
- steps (GPU): the whole training step over batch sizes, and where minigan's step spends its time
- gemm (GPU): the step's matrix products on the GPU's three matmul engines
- graphs (GPU): the GPU step eager and as a CUDA graph, minigan's and torch's
- memory (GPU): peak GPU memory of the steps, each graphs-section workload in a fresh process
"""
