"""Test support: the CUDA emulator (cuda_emulator) and the emulated CuPy built on it (emulated_device)."""
