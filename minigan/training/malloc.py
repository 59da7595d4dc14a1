"""glibc's malloc set to keep freed memory mapped, so that steady-state training steps do not
page-fault.

A training step frees and allocates the same large arrays (column matrices, activations,
gradients) every step. glibc serves an allocation above its mmap threshold (adaptive, at most
32 MiB on 64-bit Linux) with its own mmap and unmaps it on free, and trims the top of its heap
once more than M_TRIM_THRESHOLD is free there; the next step then faults every page back in
(at batch 256, tens of thousands of minor faults and a few hundred ms of system time per step).
keep_freed_memory() serves every allocation from the heap (M_MMAP_MAX = 0) and never trims it
(M_TRIM_THRESHOLD at its largest), so the next step reuses pages already mapped.

The price: memory that the process frees stays resident until it exits, so RSS stays at the
steps' peak instead of falling between them. The setting holds for the whole process; the
trainer applies it. Elsewhere than glibc it does nothing and says why.
"""
import ctypes

M_TRIM_THRESHOLD = -1  # glibc's <malloc.h>
M_MMAP_MAX = -4
INT_MAX = 2**31 - 1  # mallopt takes a C int


def keep_freed_memory():
    """Set glibc's malloc to keep freed memory mapped; returns what was done, for the record."""
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "gnu_get_libc_version"):
        return "not applied: the C library is not glibc (mallopt settings are glibc's)"
    libc.gnu_get_libc_version.restype = ctypes.c_char_p
    version = libc.gnu_get_libc_version().decode()
    if not (libc.mallopt(M_MMAP_MAX, 0) and libc.mallopt(M_TRIM_THRESHOLD, INT_MAX)):
        return (f"not applied: glibc {version} refused mallopt(M_MMAP_MAX, 0) or "
                f"mallopt(M_TRIM_THRESHOLD, {INT_MAX})")
    return f"glibc {version}: mallopt(M_MMAP_MAX, 0), mallopt(M_TRIM_THRESHOLD, {INT_MAX})"
