// Cross-entropy over rows of logits (n, C), C-contiguous, classes along each row; one thread
// per row, its loops in class order (the order of kernels/cross_entropy.py's Numba kernels).
//
// forward, for row i with target t (ignore_index: the row is ignored) and class weights w:
//   logp[i, c] = x[i, c] - m - log(sum_c exp(x[i, c] - m)),  m = max_c x[i, c]
//   w_t[i]     = valid ? w[t] : 0
//   terms[i]   = valid ? -(1 - eps) w[t] logp[i, t] - eps / C * sum_c w[c] logp[i, c] : 0
// backward, with p = exp(logp), W = sum_c w[c] and coef[i] the upstream gradient of terms[i]:
//   grad[i, c] = valid ? coef[i] ((1 - eps) w[t] (p_c - [c == t]) + eps / C (p_c W - w[c])) : 0

__device__ inline float exp_(float v) { return expf(v); }
__device__ inline double exp_(double v) { return exp(v); }
__device__ inline float log_(float v) { return logf(v); }
__device__ inline double log_(double v) { return log(v); }

template <typename T>
__global__ void cross_entropy_forward(const T* __restrict__ x, const long long* __restrict__ target,
                                      const T* __restrict__ weight, T* __restrict__ logp, T* __restrict__ terms,
                                      T* __restrict__ w_t, long long n, long long classes, long long ignore_index,
                                      T smoothing) {
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
        const T* row = x + i * classes;
        T* out = logp + i * classes;
        T m = row[0];
        for (long long c = 1; c < classes; ++c) m = row[c] > m ? row[c] : m;
        T total = T(0);
        for (long long c = 0; c < classes; ++c) total += exp_(row[c] - m);
        const T shift = m + log_(total);
        T smooth = T(0);
        for (long long c = 0; c < classes; ++c) {
            out[c] = row[c] - shift;
            smooth += weight[c] * out[c];
        }
        const long long t = target[i];
        if (t == ignore_index) {
            terms[i] = T(0);
            w_t[i] = T(0);
        } else {
            terms[i] = -(T(1) - smoothing) * weight[t] * out[t] - smoothing / T(classes) * smooth;
            w_t[i] = weight[t];
        }
    }
}

template <typename T>
__global__ void cross_entropy_backward(const T* __restrict__ logp, const long long* __restrict__ target,
                                       const T* __restrict__ weight, const T* __restrict__ coef,
                                       T* __restrict__ grad, long long n, long long classes,
                                       long long ignore_index, T smoothing) {
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
        T* out = grad + i * classes;
        const long long t = target[i];
        if (t == ignore_index) {
            for (long long c = 0; c < classes; ++c) out[c] = T(0);
            continue;
        }
        T total_weight = T(0);
        for (long long c = 0; c < classes; ++c) total_weight += weight[c];
        const T picked = (T(1) - smoothing) * weight[t], spread = smoothing / T(classes);
        for (long long c = 0; c < classes; ++c) {
            const T p = exp_(logp[i * classes + c]);
            out[c] = coef[i] * (picked * (p - (c == t ? T(1) : T(0))) + spread * (p * total_weight - weight[c]));
        }
    }
}
