// The exact GEMM, templates for float and double: C (M, N) = op(A) @ op(B),
// row-major, and its two helpers, the split-K sum and the GEMV.
//
// op(A) is A (stored (M, K)) or, with trans_a, the transpose of A stored
// (K, M); likewise op(B) is B (K, N) or, with trans_b, B stored (N, K). So a
// transposed view of a C-contiguous array needs no copy: the caller passes
// the array and sets the flag. All arrays are C-contiguous; the caller
// (kernels/gemm.py gemm) checks that M, N and K fit in an int and that the
// grid's y size (M tiles) fits in 65535. Offsets are long long.
//
// gemm: one block of 16x16 threads computes a 64x64 tile of C; thread
// (tx, ty) owns the 4x4 outputs at rows 4*ty + i and columns 4*tx + j, so
// each k step reads its 4 A values and 4 B values from shared memory as two
// vector loads (float4, or two double2) for 16 fused multiply-adds. K is
// walked in tiles of 16, double-buffered: the copy of tile t+1 from global
// to shared memory is issued before tile t is multiplied. On sm_80 and newer
// the copy is cp.async (the threads go on while it lands); on older GPUs,
// and in the CPU emulator (tests/support/cuda_emulator.py, which has no PTX),
// it is a plain load and store into the same buffer, in the same order: the
// same algorithm, so the emulator tests the buffer schedule.
//
// Split-K: blockIdx.z is a slice of K, k in [z * k_slice, min(K, (z+1) *
// k_slice)), k_slice a multiple of 16; with one slice the block writes C,
// with several it writes the slice's partial product to c + z * M * N, and
// gemm_sum_slices then adds the slices in ascending z. Elements outside M,
// N or the slice are staged as zeros.
//
// accumulate (all three kernels; gemm only with one slice): C's old value plus
// the product, old + sum, in place of the product: a weight gradient added into
// the one already there with no launch of its own.
//
// Deterministic: each output (or partial) is one thread's running sum, one
// fused multiply-add in T per k, in ascending k, from zero; the slices are
// added in a fixed order. The result depends on the values and the slice
// count (a function of the shape only, kernels/gemm.py), never on the tiling,
// the grid, the GPU or the transpose flags.
#define GEMM_TILE_M 64
#define GEMM_TILE_N 64
#define GEMM_TILE_K 16
#define GEMM_THREADS_X 16  // blockDim is (GEMM_THREADS_X, GEMM_THREADS_Y)
#define GEMM_THREADS_Y 16
#define GEMM_THREAD_M (GEMM_TILE_M / GEMM_THREADS_Y)  // outputs per thread, down (4)
#define GEMM_THREAD_N (GEMM_TILE_N / GEMM_THREADS_X)  // and across (4)
#define GEMM_THREADS (GEMM_THREADS_X * GEMM_THREADS_Y)
// Rows of the shared tiles padded by 4 elements: 16-byte aligned for the
// vector loads, and a column of the tile (written by the loads that walk k)
// spreads over 8 banks instead of one.
#define GEMM_TILE_STRIDE_M (GEMM_TILE_M + 4)
#define GEMM_TILE_STRIDE_N (GEMM_TILE_N + 4)
#define GEMV_THREADS 256  // blockDim.x * blockDim.y of gemv
#include "async_copy.cuh"

__device__ __forceinline__ float fused_multiply_add(float a, float b, float c) { return fmaf(a, b, c); }
__device__ __forceinline__ double fused_multiply_add(double a, double b, double c) { return fma(a, b, c); }

// The 4 consecutive elements at p (16-byte aligned) as vector loads.
__device__ __forceinline__ void load4(const float* p, float (&v)[4]) {
    const float4 q = *reinterpret_cast<const float4*>(p);
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
}
__device__ __forceinline__ void load4(const double* p, double (&v)[4]) {
    const double2 q = reinterpret_cast<const double2*>(p)[0], r = reinterpret_cast<const double2*>(p)[1];
    v[0] = q.x, v[1] = q.y, v[2] = r.x, v[3] = r.y;
}

