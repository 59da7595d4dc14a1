// C (M, N) = op(A) @ op(B) on tensor cores in TF32, float32 only (sm_80 and newer).
//
// The operands, flags and layout of kernels/cuda/gemm.cu: op(A) is A stored
// (M, K) or, with trans_a, A stored (K, M); op(B) is B stored (K, N) or, with
// trans_b, B stored (N, K); all C-contiguous, sizes checked by kernels/gemm.py.
//
// One block of 8 warps computes a 64x64 tile of C, each warp a 32x16 part
// (2x4 warps) as 2x2 mma.sync m16n8k8 tiles: twice the warps of a 4-warp
// block, so that while some wait on shared memory others keep the tensor
// cores busy. K is walked in tiles of 16 (two k8 steps), double-buffered as
// in gemm.cu: tile t+1 is copied global -> shared (cp.async on sm_80+,
// async_copy.cuh) while tile t is multiplied. Each input element is rounded
// to TF32 (10 mantissa bits, round to nearest, cvt.rna) as it is read into a
// fragment; mma.sync multiplies exactly and accumulates in float32. Elements
// outside M, N or the K slice are staged as zeros. Split-K as in gemm.cu:
// blockIdx.z is a slice of K, written to c + z * M * N when there are several
// (kernels/gemm.py then adds them); with one slice and accumulate, C's old
// value plus the product. Deterministic: the same mma sequence in the same
// order on every run.
//
// Inline PTX only, no <mma.h>: NVRTC (CuPy) then needs no CUDA headers.
// The CPU emulator (tests/support/cuda_emulator.py) has no PTX: it defines
// MINIGAN_CUDA_EMULATOR and stands in for the two instructions, as PTX's ISA
// documents them (the fragment layouts included), so the rest of the kernel
// is tested there; the instructions themselves only on a GPU.

#include "async_copy.cuh"

#define GEMM_TF32_TILE_M 64
#define GEMM_TF32_TILE_N 64
#define GEMM_TF32_TILE_K 16
#define GEMM_TF32_THREADS 256  // 8 warps, 2 down x 4 across the block tile; blockDim is (256, 1, 1)
#define GEMM_TF32_WARPS_N 4
#define GEMM_TF32_WARP_TILE_M 32
#define GEMM_TF32_WARP_TILE_N 16
#define MMA_M 16
#define MMA_N 8
#define MMA_K 8
// Row stride of the shared tiles in words: a fragment read (rows group, k
// member, for 8 groups x 4 members) then touches 32 distinct banks.
#define GEMM_TF32_TILE_STRIDE (GEMM_TF32_TILE_K + 4)

__device__ __forceinline__ unsigned to_tf32(float value) {
#ifdef MINIGAN_CUDA_EMULATOR
    return emulated_cvt_rna_tf32(value);
#else
    unsigned bits;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(bits) : "f"(value));
    return bits;
#endif
}

