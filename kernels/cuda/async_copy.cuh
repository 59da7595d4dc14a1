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


// A TILE_R x TILE_C tile of op(X) from (r0, c0) into shared memory, element (r, c) to
// tile[r * r_stride + c * c_stride], with async_copy. op(X) is rows x cols: X stored so, or
// with transposed, X stored (cols, rows). Elements at or past (r_end, c_end) are zeros.
// Consecutive threads read consecutive addresses of the stored X (THREADS threads, thread
// the caller's index among them); the caller commits the group.
template <int TILE_R, int TILE_C, int THREADS, typename T>
__device__ __forceinline__ void stage_tile(T* tile, int r_stride, int c_stride, const T* __restrict__ x,
                                           int transposed, int rows, int cols, int r0, int c0,
                                           int r_end, int c_end, int thread) {
    for (int e = thread; e < TILE_R * TILE_C; e += THREADS) {
        const int r = transposed ? e % TILE_R : e / TILE_C;
        const int c = transposed ? e / TILE_R : e % TILE_C;
        const int row = r0 + r, col = c0 + c;
        const bool valid = row < r_end && col < c_end;
        const long long at = transposed ? (long long)col * rows + row : (long long)row * cols + col;
        async_copy(tile + r * r_stride + c * c_stride, valid ? x + at : x, valid);
    }
}

// The double-buffered walk over a kernel's K tiles: stage(s, k0) stages the tile at k0 into
// buffer s and commits it; multiply(s) uses the tile in buffer s. Tile t+1 is in flight while
// tile t is multiplied; each buffer is staged again only after every thread is done with it.
template <typename Stage, typename Multiply>
__device__ __forceinline__ void double_buffered_k(int tiles, int k_begin, int tile_k, Stage stage,
                                                  Multiply multiply) {
    if (tiles > 0) stage(0, k_begin);
    for (int t = 0; t < tiles; ++t) {
        const int s = t & 1;
        if (t + 1 < tiles) stage(s ^ 1, k_begin + (t + 1) * tile_k);  // the next tile, in flight
        else async_commit();  // an empty group, so that "all but the newest" is tile t
        async_wait_prior_one();
        __syncthreads();  // tile t is in buffer s for every thread
        multiply(s);
        __syncthreads();  // buffer s is staged again for tile t + 2
    }
}
