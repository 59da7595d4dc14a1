// Fused, in-place Adam step over flat contiguous buffers, templates for float and double.
//
// torch.optim.Adam's formula, exactly as adam_update_reference in kernels/adam.py:
//   g      = grad_sign * grad                           (-1 to maximize)
//   param *= 1 - lr * weight_decay                      (decoupled: AdamW)
//   g     += weight_decay * param                       (otherwise: L2 in the gradient)
//   m     += (g - m) * (1 - beta1)                      (lerp toward g)
//   v      = beta2 * v + (1 - beta2) * g * g
//   vmax   = max(vmax, v)                               (amsgrad; vmax replaces v below)
//   denom  = sqrt(v) / sqrt(1 - beta2^step) + eps
//   param -= lr / (1 - beta1^step) * m / denom
// Without amsgrad, max_exp_avg_sq is never touched (the host passes exp_avg_sq for it),
// so it is not __restrict__.
// adam_update takes bias_correction1 = 1 - beta1^step and
// bias_correction2_sqrt = sqrt(1 - beta2^step) from the host.
// adam_update_counted reads the step from device memory instead (Adam with
// capturable=True): a CUDA graph replays its kernel arguments unchanged, so a
// step passed as an argument would stay the step of the capture.
// As on the CPU, the arithmetic is done in double and only the stored m, v,
// vmax and param are rounded to T.

template <typename T>
__device__ void adam_step(T* __restrict__ param, const T* __restrict__ grad, T* __restrict__ exp_avg,
                          T* __restrict__ exp_avg_sq, T* max_exp_avg_sq, long long size, int amsgrad,
                          int decoupled, double grad_sign, double lr, double beta1, double beta2,
                          double eps, double weight_decay, double bias_correction1,
                          double bias_correction2_sqrt) {
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < size; k += step) {
        double p = param[k];
        double g = grad_sign * (double)grad[k];
        if (decoupled) {
            p = p * (1.0 - lr * weight_decay);
        } else {
            g = g + weight_decay * p;
        }
        const double m = exp_avg[k];
        exp_avg[k] = (T)(m + (g - m) * (1.0 - beta1));
        exp_avg_sq[k] = (T)(beta2 * (double)exp_avg_sq[k] + (1.0 - beta2) * g * g);
        // Read back the stored (rounded) moments, as the CPU kernel does.
        T second = exp_avg_sq[k];
        if (amsgrad) {
            second = max_exp_avg_sq[k] > second ? max_exp_avg_sq[k] : second;
            max_exp_avg_sq[k] = second;
        }
        const double denom = sqrt((double)second) / bias_correction2_sqrt + eps;
        param[k] = (T)(p - lr / bias_correction1 * (double)exp_avg[k] / denom);
    }
}

template <typename T>
__global__ void adam_update(T* __restrict__ param, const T* __restrict__ grad, T* __restrict__ exp_avg,
                            T* __restrict__ exp_avg_sq, T* max_exp_avg_sq, long long size, int amsgrad,
                            int decoupled, double grad_sign, double lr, double beta1, double beta2,
                            double eps, double weight_decay, double bias_correction1,
                            double bias_correction2_sqrt) {
    adam_step<T>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, size, amsgrad, decoupled, grad_sign,
                 lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2_sqrt);
}

// The step count lives on the device (incremented there before the launch).
template <typename T>
__global__ void adam_update_counted(T* __restrict__ param, const T* __restrict__ grad,
                                    T* __restrict__ exp_avg, T* __restrict__ exp_avg_sq,
                                    T* max_exp_avg_sq, const long long* __restrict__ step, long long size,
                                    int amsgrad, int decoupled, double grad_sign, double lr, double beta1,
                                    double beta2, double eps, double weight_decay) {
    const double s = (double)*step;
    adam_step<T>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, size, amsgrad, decoupled, grad_sign,
                 lr, beta1, beta2, eps, weight_decay, 1.0 - pow(beta1, s), sqrt(1.0 - pow(beta2, s)));
}
