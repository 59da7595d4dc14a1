// GELU over C-contiguous arrays, templates for float and double; each thread walks the
// flat elements with a grid stride. PyTorch's formulas (kernels/gelu.py has them in full):
//   exact (tanh_form 0)  y = 0.5 x (1 + erf(x / sqrt 2)),  dy/dx = Phi(x) + x exp(-x^2/2) / sqrt(2 pi)
//   tanh  (tanh_form 1)  y = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
// The backward recomputes from x.

__device__ inline float erf_(float v) { return erff(v); }
__device__ inline double erf_(double v) { return erf(v); }
__device__ inline float tanh_(float v) { return tanhf(v); }
__device__ inline double tanh_(double v) { return tanh(v); }
__device__ inline float exp_(float v) { return expf(v); }
__device__ inline double exp_(double v) { return exp(v); }

#define GELU_KAPPA 0.044715
#define GELU_BETA 0.7978845608028654      // sqrt(2 / pi)
#define GELU_ROOT_HALF 0.7071067811865476  // 1 / sqrt(2)
#define GELU_ALPHA 0.3989422804014327     // 1 / sqrt(2 pi)

template <typename T>
__global__ void gelu(const T* __restrict__ x, T* __restrict__ y, long long size, int tanh_form) {
    const T half = T(0.5), one = T(1), kappa = T(GELU_KAPPA), beta = T(GELU_BETA);
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < size; k += step) {
        const T v = x[k];
        y[k] = tanh_form ? half * v * (one + tanh_(beta * (v + kappa * v * v * v)))
                         : half * v * (one + erf_(v * T(GELU_ROOT_HALF)));
    }
}

template <typename T>
__global__ void gelu_backward(const T* __restrict__ grad, const T* __restrict__ x, T* __restrict__ grad_x,
                              long long size, int tanh_form) {
    const T half = T(0.5), one = T(1), kappa = T(GELU_KAPPA), beta = T(GELU_BETA);
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < size; k += step) {
        const T v = x[k];
        T slope;
        if (tanh_form) {
            const T t = tanh_(beta * (v + kappa * v * v * v));
            slope = half * (one + t) + half * v * (one - t * t) * beta * (one + T(3) * kappa * v * v);
        } else {
            slope = half * (one + erf_(v * T(GELU_ROOT_HALF))) + v * T(GELU_ALPHA) * exp_(-half * v * v);
        }
        grad_x[k] = grad[k] * slope;
    }
}
