// Fused, in-place Adam step over flat contiguous buffers, float and double.
//
// PyTorch's formula, exactly as _adam_update in kernels/cpu.py:
//   g      = grad + weight_decay * param
//   m     += (g - m) * (1 - beta1)                      (lerp toward g)
//   v      = beta2 * v + (1 - beta2) * g * g
//   denom  = sqrt(v) / sqrt(1 - beta2^step) + eps
//   param -= lr / (1 - beta1^step) * m / denom
// adam_update_* take bias_correction1 = 1 - beta1^step and
// bias_correction2_sqrt = sqrt(1 - beta2^step) from the host.
// adam_update_counted_* read the step from device memory instead (Adam with
// capturable=True): a CUDA graph replays its kernel arguments unchanged, so a
// step passed as an argument would stay the step of the capture.
// As on the CPU, the arithmetic is done in double and only the stored m, v and
// param are rounded to T.

template <typename T>
__device__ void adam_impl(T* __restrict__ param, const T* __restrict__ grad,
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

#define ADAM_ARGS long long size, double lr, double beta1, double beta2, double eps, \
    double weight_decay, double bias_correction1, double bias_correction2_sqrt
#define ADAM_PASS size, lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2_sqrt
#define ADAM_COUNTED_ARGS long long size, double lr, double beta1, double beta2, double eps, \
    double weight_decay
#define ADAM_COUNTED_PASS size, lr, beta1, beta2, eps, weight_decay

extern "C" __global__ void adam_update_f32(float* __restrict__ param, const float* __restrict__ grad,
                                           float* __restrict__ exp_avg, float* __restrict__ exp_avg_sq,
                                           ADAM_ARGS) {
    adam_impl<float>(param, grad, exp_avg, exp_avg_sq, ADAM_PASS);
}

extern "C" __global__ void adam_update_f64(double* __restrict__ param, const double* __restrict__ grad,
                                           double* __restrict__ exp_avg, double* __restrict__ exp_avg_sq,
                                           ADAM_ARGS) {
    adam_impl<double>(param, grad, exp_avg, exp_avg_sq, ADAM_PASS);
}

// The step count lives on the device (incremented there before the launch).
template <typename T>
__device__ void adam_counted_impl(T* __restrict__ param, const T* __restrict__ grad,
                                  T* __restrict__ exp_avg, T* __restrict__ exp_avg_sq,
                                  const long long* __restrict__ step, ADAM_COUNTED_ARGS) {
    const double s = (double)*step;
    adam_impl<T>(param, grad, exp_avg, exp_avg_sq, size, lr, beta1, beta2, eps, weight_decay,
                 1.0 - pow(beta1, s), sqrt(1.0 - pow(beta2, s)));
}

extern "C" __global__ void adam_update_counted_f32(
        float* __restrict__ param, const float* __restrict__ grad, float* __restrict__ exp_avg,
        float* __restrict__ exp_avg_sq, const long long* __restrict__ step, ADAM_COUNTED_ARGS) {
    adam_counted_impl<float>(param, grad, exp_avg, exp_avg_sq, step, ADAM_COUNTED_PASS);
}

extern "C" __global__ void adam_update_counted_f64(
        double* __restrict__ param, const double* __restrict__ grad, double* __restrict__ exp_avg,
        double* __restrict__ exp_avg_sq, const long long* __restrict__ step, ADAM_COUNTED_ARGS) {
    adam_counted_impl<double>(param, grad, exp_avg, exp_avg_sq, step, ADAM_COUNTED_PASS);
}
