"""Float64 references for FID, IS and KID, written from the papers' definitions and kept apart from
minigan.metrics: other formulas (a non-symmetric eigenproblem, loops), the same random draws as
torch-fidelity (numpy.random.RandomState(2020))."""
import math

import numpy


def fid_reference(a, b):
    """|mu_a - mu_b|^2 + Tr(S_a) + Tr(S_b) - 2 Tr((S_a S_b)^(1/2)), the trace from the eigenvalues of
    the non-symmetric S_a S_b. When the side with fewer samples has no more than D, its covariance
    is Q M Q^T with Q an orthonormal basis of its n - 1 centered samples, and the nonzero
    eigenvalues of Q M Q^T S are those of M Q^T S Q: no eigenvalue that is 0 in exact arithmetic
    is computed, so none adds the square root of its rounding."""
    def covariance(x):
        centered = x - x.mean(axis=0)
        return sum(numpy.outer(row, row) for row in centered) / (len(x) - 1)
    few, many = (a, b) if len(a) <= len(b) else (b, a)
    if len(few) > a.shape[1]:
        basis = numpy.eye(a.shape[1])
    else:
        basis = numpy.linalg.qr((few - few.mean(axis=0)).T)[0][:, :len(few) - 1]
    product = (basis.T @ covariance(few) @ basis) @ (basis.T @ covariance(many) @ basis)
    roots = numpy.sqrt(numpy.clip(numpy.linalg.eigvals(product).real, 0, None))
    difference = a.mean(axis=0) - b.mean(axis=0)
    return difference @ difference + numpy.trace(covariance(a)) + numpy.trace(covariance(b)) - 2 * roots.sum()


def inception_score_reference(logits, splits=10, seed=2020):
    n = len(logits)
    rows = logits[numpy.random.RandomState(seed).permutation(n)].tolist()
    scores = []
    for i in range(splits):
        chunk = rows[i * n // splits:(i + 1) * n // splits]
        p = [[math.exp(v) / total for v in row] for row in chunk
             for total in [sum(math.exp(w) for w in row)]]
        marginal = [sum(column) / len(p) for column in zip(*p)]
        kl = [sum(pi * math.log(pi / qi) for pi, qi in zip(row, marginal)) for row in p]
        scores.append(math.exp(sum(kl) / len(kl)))
    mean = sum(scores) / splits
    return mean, math.sqrt(sum((s - mean) ** 2 for s in scores) / splits)


def kid_reference(a, b, subsets=100, subset_size=1000, seed=2020):
    def kernel(x, y):
        return (float(numpy.dot(x, y)) / len(x) + 1) ** 3
    rng, m, values = numpy.random.RandomState(seed), subset_size, []
    for _ in range(subsets):
        x, y = a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)]
        within = sum(kernel(x[i], x[j]) + kernel(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
        across = sum(kernel(x[i], y[j]) for i in range(m) for j in range(m))
        values.append(within / (m * (m - 1)) - 2 * across / (m * m))
    mean = sum(values) / subsets
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / subsets)
