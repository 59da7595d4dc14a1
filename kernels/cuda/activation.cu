// Fused elementwise kernels, float and double, over C-contiguous arrays.
//
// bias + LeakyReLU on NCHW (ReLU is slope 0), bias per channel:
//   forward   y  = leaky(x + bias[c]),  leaky(v) = v > 0 ? v : v * slope
//   backward  gx = grad * (y > 0 ? 1 : slope)
//   backward with the bias gradient: the same, plus bias_grad[c] = sum of gx
//   over (n, h, w); one block per channel, shared-memory tree reduction.
// The backward reads the forward's output y: for slope >= 0, y > 0 exactly
// when x + bias > 0 (kernels/gpu.py rejects a negative slope).
//
// Sigmoid and BCE with logits, numerically stable (exp only ever sees -|x|):
//   sigmoid(x) = x >= 0 ? 1 / (1 + e) : e / (1 + e),  e = exp(-|x|)
//   term       = max(x, 0) - x * t + log1p(exp(-|x|))
//   grad_x     = grad * (sigmoid(x) - t) / divisor
// The mean over the terms is left to CuPy.
//
// Channel of flat NCHW element k: (k / plane) % channels, plane = H*W.

#include "common.cuh"  // REDUCE_THREADS, block_sum

template <typename T> struct Acc { typedef T type; };
template <> struct Acc<float> { typedef double type; };

__device__ inline float exp_(float v) { return expf(v); }
__device__ inline double exp_(double v) { return exp(v); }
__device__ inline float log1p_(float v) { return log1pf(v); }
__device__ inline double log1p_(double v) { return log1p(v); }

template <typename T>
__device__ void bias_leaky_relu_impl(const T* __restrict__ x, const T* __restrict__ bias,
                                     T* __restrict__ y, long long size, int channels, int plane,
                                     int has_bias, T slope) {
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < size; k += step) {
        T v = x[k];
        if (has_bias) v += bias[(int)(k / plane) % channels];
        y[k] = v > T(0) ? v : v * slope;
    }
}

template <typename T>
__device__ void bias_leaky_relu_backward_impl(const T* __restrict__ grad, const T* __restrict__ y,
                                              T* __restrict__ grad_x, long long size, T slope) {
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < size; k += step) {
        grad_x[k] = y[k] > T(0) ? grad[k] : grad[k] * slope;
    }
}

// One block per channel c = blockIdx.x; n_img * plane fits in an int.
template <typename T>
__device__ void bias_leaky_relu_backward_bias_impl(const T* __restrict__ grad, const T* __restrict__ y,
                                                   T* __restrict__ grad_x, T* __restrict__ grad_bias,
                                                   int n_img, int channels, int plane, T slope) {
    typedef typename Acc<T>::type A;
    __shared__ A shared[REDUCE_THREADS];
    const int c = blockIdx.x, count = n_img * plane;
    A sum = 0;
    for (int m = threadIdx.x; m < count; m += blockDim.x) {
        const long long k = ((long long)(m / plane) * channels + c) * plane + m % plane;
        const T g = y[k] > T(0) ? grad[k] : grad[k] * slope;
        grad_x[k] = g;
        sum += g;
    }
    sum = block_sum<A>(sum, shared);
    if (threadIdx.x == 0) grad_bias[c] = (T)sum;
}

// exp(-|v|) and sigmoid(v) from it; NaN stays NaN.
template <typename T> __device__ T exp_minus_abs(T v) { return exp_(v < T(0) ? v : -v); }
template <typename T> __device__ T stable_sigmoid(T v, T e) {
    return v >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
}

template <typename T>
__device__ void sigmoid_impl(const T* __restrict__ x, T* __restrict__ y, long long size) {
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < size; k += step) {
        y[k] = stable_sigmoid(x[k], exp_minus_abs(x[k]));
    }
}

template <typename T>
__device__ void bce_with_logits_impl(const T* __restrict__ x, const T* __restrict__ target,
                                     T* __restrict__ term, long long size) {
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < size; k += step) {
        const T v = x[k];
        term[k] = (v < T(0) ? T(0) : v) - v * target[k] + log1p_(exp_minus_abs(v));
    }
}

