// Dropout masks from the Philox stream (philox.cuh): the same masks as kernels/dropout.py's.
//
// Element k of the mask takes word k % 4 of the stream's block k / 4 (the block
// k / 4 places after the one the state generates next). A word w becomes a
// uniform u = (w >> 11) * 2^-53 in [0, 1) (its top 53 bits, exact in double),
// and the element is kept when u < keep (keep = 1 - p, in double):
//   mask[k] = u < keep ? scale : 0,   scale = 1 / keep rounded to the output type
// A mask of `size` elements consumes ceil(size / 4) whole blocks; the launch
// wrapper then moves the counter on with philox.cu's philox_advance. Both read
// the state only from device memory, so a CUDA graph can capture them.

#include "philox.cuh"

template <typename T>
__global__ void dropout_mask(const unsigned long long* __restrict__ state, T* __restrict__ mask,
                             long long size, double keep, T scale) {
    const long long blocks = (size + 3) / 4;
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long b = (long long)blockIdx.x * blockDim.x + threadIdx.x; b < blocks; b += step) {
        unsigned long long words[4];
        philox_block_at(state, (unsigned long long)b, words);
        for (int i = 0; i < 4 && 4 * b + i < size; ++i) {
            const double u = (double)(words[i] >> 11) * (1.0 / 9007199254740992.0);  // * 2^-53, exact
            mask[4 * b + i] = u < keep ? scale : T(0);
        }
    }
}
