// Fused, in-place Adam step over flat contiguous buffers, templates for float and double.
//
// PyTorch's formula, exactly as _adam_update in kernels/adam.py:
//   g      = grad + weight_decay * param
//   m     += (g - m) * (1 - beta1)                      (lerp toward g)
//   v      = beta2 * v + (1 - beta2) * g * g
//   denom  = sqrt(v) / sqrt(1 - beta2^step) + eps
//   param -= lr / (1 - beta1^step) * m / denom
// adam_update takes bias_correction1 = 1 - beta1^step and
// bias_correction2_sqrt = sqrt(1 - beta2^step) from the host.
// adam_update_counted reads the step from device memory instead (Adam with
// capturable=True): a CUDA graph replays its kernel arguments unchanged, so a
// step passed as an argument would stay the step of the capture.
// As on the CPU, the arithmetic is done in double and only the stored m, v and
// param are rounded to T.

template <typename T>
__device__ void adam_step(T* __restrict__ param, const T* __restrict__ grad,
                          T* __restrict__ exp_avg, T* __restrict__ exp_avg_sq, long long size,
                          double lr, double beta1, double beta2, double eps, double weight_decay,
                          double bias_correction1, double bias_correction2_sqrt) {
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < size; k += step) {
        const double p = param[k];
        const double g = (double)grad[k] + weight_decay * p;
        const double m = exp_avg[k];
        exp_avg[k] = (T)(m + (g - m) * (1.0 - beta1));
        exp_avg_sq[k] = (T)(beta2 * (double)exp_avg_sq[k] + (1.0 - beta2) * g * g);
        // Read back the stored (rounded) moments, as the CPU kernel does.
        const double denom = sqrt((double)exp_avg_sq[k]) / bias_correction2_sqrt + eps;
        param[k] = (T)(p - lr / bias_correction1 * (double)exp_avg[k] / denom);
    }
}

template <typename T>
__global__ void adam_update(T* __restrict__ param, const T* __restrict__ grad, T* __restrict__ exp_avg,
                            T* __restrict__ exp_avg_sq, long long size, double lr, double beta1,
                            double beta2, double eps, double weight_decay, double bias_correction1,
                            double bias_correction2_sqrt) {
    adam_step<T>(param, grad, exp_avg, exp_avg_sq, size, lr, beta1, beta2, eps, weight_decay,
                 bias_correction1, bias_correction2_sqrt);
}

// The step count lives on the device (incremented there before the launch).
template <typename T>
__global__ void adam_update_counted(T* __restrict__ param, const T* __restrict__ grad,
                                    T* __restrict__ exp_avg, T* __restrict__ exp_avg_sq,
                                    const long long* __restrict__ step, long long size, double lr,
                                    double beta1, double beta2, double eps, double weight_decay) {
    const double s = (double)*step;
    adam_step<T>(param, grad, exp_avg, exp_avg_sq, size, lr, beta1, beta2, eps, weight_decay,
                 1.0 - pow(beta1, s), sqrt(1.0 - pow(beta2, s)));
}
