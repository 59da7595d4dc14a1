// BCE with logits over C-contiguous arrays (kernels/bce_with_logits.py), templates
// for float and double, numerically stable (stable_sigmoid.cuh: exp only ever
// sees -|x|). Elementwise, each thread walking the flat elements with a grid stride:
//   bce_with_logits           term[k]   = max(x, 0) - x * t + log1p(exp(-|x|))
//   bce_with_logits_backward  grad_x[k] = grad * (sigmoid(x) - t) / divisor
// (the sum over the terms is left to CuPy), and mean-reduced with its input
// gradient in one launch of one block of REDUCE_THREADS threads:
//   bce_with_logits_mean      loss[0]   = sum_k term[k] / size
//                             grad_x[k] = (sigmoid(x[k]) - t[k]) / size
// There each thread sums its strided terms in double, in ascending k; block_sum
// adds the threads' sums in a fixed tree: the loss is the same on every run.
#include "common.cuh"
#include "stable_sigmoid.cuh"

__device__ inline float log1p_(float v) { return log1pf(v); }
__device__ inline double log1p_(double v) { return log1p(v); }

template <typename T>
__global__ void bce_with_logits(const T* __restrict__ x, const T* __restrict__ target,
                                T* __restrict__ term, long long size) {
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < size; k += step) {
        const T v = x[k];
        term[k] = (v < T(0) ? T(0) : v) - v * target[k] + log1p_(exp_minus_abs(v));
    }
}

// grad_x = grad[0] * (sigmoid(x) - target) / divisor, grad a device scalar (no host sync).
template <typename T>
__global__ void bce_with_logits_backward(const T* __restrict__ x, const T* __restrict__ target,
                                         const T* __restrict__ grad, T divisor,
                                         T* __restrict__ grad_x, long long size) {
    const T upstream = grad[0];
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < size; k += step) {
        grad_x[k] = upstream * (stable_sigmoid(x[k], exp_minus_abs(x[k])) - target[k]) / divisor;
    }
}

template <typename T>
__global__ void bce_with_logits_mean(const T* __restrict__ x, const T* __restrict__ target,
                                     T* __restrict__ loss, T* __restrict__ grad_x, long long size) {
    __shared__ double partial[REDUCE_THREADS];
    double sum = 0.0;
    for (long long k = threadIdx.x; k < size; k += blockDim.x) {
        const T v = x[k], t = target[k];
        const T e = exp_minus_abs(v);
        grad_x[k] = (stable_sigmoid(v, e) - t) / T(size);
        sum += (double)(v < T(0) ? T(0) : v) - (double)v * (double)t + log1p((double)e);
    }
    const double total = block_sum(sum, partial);
    if (threadIdx.x == 0) loss[0] = T(total / (double)size);
}
