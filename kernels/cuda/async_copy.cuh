// Global-to-shared copies that run while the threads go on (cp.async, sm_80 and newer), for
// the double-buffered GEMMs (gemm.cu, gemm_tf32.cu); included as #include "async_copy.cuh".
//
// async_copy(shared, global, valid): *shared = valid ? *global : 0, 4- or 8-byte elements;
// on sm_80+ a cp.async whose source size is 0 when not valid (it then fills zeros and reads
// nothing). async_commit closes the group of copies issued since the last one;
// async_wait_prior_one waits for every group but the newest. On older GPUs, and in the CPU
// emulator (tests/support/cuda_emulator.py, which runs no PTX), the copy is a plain load and
// store and the waits have nothing to wait for: the same buffer schedule, synchronously.
#pragma once

#if !defined(MINIGAN_CUDA_EMULATOR) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define MINIGAN_CP_ASYNC 1
#endif

template <typename T>
__device__ __forceinline__ void async_copy(T* shared, const T* global, bool valid) {
#ifdef MINIGAN_CP_ASYNC
    const unsigned address = (unsigned)__cvta_generic_to_shared(shared);
    if (sizeof(T) == 4)
        asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"(address), "l"(global),
                     "r"(valid ? 4 : 0) : "memory");
    else
        asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;" :: "r"(address), "l"(global),
                     "r"(valid ? 8 : 0) : "memory");
#else
    *shared = valid ? *global : T(0);
#endif
}

__device__ __forceinline__ void async_commit() {
#ifdef MINIGAN_CP_ASYNC
    asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}

__device__ __forceinline__ void async_wait_prior_one() {
#ifdef MINIGAN_CP_ASYNC
    asm volatile("cp.async.wait_group 1;" ::: "memory");
#endif
}

