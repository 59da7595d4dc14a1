// avg_pool2d and max_pool2d over NCHW planes, forward and backward: templates for float and double.
//
// Arrays are C-contiguous; x and grad_x are (planes, height, width) with
// planes = N*C, y, grad_y and argmax (planes, oh, ow). kernels/pooling.py
// checks that planes, H*W and oh*ow fit in an int and computes oh, ow as
// torch does with ceil_mode=False; the op (minigan/functional/pooling.py)
// checks that padding <= kernel / 2, so every window holds an input pixel.
//
// Forward: one thread per output pixel, scanning its window in row-major order.
//   avg: the sum of the in-bounds pixels, in T, over kh*kw (padding counts as zeros:
//        torch's count_include_pad=True), or over their number (count_include_pad=0);
//        the backward of the latter divides each window's gradient by it before summing.
//   max: torch's CPU rule: the first maximum in scan order, NaN wins (the last NaN);
//        argmax is the flat index h*width + w within the plane. The scan starts
//        from the first in-bounds pixel, which is torch's start (-inf at that
//        index) after one step, so an all -inf window points there too.
// Backward: gathers, one thread per input pixel, summing (in T) over the windows
// that hold it in row-major (oy, ox) order: no atomics, so the result is
// bit-reproducible and equals the Numba kernels and the NumPy reference.

// The in-bounds part [h_lo, h_hi) x [w_lo, w_hi) of the window of output pixel (oy, ox).
struct Window { int h_lo, h_hi, w_lo, w_hi; };
__device__ inline Window window(int oy, int ox, int height, int width, int kh, int kw, int sh, int sw,
                                int ph, int pw) {
    const int h0 = oy * sh - ph, w0 = ox * sw - pw;  // the top-left corner, maybe in the padding
    return {h0 < 0 ? 0 : h0, h0 + kh < height ? h0 + kh : height,
            w0 < 0 ? 0 : w0, w0 + kw < width ? w0 + kw : width};
}

// The number of in-bounds pixels of a window.
__device__ inline int area(const Window& win) { return (win.h_hi - win.h_lo) * (win.w_hi - win.w_lo); }

template <typename T>
__global__ void avg_pool2d(const T* __restrict__ x, T* __restrict__ y, int planes, int height,
                                int width, int kh, int kw, int sh, int sw, int ph, int pw, int oh, int ow,
                                int count_include_pad) {
    const long long total = (long long)planes * oh * ow, step = (long long)blockDim.x * gridDim.x;
    const T count = (T)(kh * kw);
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < total; k += step) {
        const int p = (int)(k / (oh * ow)), oy = (int)(k / ow % oh), ox = (int)(k % ow);
        const Window win = window(oy, ox, height, width, kh, kw, sh, sw, ph, pw);
        const T* plane = x + (long long)p * height * width;
        T sum = 0;
        for (int h = win.h_lo; h < win.h_hi; ++h)
            for (int w = win.w_lo; w < win.w_hi; ++w) sum += plane[h * width + w];
        y[k] = sum / (count_include_pad ? count : (T)area(win));
    }
}

template <typename T>
__global__ void max_pool2d(const T* __restrict__ x, T* __restrict__ y, int* __restrict__ argmax,
                                int planes, int height, int width, int kh, int kw, int sh, int sw,
                                int ph, int pw, int oh, int ow) {
    const long long total = (long long)planes * oh * ow, step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < total; k += step) {
        const int p = (int)(k / (oh * ow)), oy = (int)(k / ow % oh), ox = (int)(k % ow);
        const Window win = window(oy, ox, height, width, kh, kw, sh, sw, ph, pw);
        const T* plane = x + (long long)p * height * width;
        int index = win.h_lo * width + win.w_lo;
        T best = plane[index];
        for (int h = win.h_lo; h < win.h_hi; ++h)
            for (int w = win.w_lo; w < win.w_hi; ++w) {
                const T v = plane[h * width + w];
                if (v > best || v != v) {
                    best = v;
                    index = h * width + w;
                }
            }
        y[k] = best;
        argmax[k] = index;
    }
}

// The output rows (or columns) whose windows hold input row h: lo <= o < hi.
__device__ inline int window_lo(int h, int k, int s, int pad) {
    return h + pad < k ? 0 : (h + pad - k) / s + 1;
}
__device__ inline int window_hi(int h, int s, int pad, int out) {
    return (h + pad) / s + 1 < out ? (h + pad) / s + 1 : out;
}

// The gather of both backwards; BY_ARGMAX sums only the windows whose argmax is the pixel.
template <typename T, bool BY_ARGMAX>
__device__ void pool2d_backward(const T* __restrict__ grad_y, const int* __restrict__ argmax,
                                     T* __restrict__ grad_x, int planes, int height, int width, int kh,
                                     int kw, int sh, int sw, int ph, int pw, int oh, int ow,
                                     int count_include_pad) {
    const long long total = (long long)planes * height * width, step = (long long)blockDim.x * gridDim.x;
    const bool by_window = !BY_ARGMAX && !count_include_pad;  // each window's gradient over its area
    const T divisor = BY_ARGMAX || by_window ? T(1) : (T)(kh * kw);
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < total; k += step) {
        const int p = (int)(k / (height * width)), h = (int)(k / width % height), w = (int)(k % width);
        const long long offset = (long long)p * oh * ow;
        T sum = 0;
        for (int oy = window_lo(h, kh, sh, ph); oy < window_hi(h, sh, ph, oh); ++oy)
            for (int ox = window_lo(w, kw, sw, pw); ox < window_hi(w, sw, pw, ow); ++ox)
                if (by_window)
                    sum += grad_y[offset + oy * ow + ox] /
                           (T)area(window(oy, ox, height, width, kh, kw, sh, sw, ph, pw));
                else if (!BY_ARGMAX || argmax[offset + oy * ow + ox] == h * width + w)
                    sum += grad_y[offset + oy * ow + ox];
        grad_x[k] = sum / divisor;
    }
}

template <typename T>
__global__ void avg_pool2d_backward(const T* __restrict__ grad_y, T* __restrict__ grad_x, int planes,
                                    int height, int width, int kh, int kw, int sh, int sw, int ph, int pw,
                                    int oh, int ow, int count_include_pad) {
    pool2d_backward<T, false>(grad_y, nullptr, grad_x, planes, height, width, kh, kw, sh, sw, ph, pw, oh, ow,
                              count_include_pad);
}

template <typename T>
__global__ void max_pool2d_backward(const T* __restrict__ grad_y, const int* __restrict__ argmax,
                                    T* __restrict__ grad_x, int planes, int height, int width, int kh, int kw,
                                    int sh, int sw, int ph, int pw, int oh, int ow) {
    pool2d_backward<T, true>(grad_y, argmax, grad_x, planes, height, width, kh, kw, sh, sw, ph, pw, oh, ow, 1);
}
