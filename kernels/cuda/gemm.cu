// C (M, N) = op(A) @ op(B), row-major, a template for float and double: the exact GEMM.
//
// op(A) is A (stored (M, K)) or, with trans_a, the transpose of A stored
// (K, M); likewise op(B) is B (K, N) or, with trans_b, B stored (N, K). So a
// transposed view of a C-contiguous array needs no copy: the caller passes
// the array and sets the flag. All arrays are C-contiguous; the caller
// (kernels/gemm.py gemm) checks that M, N and K fit in an int and that the
// grid's y size (M tiles) fits in 65535. Offsets are long long.
//
// One block of 16x16 threads computes a 64x64 tile of C; thread (tx, ty)
// owns the 4x4 outputs at rows ty + 16*i and columns tx + 16*j (strided, so
// a warp's shared-memory reads of a B row are consecutive words and its
// stores to C are coalesced). K is walked in tiles of 16 staged in shared
// memory; elements outside M, N or K are staged as zeros.
//
// Exact and deterministic: each output is one thread's running sum, with one
// fused multiply-add in T per k, in ascending k, from zero. Zero-padded k
// steps add exactly zero, so the result depends only on the values, never
// on the tiling, the grid or the transpose flags.

#define GEMM_TILE_M 64
#define GEMM_TILE_N 64
#define GEMM_TILE_K 16
#define GEMM_THREADS_X 16  // blockDim is (GEMM_THREADS_X, GEMM_THREADS_Y)
#define GEMM_THREADS_Y 16
#define GEMM_THREAD_M (GEMM_TILE_M / GEMM_THREADS_Y)  // outputs per thread, down
#define GEMM_THREAD_N (GEMM_TILE_N / GEMM_THREADS_X)  // and across
#define GEMM_THREADS (GEMM_THREADS_X * GEMM_THREADS_Y)
// An odd row stride: the untransposed A load (and the transposed B load)
// writes down a column of its tile, which would hit one bank with stride 64.
#define GEMM_TILE_STRIDE_M (GEMM_TILE_M + 1)
#define GEMM_TILE_STRIDE_N (GEMM_TILE_N + 1)

__device__ __forceinline__ float fused_multiply_add(float a, float b, float c) { return fmaf(a, b, c); }
__device__ __forceinline__ double fused_multiply_add(double a, double b, double c) { return fma(a, b, c); }

// Element (row, col) of op(X) for X stored (rows, cols), or (cols, rows) when transposed; 0 outside.
template <typename T>
__device__ __forceinline__ T load_op(const T* __restrict__ x, int transposed, int row, int col,
                                     int rows, int cols) {
    if (row >= rows || col >= cols) return T(0);
    return transposed ? x[(long long)col * rows + row] : x[(long long)row * cols + col];
}

template <typename T>
__global__ void gemm(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ c,
                     int m, int n, int k, int trans_a, int trans_b) {
    __shared__ T a_tile[GEMM_TILE_K][GEMM_TILE_STRIDE_M];  // a_tile[kk][mm] = op(A)[m0 + mm][k0 + kk]
    __shared__ T b_tile[GEMM_TILE_K][GEMM_TILE_STRIDE_N];  // b_tile[kk][nn] = op(B)[k0 + kk][n0 + nn]
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int thread = ty * GEMM_THREADS_X + tx;
    const int m0 = blockIdx.y * GEMM_TILE_M, n0 = blockIdx.x * GEMM_TILE_N;
    T acc[GEMM_THREAD_M][GEMM_THREAD_N];
    for (int i = 0; i < GEMM_THREAD_M; ++i)
        for (int j = 0; j < GEMM_THREAD_N; ++j) acc[i][j] = T(0);

    for (int k0 = 0; k0 < k; k0 += GEMM_TILE_K) {
        // Consecutive threads read consecutive addresses of the stored array:
        // along k for A (M, K) and B (N, K), along m or n for A (K, M) and B (K, N).
        for (int e = thread; e < GEMM_TILE_M * GEMM_TILE_K; e += GEMM_THREADS) {
            const int mm = trans_a ? e % GEMM_TILE_M : e / GEMM_TILE_K;
            const int kk = trans_a ? e / GEMM_TILE_M : e % GEMM_TILE_K;
            a_tile[kk][mm] = load_op(a, trans_a, m0 + mm, k0 + kk, m, k);
        }
        for (int e = thread; e < GEMM_TILE_K * GEMM_TILE_N; e += GEMM_THREADS) {
            const int nn = trans_b ? e / GEMM_TILE_K : e % GEMM_TILE_N;
            const int kk = trans_b ? e % GEMM_TILE_K : e / GEMM_TILE_N;
            b_tile[kk][nn] = load_op(b, trans_b, k0 + kk, n0 + nn, k, n);
        }
        __syncthreads();
        for (int kk = 0; kk < GEMM_TILE_K; ++kk) {
            T a_values[GEMM_THREAD_M], b_values[GEMM_THREAD_N];
            for (int i = 0; i < GEMM_THREAD_M; ++i) a_values[i] = a_tile[kk][ty + i * GEMM_THREADS_Y];
            for (int j = 0; j < GEMM_THREAD_N; ++j) b_values[j] = b_tile[kk][tx + j * GEMM_THREADS_X];
            for (int i = 0; i < GEMM_THREAD_M; ++i)
                for (int j = 0; j < GEMM_THREAD_N; ++j)
                    acc[i][j] = fused_multiply_add(a_values[i], b_values[j], acc[i][j]);
        }
        __syncthreads();  // the tiles are overwritten next
    }

    for (int i = 0; i < GEMM_THREAD_M; ++i) {
        const int row = m0 + ty + i * GEMM_THREADS_Y;
        if (row >= m) break;
        for (int j = 0; j < GEMM_THREAD_N; ++j) {
            const int col = n0 + tx + j * GEMM_THREADS_X;
            if (col < n) c[(long long)row * n + col] = acc[i][j];
        }
    }
}
