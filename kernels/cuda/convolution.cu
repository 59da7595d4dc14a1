// im2col and col2im for NCHW images, templates instantiated for float and double.
//
// Layout (kernels/convolution.py): col has shape (C*kh*kw, N*oh*ow); row
// (c, i, j) holds kernel tap (i, j) of channel c, column (n, y, x) the output
// pixel. Both arrays are C-contiguous. Flat offsets are long long (a column
// matrix can pass 2^31 elements); the caller (kernels/convolution.py) checks that
// C*kh*kw, N*oh*ow, N*C and H*W each fit in an int, so only one 64-bit
// division is done per element.
//
// col2im is a gather: one thread per image pixel sums, in a fixed order (i,
// then j, ascending), the column entries that map to it, in T. No atomics, so
// the result is deterministic, and it is the same arithmetic as the Numba
// _col2im and col2im_reference in kernels/convolution.py: equal to the bit.

template <typename T>
__global__ void im2col(const T* __restrict__ x, T* __restrict__ col,
                       int n_img, int channels, int height, int width,
                       int kh, int kw, int sh, int sw, int ph, int pw, int oh, int ow) {
    const long long cols = (long long)n_img * oh * ow;
    const long long total = (long long)channels * kh * kw * cols;
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < total; k += step) {
        const int row = (int)(k / cols), column = (int)(k - row * cols);
        const int c = row / (kh * kw), i = (row / kw) % kh, j = row % kw;
        const int n = column / (oh * ow), y = (column / ow) % oh, x_out = column % ow;
        const int h = y * sh - ph + i, w = x_out * sw - pw + j;
        const bool inside = h >= 0 && h < height && w >= 0 && w < width;
        col[k] = inside ? x[(((long long)n * channels + c) * height + h) * width + w] : T(0);
    }
}

template <typename T>
__global__ void col2im(const T* __restrict__ col, T* __restrict__ x,
                       int n_img, int channels, int height, int width,
                       int kh, int kw, int sh, int sw, int ph, int pw, int oh, int ow) {
    const long long cols = (long long)n_img * oh * ow;
    const int hw = height * width;
    const long long total = (long long)n_img * channels * hw;
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < total; k += step) {
        const int plane = (int)(k / hw), pixel = (int)(k - (long long)plane * hw);
        const int n = plane / channels, c = plane % channels;
        const int h = pixel / width, w = pixel % width;
        T sum = 0;
        for (int i = 0; i < kh; ++i) {
            const int t = h + ph - i;
            if (t < 0 || t % sh != 0 || t / sh >= oh) continue;
            const long long col_y = ((long long)n * oh + t / sh) * ow;
            for (int j = 0; j < kw; ++j) {
                const int u = w + pw - j;
                if (u < 0 || u % sw != 0 || u / sw >= ow) continue;
                const long long row = ((long long)c * kh + i) * kw + j;
                sum += col[row * cols + col_y + u / sw];
            }
        }
        x[k] = sum;
    }
}
