// BCE with logits, mean-reduced, and its input gradient, in one launch of one
// block of REDUCE_THREADS threads (kernels/bce_with_logits.py), float and double:
//   loss[0]   = sum_k (max(x, 0) - x * t + log1p(exp(-|x|))) / size
//   grad_x[k] = (sigmoid(x[k]) - t[k]) / size
// exp only ever sees -|x|. Each thread sums its strided terms in double, in
// ascending k; block_sum adds the threads' sums in a fixed tree: the loss is
// the same on every run.
#include "common.cuh"

__device__ inline float exp_of(float v) { return expf(v); }
__device__ inline double exp_of(double v) { return exp(v); }

template <typename T>
__global__ void bce_with_logits_mean(const T* __restrict__ x, const T* __restrict__ target,
                                     T* __restrict__ loss, T* __restrict__ grad_x, long long size) {
    __shared__ double partial[REDUCE_THREADS];
    double sum = 0.0;
    for (long long k = threadIdx.x; k < size; k += blockDim.x) {
        const T v = x[k], t = target[k];
        const T e = exp_of(v < T(0) ? v : -v);  // exp(-|v|); NaN stays NaN
        const T sigmoid = v >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
        grad_x[k] = (sigmoid - t) / T(size);
        sum += (double)(v < T(0) ? T(0) : v) - (double)v * (double)t + log1p((double)e);
    }
    const double total = block_sum(sum, partial);
    if (threadIdx.x == 0) loss[0] = T(total / (double)size);
}
