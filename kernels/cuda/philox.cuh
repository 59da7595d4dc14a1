// Philox4x64-10, bit-identical to numpy.random.Philox: the one device function every
// kernel that draws random numbers (philox.cu's normals, dropout.cu's masks) generates its
// blocks with. The generator state is one device array of 6 unsigned 64-bit words,
//   state = [key0, key1, counter0, counter1, counter2, counter3]   (counter word 0 lowest),
// and as in NumPy the counter is incremented BEFORE each block: a state with counter c next
// yields the blocks for counters c+1, c+2, ...; philox.cu's philox_advance moves it on.
#pragma once

#define PHILOX_M0 0xD2E7470EE14C6C93ULL  // round multipliers
#define PHILOX_M1 0xCA5A826395121157ULL
#define PHILOX_W0 0x9E3779B97F4A7C15ULL  // Weyl key increments
#define PHILOX_W1 0xBB67AE8584CAA73BULL
#define PHILOX_ROUNDS 10

// out = Philox4x64-10 of the 256-bit counter at state[2..5] + 1 + index,
// i.e. the block `index` places after the one the state generates next.
__device__ inline void philox_block_at(const unsigned long long* __restrict__ state, unsigned long long index,
                                unsigned long long out[4]) {
    unsigned long long ctr[4];
    unsigned long long add = index + 1;  // 0 only when index = 2^64-1: carry one into word 1
    unsigned long long carry = (add == 0);
    ctr[0] = state[2] + add;
    carry += (ctr[0] < add);
    for (int i = 1; i < 4; ++i) {
        ctr[i] = state[2 + i] + carry;
        carry = (ctr[i] < carry);
    }
    unsigned long long key0 = state[0], key1 = state[1];
    for (int round = 0; round < PHILOX_ROUNDS; ++round) {
        const unsigned long long hi0 = __umul64hi(PHILOX_M0, ctr[0]), lo0 = PHILOX_M0 * ctr[0];
        const unsigned long long hi1 = __umul64hi(PHILOX_M1, ctr[2]), lo1 = PHILOX_M1 * ctr[2];
        ctr[0] = hi1 ^ ctr[1] ^ key0;
        ctr[1] = lo1;
        ctr[2] = hi0 ^ ctr[3] ^ key1;
        ctr[3] = lo0;
        key0 += PHILOX_W0;
        key1 += PHILOX_W1;
    }
    for (int i = 0; i < 4; ++i) out[i] = ctr[i];
}
