// The training batch, templates for float and double (kernels/image_batch.py): out (P, B),
// P = C*H*W pixels of B images, out[p, b] = images[indices[b], p] / 127.5 - 1, from C-contiguous
// uint8 images (N, P) and int64 indices (B,). A 2-D grid (kernels/_cuda.py launch_rows): blocks
// stride over the pixels in y, threads over the batch in x, so no index is divided; the writes
// of a block are contiguous. The conversion is exact and the division and subtraction round
// once each, as NumPy's: the same bits as the reference.

template <typename T>
__global__ void image_batch(const unsigned char* __restrict__ images, const long long* __restrict__ indices,
                            T* __restrict__ out, int pixels, int batch) {
    for (int p = blockIdx.y; p < pixels; p += gridDim.y) {
        for (int b = blockIdx.x * blockDim.x + threadIdx.x; b < batch; b += blockDim.x * gridDim.x) {
            out[(long long)p * batch + b] = (T)images[indices[b] * pixels + p] / T(127.5) - T(1);
        }
    }
}
