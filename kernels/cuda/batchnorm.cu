// Batch normalization on channel rows, templates for float and double: x is a
// C-contiguous (C, M) array, channel c's M values in row c (the ops pass
// batch-innermost images, (C, H*W*N); kernels/batchnorm.py).
//
// Reductions: one block per channel (blockIdx.x = c), launched with exactly
// REDUCE_THREADS threads; each thread sums a fixed strided subset of the row in
// double (adjacent threads read adjacent values), then a shared-memory tree adds
// the partial sums. No atomics, so the result is deterministic.
//
//   batch_norm_stats:           mean[c] and inv_std[c] = 1 / sqrt(var + eps), var
//                               biased, in one pass; the sums are of x - K, K =
//                               x[c, 0] (shifted data), so var does not cancel when
//                               |mean| >> std. With update, the running statistics
//                               too (unbiased variance): batchnorm's whole forward
//                               reduction in one launch.
//   batch_norm_backward:        the whole backward in one launch: sum_dy[c] = sum(dy)
//                               and sum_dy_xhat[c] = sum(dy * x_hat) (the bias and
//                               weight gradients, written or added in place), then
//                               gx = scale[c] * (dy - sum_dy[c] / M - x_hat * sum_dy_xhat[c] / M)
//                               over the block's own row, scale = weight * inv_std (or
//                               inv_std): the compact formula of minigan/functional/batchnorm.py.
//
// Elementwise, on a 2-D grid (kernels/_cuda.py launch_rows): blocks stride over
// the channels in y, threads along the row in x, so no index is divided.
//   batch_norm_forward_apply:   x_hat = (x - mean[c]) * inv_std[c];
//                               y = x_hat * weight[c] + bias[c] (each optional)

#include "common.cuh"  // REDUCE_THREADS, block_sum

template <typename T>
__global__ void batch_norm_stats(const T* __restrict__ x, T* __restrict__ mean, T* __restrict__ inv_std,
                                 T* __restrict__ running_mean, T* __restrict__ running_var,
                                 double eps, double momentum, int channels, int count, int update) {
    __shared__ double shared[REDUCE_THREADS];
    const int c = blockIdx.x;
    const T* row = x + (long long)c * count;
    const double shift = row[0];
    double sum = 0, sum_sq = 0;
    for (int k = threadIdx.x; k < count; k += blockDim.x) {
        const double d = (double)row[k] - shift;
        sum += d;
        sum_sq += d * d;
    }
    sum = block_sum<double>(sum, shared);
    sum_sq = block_sum<double>(sum_sq, shared);
    if (threadIdx.x == 0) {
        const double mean_shifted = sum / count;
        const double v = sum_sq / count - mean_shifted * mean_shifted;
        const double var = v > 0 ? v : 0.0;
        mean[c] = (T)(shift + mean_shifted);
        inv_std[c] = (T)(1 / sqrt(var + eps));
        if (update) {
            running_mean[c] = (T)((1 - momentum) * running_mean[c] + momentum * (shift + mean_shifted));
            running_var[c] = (T)((1 - momentum) * running_var[c] + momentum * var * ((double)count / (count - 1)));
        }
    }
}

template <typename T>
__global__ void batch_norm_backward(const T* __restrict__ grad_y, const T* __restrict__ x_hat,
                                    const T* __restrict__ inv_std, const T* __restrict__ weight,
                                    T* __restrict__ grad_x, T* __restrict__ grad_weight, T* __restrict__ grad_bias,
                                    int channels, int count, int has_weight, int add_to_weight, int add_to_bias) {
    __shared__ double shared[REDUCE_THREADS];
    const int c = blockIdx.x;
    const long long start = (long long)c * count;
    double dy_total = 0, dy_xhat_total = 0;
    for (int k = threadIdx.x; k < count; k += blockDim.x) {
        const double dy = grad_y[start + k];
        dy_total += dy;
        dy_xhat_total += dy * (double)x_hat[start + k];
    }
    const T sum_dy = (T)block_sum<double>(dy_total, shared);
    const T sum_dy_xhat = (T)block_sum<double>(dy_xhat_total, shared);
    if (threadIdx.x == 0) {  // one writer per channel: deterministic in place
        grad_bias[c] = add_to_bias ? grad_bias[c] + sum_dy : sum_dy;
        grad_weight[c] = add_to_weight ? grad_weight[c] + sum_dy_xhat : sum_dy_xhat;
    }
    const T s = has_weight ? weight[c] * inv_std[c] : inv_std[c];
    const T m = sum_dy / (T)count, mx = sum_dy_xhat / (T)count;
    for (int k = threadIdx.x; k < count; k += blockDim.x)
        grad_x[start + k] = s * (grad_y[start + k] - m - x_hat[start + k] * mx);
}

template <typename T>
__global__ void batch_norm_forward_apply(const T* __restrict__ x, const T* __restrict__ mean,
                                         const T* __restrict__ inv_std, const T* __restrict__ weight,
                                         const T* __restrict__ bias, T* __restrict__ x_hat,
                                         T* __restrict__ y, int channels, int count,
                                         int has_weight, int has_bias) {
    for (int c = blockIdx.y; c < channels; c += gridDim.y) {
        const T m = mean[c], s = inv_std[c];
        const T w = has_weight ? weight[c] : T(1), b = has_bias ? bias[c] : T(0);
        const long long start = (long long)c * count;
        for (int k = blockIdx.x * blockDim.x + threadIdx.x; k < count; k += blockDim.x * gridDim.x) {
            const T normalized = (x[start + k] - m) * s;
            x_hat[start + k] = normalized;
            y[start + k] = normalized * w + b;
        }
    }
}
