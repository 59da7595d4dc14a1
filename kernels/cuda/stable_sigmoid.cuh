// exp(-|v|) and the sigmoid from it, for float and double, numerically stable:
// exp only ever sees -|v|, so no v overflows; NaN stays NaN. Shared by
// activation.cu (sigmoid) and bce_with_logits.cu (the loss and its gradient).
//   sigmoid(v) = v >= 0 ? 1 / (1 + e) : e / (1 + e),  e = exp(-|v|)
#pragma once

__device__ inline float exp_(float v) { return expf(v); }
__device__ inline double exp_(double v) { return exp(v); }

template <typename T> __device__ T exp_minus_abs(T v) { return exp_(v < T(0) ? v : -v); }
template <typename T> __device__ T stable_sigmoid(T v, T e) {
    return v >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
}
