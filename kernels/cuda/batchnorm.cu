// Batch normalization on channel rows, fused with the LeakyReLU that may follow
// it, templates for float and double: x is a C-contiguous (C, M) array, channel
// c's M values in row c (the ops pass batch-innermost images, (C, H*W*N);
// kernels/batchnorm.py). act(z) = z > 0 ? z : z * slope of z = x_hat * w + b,
// x_hat = (x - mean) * inv_std: slope 0 is ReLU, slope 1 no activation. Weight
// and bias are optional (has_weight, has_bias; 1 and 0 without).
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
//   batch_norm_backward:        the whole backward of a channel in its block: the sums
//                               sum_dz = sum(dz), sum_dz_xhat = sum(dz * x_hat), dz =
//                               dy * (z > 0 ? 1 : slope), x_hat and z recomputed from
//                               x; written (or added) into grad_bias and grad_weight
//                               by thread 0; then the block reads its row again for
//                               gx = w * inv_std * (dz - sum_dz / M - x_hat * sum_dz_xhat / M)
//                               (training), or w * inv_std * dz (evaluation): the
//                               compact formula of minigan/functional/batchnorm.py.
//
// Elementwise, on a 2-D grid (kernels/_cuda.py launch_rows): blocks stride over
// the channels in y, threads along the row in x, so no index is divided.
//   batch_norm_forward_apply:   y = act(z), the only array written
// z comes from one helper in every kernel, so backward's slopes are forward's.

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

// x_hat and z of one value (the same instructions in every kernel).
template <typename T> struct Normalized { T x_hat, z; };
template <typename T>
__device__ inline Normalized<T> normalized(T v, T m, T s, T w, T b) {
    const T h = (v - m) * s;
    return {h, h * w + b};
}

template <typename T>
__global__ void batch_norm_backward(const T* __restrict__ grad_y, const T* __restrict__ x,
                                    const T* __restrict__ mean, const T* __restrict__ inv_std,
                                    const T* __restrict__ weight, const T* __restrict__ bias,
                                    int has_weight, int has_bias, T slope, T* __restrict__ grad_x,
                                    T* __restrict__ grad_weight, T* __restrict__ grad_bias,
                                    int channels, int count, int training, int add_to_weight, int add_to_bias) {
    __shared__ double shared[REDUCE_THREADS];
    const int c = blockIdx.x;
    const T m = mean[c], s = inv_std[c], w = has_weight ? weight[c] : T(1), b = has_bias ? bias[c] : T(0);
    const long long start = (long long)c * count;
    double dz_total = 0, dz_xhat_total = 0;
    for (int k = threadIdx.x; k < count; k += blockDim.x) {
        const Normalized<T> n = normalized(x[start + k], m, s, w, b);
        const T dy = grad_y[start + k];
        const double dz = n.z > T(0) ? dy : dy * slope;
        dz_total += dz;
        dz_xhat_total += dz * (double)n.x_hat;
    }
    const T sum_dz = (T)block_sum<double>(dz_total, shared);
    const T sum_dz_xhat = (T)block_sum<double>(dz_xhat_total, shared);
    if (threadIdx.x == 0) {  // one writer per channel: deterministic in place
        grad_bias[c] = add_to_bias ? grad_bias[c] + sum_dz : sum_dz;
        grad_weight[c] = add_to_weight ? grad_weight[c] + sum_dz_xhat : sum_dz_xhat;
    }
    const T scale = w * s;
    const T md = training ? sum_dz / (T)count : T(0), mdx = training ? sum_dz_xhat / (T)count : T(0);
    for (int k = threadIdx.x; k < count; k += blockDim.x) {
        const Normalized<T> n = normalized(x[start + k], m, s, w, b);
        const T dy = grad_y[start + k];
        const T dz = n.z > T(0) ? dy : dy * slope;
        grad_x[start + k] = scale * (dz - md - n.x_hat * mdx);
    }
}

template <typename T>
__global__ void batch_norm_forward_apply(const T* __restrict__ x, const T* __restrict__ mean,
                                         const T* __restrict__ inv_std, const T* __restrict__ weight,
                                         const T* __restrict__ bias, int has_weight, int has_bias, T slope,
                                         T* __restrict__ y, int channels, int count) {
    for (int c = blockIdx.y; c < channels; c += gridDim.y) {
        const T m = mean[c], s = inv_std[c];
        const T w = has_weight ? weight[c] : T(1), b = has_bias ? bias[c] : T(0);
        const long long start = (long long)c * count;
        for (int k = blockIdx.x * blockDim.x + threadIdx.x; k < count; k += blockDim.x * gridDim.x) {
            const T z = normalized(x[start + k], m, s, w, b).z;
            y[start + k] = z > T(0) ? z : z * slope;
        }
    }
}
