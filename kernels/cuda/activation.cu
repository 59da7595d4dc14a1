// Elementwise activations and loss over C-contiguous arrays, templates for
// float and double; each thread walks the flat elements with a grid stride.
//
// LeakyReLU (ReLU is slope 0):
//   forward   y  = x > 0 ? x : x * slope
//   backward  gx = grad * (y > 0 ? 1 : slope)
// The backward reads the forward's output y: for slope >= 0, y > 0 exactly
// when x > 0 (kernels/activation.py rejects a negative slope).
//
// Tanh's backward, from the forward's output y: gx = grad * (1 - y * y).
//
// Sigmoid and BCE with logits, numerically stable (exp only ever sees -|x|):
//   sigmoid(x) = x >= 0 ? 1 / (1 + e) : e / (1 + e),  e = exp(-|x|)
//   term       = max(x, 0) - x * t + log1p(exp(-|x|))
//   grad_x     = grad * (sigmoid(x) - t) / divisor
// The mean over the terms is left to CuPy.

__device__ inline float exp_(float v) { return expf(v); }
__device__ inline double exp_(double v) { return exp(v); }
__device__ inline float log1p_(float v) { return log1pf(v); }
__device__ inline double log1p_(double v) { return log1p(v); }

template <typename T>
__global__ void leaky_relu(const T* __restrict__ x, T* __restrict__ y, long long size, T slope) {
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < size; k += step) {
        const T v = x[k];
        y[k] = v > T(0) ? v : v * slope;
    }
}

template <typename T>
__global__ void leaky_relu_backward(const T* __restrict__ grad, const T* __restrict__ y,
                                    T* __restrict__ grad_x, long long size, T slope) {
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < size; k += step) {
        grad_x[k] = y[k] > T(0) ? grad[k] : grad[k] * slope;
    }
}

template <typename T>
__global__ void tanh_backward(const T* __restrict__ grad, const T* __restrict__ y, T* __restrict__ grad_x,
                              long long size) {
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < size; k += step) {
        grad_x[k] = grad[k] * (T(1) - y[k] * y[k]);
    }
}

// exp(-|v|) and sigmoid(v) from it; NaN stays NaN.
template <typename T> __device__ T exp_minus_abs(T v) { return exp_(v < T(0) ? v : -v); }
template <typename T> __device__ T stable_sigmoid(T v, T e) {
    return v >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
}

template <typename T>
__global__ void sigmoid(const T* __restrict__ x, T* __restrict__ y, long long size) {
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < size; k += step) {
        y[k] = stable_sigmoid(x[k], exp_minus_abs(x[k]));
    }
}

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
