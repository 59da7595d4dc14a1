// Counter-based random numbers: Philox4x64-10, bit-identical to numpy.random.Philox.
//
// The generator state is one device array of 6 unsigned 64-bit words:
//   state = [key0, key1, counter0, counter1, counter2, counter3]   (counter word 0 lowest)
// As in NumPy, the 256-bit counter is incremented (with carry, modulo 2^256)
// BEFORE each block is generated: a state with counter c next yields the
// blocks for counters c+1, c+2, ...; after n blocks its counter is c+n, which
// is numpy.random.Philox(key=..., counter=c).random_raw(4*n)'s final counter.
// Each block gives 4 words, returned in order v[0], v[1], v[2], v[3].
//
// Normals (Box-Muller): the words of block b, (w0, w1, w2, w3), become the
// values 4b..4b+3 from the pairs (w0, w1) and (w2, w3). Each word w becomes
// a uniform u = ((w >> 11) + 1) * 2^-53 in (0, 1] (its top 53 bits; never 0,
// so the log is finite), and a pair (a, b) gives, in double,
//   r = sqrt(-2 * log(u_a)),  angle = 6.283185307179586 * u_b   (2*pi rounded to double)
//   values r * cos(angle), r * sin(angle)
// then rounded once to the output type. A draw of `size` values consumes
// ceil(size / 4) whole blocks; the unused values of the last block are dropped.
//
// Filling and advancing are two launches because every thread of the fill
// must read the counter before it changes; both read the state only from
// device memory, so they can be captured in a CUDA graph whose replays then
// draw fresh numbers.

#include "philox.cuh"

__device__ double uniform_open_closed(unsigned long long word) {
    return (double)((word >> 11) + 1) * (1.0 / 9007199254740992.0);  // * 2^-53, exact
}

template <typename T>
__global__ void philox_normal(const unsigned long long* __restrict__ state, T* __restrict__ out,
                              long long size) {
    const long long blocks = (size + 3) / 4;
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long b = (long long)blockIdx.x * blockDim.x + threadIdx.x; b < blocks; b += step) {
        unsigned long long words[4];
        philox_block_at(state, (unsigned long long)b, words);
        for (int pair = 0; pair < 2; ++pair) {
            const double radius = sqrt(-2.0 * log(uniform_open_closed(words[2 * pair])));
            const double angle = 6.283185307179586 * uniform_open_closed(words[2 * pair + 1]);
            const long long k = 4 * b + 2 * pair;
            if (k < size) out[k] = (T)(radius * cos(angle));
            if (k + 1 < size) out[k + 1] = (T)(radius * sin(angle));
        }
    }
}

// Adds `blocks` to the 256-bit counter at state[2..5]; launch with one thread. Plain C,
// not a template: the state has one type whatever the draw's.
extern "C" __global__ void philox_advance(unsigned long long* __restrict__ state, unsigned long long blocks) {
    unsigned long long carry = blocks;
    for (int i = 2; i < 6; ++i) {
        state[i] += carry;
        carry = (state[i] < carry);
    }
}
