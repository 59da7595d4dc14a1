// Device helpers shared by the kernels in kernels/cuda/*.cu; included as
// #include "common.cuh". Only __device__ code here, no extern "C" kernels.
// Loaders find it by the folder: nvcc next to the .cu, NVRTC (CuPy) through
// the -I option kernels/_cuda.py passes.
#pragma once

#define REDUCE_THREADS 256  // reduction kernels are launched with exactly this many threads (_cuda.BLOCK)

// Sum of value over the block; blockDim.x a power of two <= REDUCE_THREADS.
// A fixed tree, so the result does not depend on scheduling.
template <typename A>
__device__ A block_sum(A value, A* shared) {
    const int tid = threadIdx.x;
    shared[tid] = value;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if (tid < half) shared[tid] += shared[tid + half];
        __syncthreads();
    }
    const A total = shared[0];
    __syncthreads();  // the buffer may be reused right away
    return total;
}
