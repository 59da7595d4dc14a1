// C (M, N) = op(A) @ op(B) on tensor cores in TF32, float32 only (sm_80 and newer).
//
// The operands, flags and layout of kernels/cuda/gemm.cu: op(A) is A stored
// (M, K) or, with trans_a, A stored (K, M); op(B) is B stored (K, N) or, with
// trans_b, B stored (N, K); all C-contiguous, sizes checked by kernels/gemm.py.
//
// Each input element is rounded to TF32 (10 mantissa bits, round to nearest,
// cvt.rna) as it is staged in shared memory; mma.sync m16n8k8 multiplies
// exactly and accumulates in float32. One block of 4 warps computes a 64x64
// tile of C, each warp a 32x32 quarter as 2x4 m16n8 tiles; K is walked in
// tiles of 16 (two k8 steps), elements outside M, N or K staged as zeros.
// Deterministic: the same mma sequence in the same order on every run.
//
// Inline PTX only, no <mma.h>: NVRTC (CuPy) then needs no CUDA headers.
// The CPU emulator (tests/support/cuda_emulator.py) has no PTX: it defines
// MINIGAN_CUDA_EMULATOR and stands in for the two instructions, as PTX's ISA
// documents them (the fragment layouts included), so the rest of the kernel
// is tested there; the instructions themselves only on a GPU.

#define GEMM_TF32_TILE_M 64
#define GEMM_TF32_TILE_N 64
#define GEMM_TF32_TILE_K 16
#define GEMM_TF32_THREADS 128  // 4 warps, 2x2 over the block tile; blockDim is (128, 1, 1)
#define GEMM_TF32_WARP_TILE 32
#define MMA_M 16
#define MMA_N 8
#define MMA_K 8
// Row stride of the shared tiles in words: a fragment read (rows group, k
// member, for 8 groups x 4 members) then touches 32 distinct banks.
#define GEMM_TF32_TILE_STRIDE (GEMM_TF32_TILE_K + 4)

// Element (row, col) of op(X) for X stored (rows, cols), or (cols, rows) when transposed; 0 outside.
__device__ __forceinline__ float load_op(const float* __restrict__ x, int transposed, int row, int col,
                                         int rows, int cols) {
    if (row >= rows || col >= cols) return 0.0f;
    return transposed ? x[(long long)col * rows + row] : x[(long long)row * cols + col];
}

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

#define WARP_TILES_M (GEMM_TF32_WARP_TILE / MMA_M)
#define WARP_TILES_N (GEMM_TF32_WARP_TILE / MMA_N)

extern "C" __global__ void gemm_tf32(const float* __restrict__ a, const float* __restrict__ b,
                                     float* __restrict__ c, int m, int n, int k,
                                     int trans_a, int trans_b) {
    __shared__ unsigned a_tile[GEMM_TF32_TILE_M][GEMM_TF32_TILE_STRIDE];  // [mm][kk]: tf32 op(A)[m0+mm][k0+kk]
    __shared__ unsigned b_tile[GEMM_TF32_TILE_N][GEMM_TF32_TILE_STRIDE];  // [nn][kk]: tf32 op(B)[k0+kk][n0+nn]
    const int thread = threadIdx.x, lane = thread % 32, warp = thread / 32;
    const int group = lane / 4, member = lane % 4;  // PTX's groupID and threadID_in_group
    const int warp_m = warp / 2 * GEMM_TF32_WARP_TILE, warp_n = warp % 2 * GEMM_TF32_WARP_TILE;
    const int m0 = blockIdx.y * GEMM_TF32_TILE_M, n0 = blockIdx.x * GEMM_TF32_TILE_N;
    float acc[WARP_TILES_M][WARP_TILES_N][4] = {};

    for (int k0 = 0; k0 < k; k0 += GEMM_TF32_TILE_K) {
        // Consecutive threads read consecutive addresses of the stored array.
        for (int e = thread; e < GEMM_TF32_TILE_M * GEMM_TF32_TILE_K; e += GEMM_TF32_THREADS) {
            const int mm = trans_a ? e % GEMM_TF32_TILE_M : e / GEMM_TF32_TILE_K;
            const int kk = trans_a ? e / GEMM_TF32_TILE_M : e % GEMM_TF32_TILE_K;
            a_tile[mm][kk] = to_tf32(load_op(a, trans_a, m0 + mm, k0 + kk, m, k));
        }
        for (int e = thread; e < GEMM_TF32_TILE_K * GEMM_TF32_TILE_N; e += GEMM_TF32_THREADS) {
            const int nn = trans_b ? e / GEMM_TF32_TILE_K : e % GEMM_TF32_TILE_N;
            const int kk = trans_b ? e % GEMM_TF32_TILE_K : e / GEMM_TF32_TILE_N;
            b_tile[nn][kk] = to_tf32(load_op(b, trans_b, k0 + kk, n0 + nn, k, n));
        }
        __syncthreads();
        for (int ks = 0; ks < GEMM_TF32_TILE_K; ks += MMA_K) {
            // A fragment: (row group, k member), (group+8, member), (group, member+4), (group+8, member+4).
            // B fragment: (k member, col group), (member+4, group).
            unsigned a_frag[WARP_TILES_M][4], b_frag[WARP_TILES_N][2];
            for (int i = 0; i < WARP_TILES_M; ++i) {
                const int row = warp_m + i * MMA_M + group;
                a_frag[i][0] = a_tile[row][ks + member];
                a_frag[i][1] = a_tile[row + 8][ks + member];
                a_frag[i][2] = a_tile[row][ks + member + 4];
                a_frag[i][3] = a_tile[row + 8][ks + member + 4];
            }
            for (int j = 0; j < WARP_TILES_N; ++j) {
                const int col = warp_n + j * MMA_N + group;
                b_frag[j][0] = b_tile[col][ks + member];
                b_frag[j][1] = b_tile[col][ks + member + 4];
            }
            for (int i = 0; i < WARP_TILES_M; ++i)
                for (int j = 0; j < WARP_TILES_N; ++j) mma_tf32(acc[i][j], a_frag[i], b_frag[j]);
        }
        __syncthreads();  // the tiles are overwritten next
    }

    // Accumulator fragment: element q is (row group + 8*(q/2), col 2*member + q%2).
    for (int i = 0; i < WARP_TILES_M; ++i)
        for (int j = 0; j < WARP_TILES_N; ++j)
            for (int q = 0; q < 4; ++q) {
                const int row = m0 + warp_m + i * MMA_M + group + q / 2 * 8;
                const int col = n0 + warp_n + j * MMA_N + 2 * member + q % 2;
                if (row < m && col < n) c[(long long)row * n + col] = acc[i][j][q];
            }
}
