// Elementwise activations over C-contiguous arrays, templates for float and
// double; each thread walks the flat elements with a grid stride.
//
// LeakyReLU (ReLU is slope 0):
//   forward   y  = x > 0 ? x : x * slope
//   backward  gx = grad * (y > 0 ? 1 : slope)
// The backward reads the forward's output y: for slope >= 0, y > 0 exactly
// when x > 0 (kernels/activation.py rejects a negative slope).
//
// Tanh's backward, from the forward's output y: gx = grad * (1 - y * y).
//
// Sigmoid, numerically stable (stable_sigmoid.cuh: exp only ever sees -|x|).
#include "stable_sigmoid.cuh"

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

template <typename T>
__global__ void sigmoid(const T* __restrict__ x, T* __restrict__ y, long long size) {
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < size; k += step) {
        y[k] = stable_sigmoid(x[k], exp_minus_abs(x[k]));
    }
}
