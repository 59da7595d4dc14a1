// Embedding backward: each weight row sums the gradient rows of the positions that index it,
// without atomics, in position order (the order of kernels/embedding.py's CPU kernels).
//
// The positions come sorted by (index, position): `sorted` holds their indices, `order` the
// positions, n of them. One thread per (sorted position k, column d); the thread at the first
// k of each index v sums grad[order[j], d] over v's run of j, starting from 0, and writes
// grad_weight[v, d]; the others do nothing. Rows never indexed, and row padding_idx (-1 for
// none), are left as the caller zeroed them.

template <typename T>
__global__ void embedding_backward(const T* __restrict__ grad, const long long* __restrict__ order,
                                   const long long* __restrict__ sorted, T* __restrict__ grad_weight,
                                   long long n, long long dim, long long padding_idx) {
    const long long size = n * dim;
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < size; t += step) {
        const long long k = t / dim, d = t % dim;
        const long long v = sorted[k];
        if ((k > 0 && sorted[k - 1] == v) || v == padding_idx) continue;
        T total = T(0);
        for (long long j = k; j < n && sorted[j] == v; ++j) total += grad[order[j] * dim + d];
        grad_weight[v * dim + d] = total;
    }
}
