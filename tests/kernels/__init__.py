"""Tests of minigan.kernels: each kernel against its reference and naive loops, on the CPU and the emulated GPU."""
