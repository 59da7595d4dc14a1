// im2col and col2im for batch-innermost images, templates instantiated for float and double.
//
// Layout (kernels/convolution.py): an image x is (C, H, W, N), C-contiguous: the
// N images of one pixel are adjacent. col has shape (C*kh*kw, oh*ow*N); row
// (c, i, j) holds kernel tap (i, j) of channel c, column (y, x, n) output pixel
// (y, x) of image n. Both kernels run on a 2-D grid (kernels/_cuda.py
// launch_rows): blocks stride over rows in y, so a block decodes its row once,
// and threads stride along the row in x, where neighbouring threads touch
// neighbouring images: coalesced. The caller checks that C*kh*kw, oh*ow*N, C*H
// and W*N each fit in an int; flat offsets are long long.
//
// col2im is a gather: one thread per image element sums, in a fixed order (i,
// then j, ascending), the column entries that map to it, in T. No atomics, so
// the result is deterministic, and it is the same arithmetic as the Numba
// _col2im and col2im_reference in kernels/convolution.py: equal to the bit.

template <typename T>
__global__ void im2col(const T* __restrict__ x, T* __restrict__ col,
                       int channels, int height, int width, int n_img,
                       int kh, int kw, int sh, int sw, int ph, int pw, int oh, int ow) {
    const int rows = channels * kh * kw, cols = oh * ow * n_img;
    for (int row = blockIdx.y; row < rows; row += gridDim.y) {
        const int c = row / (kh * kw), i = (row / kw) % kh, j = row % kw;
        const T* plane = x + (long long)c * height * width * n_img;
        T* dst = col + (long long)row * cols;
        for (int k = blockIdx.x * blockDim.x + threadIdx.x; k < cols; k += blockDim.x * gridDim.x) {
            const int pixel = k / n_img, n = k - pixel * n_img;
            const int y = pixel / ow, x_out = pixel - y * ow;
            const int h = y * sh - ph + i, w = x_out * sw - pw + j;
            const bool inside = h >= 0 && h < height && w >= 0 && w < width;
            dst[k] = inside ? plane[((long long)h * width + w) * n_img + n] : T(0);
        }
    }
}

template <typename T>
__global__ void col2im(const T* __restrict__ col, T* __restrict__ x,
                       int channels, int height, int width, int n_img,
                       int kh, int kw, int sh, int sw, int ph, int pw, int oh, int ow) {
    const int cols = oh * ow * n_img, line = width * n_img;
    for (int image_row = blockIdx.y; image_row < channels * height; image_row += gridDim.y) {
        const int c = image_row / height, h = image_row - c * height;
        for (int k = blockIdx.x * blockDim.x + threadIdx.x; k < line; k += blockDim.x * gridDim.x) {
            const int w = k / n_img, n = k - w * n_img;
            T sum = 0;
            for (int i = 0; i < kh; ++i) {
                const int t = h + ph - i;
                if (t < 0 || t % sh != 0 || t / sh >= oh) continue;
                for (int j = 0; j < kw; ++j) {
                    const int u = w + pw - j;
                    if (u < 0 || u % sw != 0 || u / sw >= ow) continue;
                    const long long row = ((long long)c * kh + i) * kw + j;
                    sum += col[row * cols + ((long long)(t / sh) * ow + u / sw) * n_img + n];
                }
            }
            x[(long long)image_row * line + k] = sum;
        }
    }
}