// grad_x = grad[0] * (sigmoid(x) - target) / divisor, grad a device scalar (no host sync).
template <typename T>
__device__ void bce_with_logits_backward_impl(const T* __restrict__ x, const T* __restrict__ target,
                                              const T* __restrict__ grad, T divisor,
                                              T* __restrict__ grad_x, long long size) {
    const T upstream = grad[0];
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < size; k += step) {
        grad_x[k] = upstream * (stable_sigmoid(x[k], exp_minus_abs(x[k])) - target[k]) / divisor;
    }
}

extern "C" __global__ void bias_leaky_relu_f32(const float* __restrict__ x, const float* __restrict__ bias,
                                               float* __restrict__ y, long long size, int channels,
                                               int plane, int has_bias, float slope) {
    bias_leaky_relu_impl<float>(x, bias, y, size, channels, plane, has_bias, slope);
}

extern "C" __global__ void bias_leaky_relu_f64(const double* __restrict__ x, const double* __restrict__ bias,
                                               double* __restrict__ y, long long size, int channels,
                                               int plane, int has_bias, double slope) {
    bias_leaky_relu_impl<double>(x, bias, y, size, channels, plane, has_bias, slope);
}

extern "C" __global__ void bias_leaky_relu_backward_f32(const float* __restrict__ grad,
                                                        const float* __restrict__ y,
                                                        float* __restrict__ grad_x, long long size,
                                                        float slope) {
    bias_leaky_relu_backward_impl<float>(grad, y, grad_x, size, slope);
}

extern "C" __global__ void bias_leaky_relu_backward_f64(const double* __restrict__ grad,
                                                        const double* __restrict__ y,
                                                        double* __restrict__ grad_x, long long size,
                                                        double slope) {
    bias_leaky_relu_backward_impl<double>(grad, y, grad_x, size, slope);
}

extern "C" __global__ void bias_leaky_relu_backward_bias_f32(
        const float* __restrict__ grad, const float* __restrict__ y, float* __restrict__ grad_x,
        float* __restrict__ grad_bias, int n_img, int channels, int plane, float slope) {
    bias_leaky_relu_backward_bias_impl<float>(grad, y, grad_x, grad_bias, n_img, channels, plane, slope);
}

extern "C" __global__ void bias_leaky_relu_backward_bias_f64(
        const double* __restrict__ grad, const double* __restrict__ y, double* __restrict__ grad_x,
        double* __restrict__ grad_bias, int n_img, int channels, int plane, double slope) {
    bias_leaky_relu_backward_bias_impl<double>(grad, y, grad_x, grad_bias, n_img, channels, plane, slope);
}

extern "C" __global__ void sigmoid_f32(const float* __restrict__ x, float* __restrict__ y, long long size) {
    sigmoid_impl<float>(x, y, size);
}

extern "C" __global__ void sigmoid_f64(const double* __restrict__ x, double* __restrict__ y, long long size) {
    sigmoid_impl<double>(x, y, size);
}

extern "C" __global__ void bce_with_logits_f32(const float* __restrict__ x, const float* __restrict__ target,
                                               float* __restrict__ term, long long size) {
    bce_with_logits_impl<float>(x, target, term, size);
}

extern "C" __global__ void bce_with_logits_f64(const double* __restrict__ x, const double* __restrict__ target,
                                               double* __restrict__ term, long long size) {
    bce_with_logits_impl<double>(x, target, term, size);
}

extern "C" __global__ void bce_with_logits_backward_f32(const float* __restrict__ x,
                                                        const float* __restrict__ target,
                                                        const float* __restrict__ grad, float divisor,
                                                        float* __restrict__ grad_x, long long size) {
    bce_with_logits_backward_impl<float>(x, target, grad, divisor, grad_x, size);
}

extern "C" __global__ void bce_with_logits_backward_f64(const double* __restrict__ x,
                                                        const double* __restrict__ target,
                                                        const double* __restrict__ grad, double divisor,
                                                        double* __restrict__ grad_x, long long size) {
    bce_with_logits_backward_impl<double>(x, target, grad, divisor, grad_x, size);
}
