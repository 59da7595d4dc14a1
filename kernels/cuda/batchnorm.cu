// Batch normalization over (N, H, W) per channel, templates for float and double, on
// C-contiguous NCHW arrays (plane = H*W).
//
// Reductions: one block per channel (blockIdx.x = c), launched with exactly
// REDUCE_THREADS threads; each thread sums a fixed strided subset in double,
// then a shared-memory tree adds the partial sums. No atomics, so the result
// is deterministic. The caller checks that N*H*W fits in an int.
//
//   batch_norm_stats:           mean[c], biased var[c] in one pass. The sums
//                               are of x - K, K = x[0, c, 0, 0] (shifted data),
//                               so var does not cancel when |mean| >> std.
//   batch_norm_backward_reduce: sum_dy[c] = sum(dy), sum_dy_xhat[c] = sum(dy * x_hat)
//
// Elementwise, grid-stride:
//   batch_norm_forward_apply:   x_hat = (x - mean[c]) * inv_std[c];
//                               y = x_hat * weight[c] + bias[c] (each optional)
//   batch_norm_backward_apply:  gx = scale[c] * (dy - mean_dy[c] - x_hat * mean_dy_xhat[c])
//                               with scale = weight * inv_std (or inv_std),
//                               mean_dy = sum_dy / count, mean_dy_xhat = sum_dy_xhat / count:
//                               the compact formula of minigan/functional/batchnorm.py.

#include "common.cuh"  // REDUCE_THREADS, block_sum

// Flat offset of the m-th element (n = m / plane, s = m % plane) of channel c.
__device__ inline long long channel_offset(int m, int c, int channels, int plane) {
    return ((long long)(m / plane) * channels + c) * plane + m % plane;
}

template <typename T>
__global__ void batch_norm_stats(const T* __restrict__ x, T* __restrict__ mean, T* __restrict__ var,
                                 int n_img, int channels, int plane) {
    __shared__ double shared[REDUCE_THREADS];
    const int c = blockIdx.x, count = n_img * plane;
    const double shift = x[(long long)c * plane];
    double sum = 0, sum_sq = 0;
    for (int m = threadIdx.x; m < count; m += blockDim.x) {
        const double d = (double)x[channel_offset(m, c, channels, plane)] - shift;
        sum += d;
        sum_sq += d * d;
    }
    sum = block_sum<double>(sum, shared);
    sum_sq = block_sum<double>(sum_sq, shared);
    if (threadIdx.x == 0) {
        const double mean_shifted = sum / count;
        const double v = sum_sq / count - mean_shifted * mean_shifted;
        mean[c] = (T)(shift + mean_shifted);
        var[c] = (T)(v > 0 ? v : 0.0);
    }
}

template <typename T>
__global__ void batch_norm_backward_reduce(const T* __restrict__ grad_y, const T* __restrict__ x_hat,
                                           T* __restrict__ sum_dy, T* __restrict__ sum_dy_xhat,
                                           int n_img, int channels, int plane) {
    __shared__ double shared[REDUCE_THREADS];
    const int c = blockIdx.x, count = n_img * plane;
    double dy_total = 0, dy_xhat_total = 0;
    for (int m = threadIdx.x; m < count; m += blockDim.x) {
        const long long k = channel_offset(m, c, channels, plane);
        const double dy = grad_y[k];
        dy_total += dy;
        dy_xhat_total += dy * (double)x_hat[k];
    }
    dy_total = block_sum<double>(dy_total, shared);
    dy_xhat_total = block_sum<double>(dy_xhat_total, shared);
    if (threadIdx.x == 0) {
        sum_dy[c] = (T)dy_total;
        sum_dy_xhat[c] = (T)dy_xhat_total;
    }
}

template <typename T>
__global__ void batch_norm_forward_apply(const T* __restrict__ x, const T* __restrict__ mean,
                                         const T* __restrict__ inv_std, const T* __restrict__ weight,
                                         const T* __restrict__ bias, T* __restrict__ x_hat,
                                         T* __restrict__ y, long long size, int channels, int plane,
                                         int has_weight, int has_bias) {
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < size; k += step) {
        const int c = (int)(k / plane) % channels;
        const T normalized = (x[k] - mean[c]) * inv_std[c];
        x_hat[k] = normalized;
        T out = has_weight ? normalized * weight[c] : normalized;
        if (has_bias) out += bias[c];
        y[k] = out;
    }
}

template <typename T>
__global__ void batch_norm_backward_apply(const T* __restrict__ grad_y, const T* __restrict__ x_hat,
                                          const T* __restrict__ scale, const T* __restrict__ mean_dy,
                                          const T* __restrict__ mean_dy_xhat, T* __restrict__ grad_x,
                                          long long size, int channels, int plane) {
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < size; k += step) {
        const int c = (int)(k / plane) % channels;
        grad_x[k] = scale[c] * (grad_y[k] - mean_dy[c] - x_hat[k] * mean_dy_xhat[c]);
    }
}