// d += a (16x8, row-major) @ b (8x8, column-major), fragments in PTX's m16n8k8 layout.
__device__ __forceinline__ void mma_tf32(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
#ifdef MINIGAN_CUDA_EMULATOR
    emulated_mma_m16n8k8_tf32(d, a, b);
#else
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

#define WARP_TILES_M (GEMM_TF32_WARP_TILE_M / MMA_M)
#define WARP_TILES_N (GEMM_TF32_WARP_TILE_N / MMA_N)

extern "C" __global__ void gemm_tf32(const float* __restrict__ a, const float* __restrict__ b,
                                     float* __restrict__ c, int m, int n, int k,
                                     int trans_a, int trans_b, int k_slice, int accumulate) {
    // a_tile[s][mm][kk] = op(A)[m0+mm][k0+kk], b_tile[s][nn][kk] = op(B)[k0+kk][n0+nn], as floats
    __shared__ float a_tile[2][GEMM_TF32_TILE_M][GEMM_TF32_TILE_STRIDE];
    __shared__ float b_tile[2][GEMM_TF32_TILE_N][GEMM_TF32_TILE_STRIDE];
    const int thread = threadIdx.x, lane = thread % 32, warp = thread / 32;
    const int group = lane / 4, member = lane % 4;  // PTX's groupID and threadID_in_group
    const int warp_m = warp / GEMM_TF32_WARPS_N * GEMM_TF32_WARP_TILE_M;
    const int warp_n = warp % GEMM_TF32_WARPS_N * GEMM_TF32_WARP_TILE_N;
    const int m0 = blockIdx.y * GEMM_TF32_TILE_M, n0 = blockIdx.x * GEMM_TF32_TILE_N;
    const int k_begin = blockIdx.z * k_slice;
    const int k_end = min(k, k_begin + k_slice);
    const int tiles = k_end > k_begin ? (k_end - k_begin + GEMM_TF32_TILE_K - 1) / GEMM_TF32_TILE_K : 0;
    float acc[WARP_TILES_M][WARP_TILES_N][4] = {};

    // Tile k0 into buffer s: op(A) (M, K) and op(B) (K, N), stored m- and n-major in shared memory.
    auto stage = [&](int s, int k0) {
        stage_tile<GEMM_TF32_TILE_M, GEMM_TF32_TILE_K, GEMM_TF32_THREADS>(
            &a_tile[s][0][0], GEMM_TF32_TILE_STRIDE, 1, a, trans_a, m, k, m0, k0, m, k_end, thread);
        stage_tile<GEMM_TF32_TILE_K, GEMM_TF32_TILE_N, GEMM_TF32_THREADS>(
            &b_tile[s][0][0], 1, GEMM_TF32_TILE_STRIDE, b, trans_b, k, n, k0, n0, k_end, n, thread);
        async_commit();
    };

    double_buffered_k(tiles, k_begin, GEMM_TF32_TILE_K, stage, [&](int s) {
        for (int ks = 0; ks < GEMM_TF32_TILE_K; ks += MMA_K) {
            // A fragment: (row group, k member), (group+8, member), (group, member+4), (group+8, member+4).
            // B fragment: (k member, col group), (member+4, group).
            unsigned a_frag[WARP_TILES_M][4], b_frag[WARP_TILES_N][2];
            for (int i = 0; i < WARP_TILES_M; ++i) {
                const int row = warp_m + i * MMA_M + group;
                a_frag[i][0] = to_tf32(a_tile[s][row][ks + member]);
                a_frag[i][1] = to_tf32(a_tile[s][row + 8][ks + member]);
                a_frag[i][2] = to_tf32(a_tile[s][row][ks + member + 4]);
                a_frag[i][3] = to_tf32(a_tile[s][row + 8][ks + member + 4]);
            }
            for (int j = 0; j < WARP_TILES_N; ++j) {
                const int col = warp_n + j * MMA_N + group;
                b_frag[j][0] = to_tf32(b_tile[s][col][ks + member]);
                b_frag[j][1] = to_tf32(b_tile[s][col][ks + member + 4]);
            }
            for (int i = 0; i < WARP_TILES_M; ++i)
                for (int j = 0; j < WARP_TILES_N; ++j) mma_tf32(acc[i][j], a_frag[i], b_frag[j]);
        }
    });

    // Accumulator fragment: element q is (row group + 8*(q/2), col 2*member + q%2).
    float* out = c + (long long)blockIdx.z * m * n;
    for (int i = 0; i < WARP_TILES_M; ++i)
        for (int j = 0; j < WARP_TILES_N; ++j)
            for (int q = 0; q < 4; ++q) {
                const int row = m0 + warp_m + i * MMA_M + group + q / 2 * 8;
                const int col = n0 + warp_n + j * MMA_N + 2 * member + q % 2;
                if (row < m && col < n)
                    out[(long long)row * n + col] = accumulate ? out[(long long)row * n + col] + acc[i][j][q]
                                                               : acc[i][j][q];
            }
}