template <typename T>
__global__ void gemm(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ c,
                     int m, int n, int k, int trans_a, int trans_b, int k_slice, int accumulate) {
    // a_tile[s][kk][mm] = op(A)[m0 + mm][k0 + kk], b_tile[s][kk][nn] = op(B)[k0 + kk][n0 + nn]
    __shared__ __align__(16) T a_tile[2][GEMM_TILE_K][GEMM_TILE_STRIDE_M];
    __shared__ __align__(16) T b_tile[2][GEMM_TILE_K][GEMM_TILE_STRIDE_N];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int thread = ty * GEMM_THREADS_X + tx;
    const int m0 = blockIdx.y * GEMM_TILE_M, n0 = blockIdx.x * GEMM_TILE_N;
    const int k_begin = blockIdx.z * k_slice;
    const int k_end = min(k, k_begin + k_slice);
    const int tiles = k_end > k_begin ? (k_end - k_begin + GEMM_TILE_K - 1) / GEMM_TILE_K : 0;

    // Tile k0 into buffer s: op(A) (M, K) and op(B) (K, N), stored k-major in shared memory.
    auto stage = [&](int s, int k0) {
        stage_tile<GEMM_TILE_M, GEMM_TILE_K, GEMM_THREADS>(&a_tile[s][0][0], 1, GEMM_TILE_STRIDE_M, a, trans_a,
                                                            m, k, m0, k0, m, k_end, thread);
        stage_tile<GEMM_TILE_K, GEMM_TILE_N, GEMM_THREADS>(&b_tile[s][0][0], GEMM_TILE_STRIDE_N, 1, b, trans_b,
                                                            k, n, k0, n0, k_end, n, thread);
        async_commit();
    };

    T acc[GEMM_THREAD_M][GEMM_THREAD_N];
    for (int i = 0; i < GEMM_THREAD_M; ++i)
        for (int j = 0; j < GEMM_THREAD_N; ++j) acc[i][j] = T(0);

    double_buffered_k(tiles, k_begin, GEMM_TILE_K, stage, [&](int s) {
        for (int kk = 0; kk < GEMM_TILE_K; ++kk) {
            T a_values[GEMM_THREAD_M], b_values[GEMM_THREAD_N];
            load4(&a_tile[s][kk][ty * GEMM_THREAD_M], a_values);
            load4(&b_tile[s][kk][tx * GEMM_THREAD_N], b_values);
            for (int i = 0; i < GEMM_THREAD_M; ++i)
                for (int j = 0; j < GEMM_THREAD_N; ++j)
                    acc[i][j] = fused_multiply_add(a_values[i], b_values[j], acc[i][j]);
        }
    });

    T* out = c + (long long)blockIdx.z * m * n;
    for (int i = 0; i < GEMM_THREAD_M; ++i) {
        const int row = m0 + ty * GEMM_THREAD_M + i;
        if (row >= m) break;
        for (int j = 0; j < GEMM_THREAD_N; ++j) {
            const int col = n0 + tx * GEMM_THREAD_N + j;
            if (col < n) out[(long long)row * n + col] = accumulate ? out[(long long)row * n + col] + acc[i][j]
                                                                    : acc[i][j];
        }
    }
}

// c[e] = sum over z ascending of partial[z * size + e], from zero (then added to c[e] with
// accumulate): split-K's second pass.
template <typename T>
__global__ void gemm_sum_slices(const T* __restrict__ partial, T* __restrict__ c, int slices, long long size,
                                int accumulate) {
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < size; e += step) {
        T sum = T(0);
        for (int z = 0; z < slices; ++z) sum += partial[z * size + e];
        c[e] = accumulate ? c[e] + sum : sum;
    }
}

// The GEMV: c[i] = sum_k vector[k] * matrix[k * stride_k + i * stride_i] for i < length,
// the product when M or N is 1 (the vector is then op(A)'s one row or op(B)'s one column,
// contiguous either way). Block (blockDim.x outputs, blockDim.y lanes, GEMV_THREADS in all,
// blockDim.y a power of two): lane y sums k = y, y + lanes, ... in ascending order with
// fused multiply-adds, then the lanes' sums are added in a fixed tree. Deterministic.
// kernels/gemm.py gives many lanes when stride_k is 1 (a lane's neighbours read its
// neighbouring k) and few when stride_i is 1 (neighbouring outputs then read together).
template <typename T>
__global__ void gemv(const T* __restrict__ vector, const T* __restrict__ matrix, T* __restrict__ c,
                     int length, int k, long long stride_k, long long stride_i, int accumulate) {
    __shared__ T partial[GEMV_THREADS];
    const int x = threadIdx.x, y = threadIdx.y, outputs = blockDim.x, lanes = blockDim.y;
    const int i = blockIdx.x * outputs + x;
    T sum = T(0);
    if (i < length)
        for (int kk = y; kk < k; kk += lanes)
            sum = fused_multiply_add(vector[kk], matrix[kk * stride_k + i * stride_i], sum);
    partial[y * outputs + x] = sum;
    __syncthreads();
    for (int half = lanes / 2; half > 0; half /= 2) {
        if (y < half) partial[y * outputs + x] += partial[(y + half) * outputs + x];
        __syncthreads();
    }
    if (y == 0 && i < length) c[i] = accumulate ? c[i] + partial[x] : partial[x];
}
